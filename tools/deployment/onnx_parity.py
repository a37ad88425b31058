"""Landmarks of the ONNX runtime vs the PyTorch pipeline, image by image, and their speed.

    python tools/deployment/onnx_parity.py CONFIG CHECKPOINT EXPORT_DIR IMAGES... \
        [--threads 2] [--json OUT.json]

IMAGES: image files, or folders (their readable images). For every image both predictors
read the file with the same reader and predict the landmarks (no quality-gate passes: the
orientation check would only repeat the same comparison on turned images); prints the max
and mean |difference| in pixels over every landmark and the seconds per image of each
(torch and ONNX Runtime both limited to --threads threads). The last line is the verdict:
``PASS: max 0.0123 px (image 162.jpg, landmark 10 gonion) <= tolerance 0.05 px over 150
images`` (exit status 0) or ``FAIL: ... > tolerance ...`` (exit status 1), so a script
reading only that line tells the two apart.
"""
import argparse
import json
import sys

from mmceph.apis.onnx_parity import compare, list_images, summary, verdict


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('export_dir')
    p.add_argument('images', nargs='+')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--tolerance', type=float, default=0.05, help='px (default: %(default)s)')
    p.add_argument('--limit', type=int, help='only the first N images')
    p.add_argument('--json', help='write the per-image differences and timings here')
    p.add_argument('--debug', action='store_true')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    images = list_images(args.images)[:args.limit]
    if not images:
        from mmceph.utils.cli import UsageError
        raise UsageError(f'no readable images in {" ".join(args.images)}')
    rows = compare(args.config, args.checkpoint, args.export_dir, images, args.threads)
    s = summary(rows)
    print(f"{s['images']} images: landmark difference ONNX vs PyTorch max {s['max_px']:.5f} px, "
          f"mean {s['mean_px']:.6f} px (score max {s['max_score_diff']:.2e}); "
          f"s/image with {args.threads} threads: PyTorch {s['torch_s_per_image']:.3f} "
          f"(median {s['torch_s_median']:.3f}), ONNX Runtime {s['onnx_s_per_image']:.3f} "
          f"(median {s['onnx_s_median']:.3f})")
    if args.json:
        from mmceph.utils.atomic import write_atomic
        write_atomic(args.json, json.dumps(dict(summary=s, images=rows), indent=1))
    passed, line = verdict(s, args.tolerance)
    print(line)
    return 0 if passed else 1


if __name__ == '__main__':
    from mmceph.utils.cli import guarded_main
    sys.exit(guarded_main(main))
