"""Adapt a trained model to a new site (clinic, device, annotator) from a few labelled images.

Per-landmark offset calibration: the unadapted model predicts the site's labelled images
(the config's test pipeline, the dataset's bbox: what `mim test` runs); each landmark's
median residual (ground truth - prediction) becomes a per-landmark offset that the
adapted checkpoint's model adds to every prediction -- `mim test`, tools/infer.py,
MMPoseInferencer and inference_topdown all apply it with no extra flag (it is the
`site_offsets` buffer of the state dict; the model type must be CephalometricEstimator or
LandmarkCascade). The median: one badly labelled image cannot move it.

Offsets are stored as fractions of the top-down crop (the ROI), so no pixel spacing is
needed and they follow any image size of the site; with spacing in the annotation file
they are also reported in mm. The checkpoint records what it was adapted on
(meta.site_adaptation: images, date, file name and SHA-256, offsets); infer.py's JSON
repeats it as `site_adaptation`. Adapting an adapted checkpoint replaces its offsets.

Self-check: each image is also scored with offsets estimated on the others
(leave-one-out); the tool prints the mean radial error unadapted and adapted and warns
when calibration does not pay on this site (README "Adapting to a new site": with 3-5
images of a site annotated like the training set, it costs ~0.1-0.3 mm).

Refused with nothing written (exit 2, one line): an annotation file that does not
validate, other landmark names or number, a landmark labelled on fewer than 3 of the
images used, --images below 3 or above the file's count, --out equal to CHECKPOINT.

Examples:
    python tools/adapt.py CONFIG work_dirs/isbi/best_MRE.pth \\
        --ann data/site/annotations/site.json --images 10 --out work_dirs/isbi/site.pth
    mim run mmceph adapt CONFIG CKPT --ann NEW_SITE.json --out ADAPTED.pth
"""
import argparse
import json
import os.path as osp
import sys

from mmengine.config import Config, DictAction


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='model config')
    p.add_argument('checkpoint', help='trained checkpoint (e.g. best_MRE.pth)')
    p.add_argument('--ann', required=True, help='labelled images of the new site: COCO JSON '
                   'as the converters write it')
    p.add_argument('--out', required=True, help='adapted checkpoint to write')
    p.add_argument('--images', type=int, metavar='N', help='use N of the file\'s images, '
                   'drawn at random with --seed (default: all)')
    p.add_argument('--seed', type=int, default=0, help='seed of the --images draw')
    p.add_argument('--data-root', help='folder the file names are relative to (default: the '
                   'folder above annotations/, else the JSON\'s folder)')
    p.add_argument('--img-prefix', help='sub-folder of the data root that the file names '
                   'are relative to (default: the config test set\'s, e.g. raw/)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                   help='override config entries')
    p.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N')
    p.add_argument('--debug', action='store_true', help='show tracebacks of errors')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import mmceph.registration  # noqa: F401
    from mmceph.apis.adaptation import adapt_checkpoint
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'{args.config}: config not found')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    record = adapt_checkpoint(cfg, args.checkpoint, args.ann, args.out, images=args.images,
                              seed=args.seed, data_root=args.data_root,
                              img_prefix=args.img_prefix, device=args.device)
    print(f'adapted on {record["images"]} image(s) of {record["ann_file"]} '
          f'({record["method"]}); wrote {args.out}')
    table = record['offsets_mm'] or record['offsets']
    unit = 'mm' if record['offsets_mm'] else 'fraction of the crop'
    print(f'per-landmark offsets (dx, dy) in {unit}:')
    for name, (dx, dy) in table.items():
        print(f'  {name:24s} {dx:+8.3f} {dy:+8.3f}')
    check = record['leave_one_out']
    if check:
        u = check['unit']
        print('leave-one-out check on these images: mean radial error '
              f'{check["mre_unadapted"]:.3f} {u} unadapted -> '
              f'{check["mre_adapted"]:.3f} {u} adapted ({check["change"]:+.3f} {u})')
        if check['change'] > 0:
            print('warning: on these images calibration does not pay (the site\'s landmarks '
                  'seem to match the training annotation, or the images are too few to '
                  'estimate the offsets); consider keeping the unadapted checkpoint',
                  file=sys.stderr)
    print(json.dumps(dict(site_adaptation=dict(
        (k, record[k]) for k in ('images', 'date', 'ann_file', 'ann_sha256', 'method')))))
    return 0


if __name__ == '__main__':
    from mmceph.utils.cli import guarded_main
    sys.exit(guarded_main(main))
