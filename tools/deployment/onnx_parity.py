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
import os
import os.path as osp
import sys
import time


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


def list_images(paths):
    from mmceph.apis.image_io import READABLE_EXTENSIONS
    out = []
    for path in paths:
        if osp.isdir(path):
            out += sorted(osp.join(path, f) for f in os.listdir(path)
                          if f.lower().endswith(READABLE_EXTENSIONS))
        else:
            out.append(path)
    return out


def compare(config, checkpoint, export_dir, images, threads=2):
    """Per image: max |difference| (px) over the landmarks, and the seconds of each."""
    import numpy as np
    import torch

    from mmceph.apis.image_io import read_image
    from mmceph.apis.inference import LandmarkPredictor
    from mmceph.runtime import OnnxLandmarkPredictor
    torch.set_num_threads(threads)
    reference = LandmarkPredictor(config, checkpoint, check_orientation=False)
    runtime = OnnxLandmarkPredictor(export_dir, threads=threads, check_orientation=False)
    assert runtime.names == reference.names, 'the export is of another model'
    rows = []
    for path in images:
        pixels = read_image(path).pixels
        bbox = reference.roi_bbox(pixels.shape[1], pixels.shape[0])
        times = []
        for predictor in (reference, runtime):
            start = time.perf_counter()
            kpts, scores = predictor._landmarks(pixels, bbox)
            times.append(time.perf_counter() - start)
            if predictor is reference:
                ref_kpts, ref_scores = kpts, scores
        diff = np.linalg.norm(np.asarray(kpts) - np.asarray(ref_kpts), axis=1)
        worst = int(diff.argmax())
        rows.append(dict(image=osp.basename(path), max_px=float(diff.max()),
                         mean_px=float(diff.mean()), worst_landmark=worst + 1,   # 1-based
                         worst_landmark_name=reference.names[worst],
                         max_score_diff=float(np.abs(np.asarray(scores) - ref_scores).max()),
                         torch_s=times[0], onnx_s=times[1]))
    return rows


def summary(rows):
    import numpy as np
    n = len(rows)
    worst = max(rows, key=lambda r: r['max_px'])
    # the first image of each includes one-off warm-up: report the median as well
    return dict(images=n, max_px=worst['max_px'], worst_image=worst['image'],
                worst_landmark=worst['worst_landmark'],
                worst_landmark_name=worst['worst_landmark_name'],
                mean_px=float(np.mean([r['mean_px'] for r in rows])),
                max_score_diff=max(r['max_score_diff'] for r in rows),
                torch_s_per_image=float(np.mean([r['torch_s'] for r in rows])),
                onnx_s_per_image=float(np.mean([r['onnx_s'] for r in rows])),
                torch_s_median=float(np.median([r['torch_s'] for r in rows])),
                onnx_s_median=float(np.median([r['onnx_s'] for r in rows])))


def verdict(s, tolerance):
    """(passed, the one line that says so, where the worst landmark was, and the bound)."""
    passed = s['max_px'] <= tolerance
    return passed, (f"{'PASS' if passed else 'FAIL'}: max {s['max_px']:.4f} px (image "
                    f"{s['worst_image']}, landmark {s['worst_landmark']} "
                    f"{s['worst_landmark_name']}) {'<=' if passed else '>'} tolerance "
                    f"{tolerance:g} px over {s['images']} images")


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
