"""Attach trained local refiners to any global model's checkpoint.

A ``LandmarkCascade`` refiner trained with ``freeze_coarse=True`` learned from patches
around the ground truth, never from the global model's output, so one refiner serves any
global model: this writes GLOBAL's checkpoint (weights, dataset_meta with the ROI prior)
plus CASCADE's ``refiner.*`` weights to OUT, for a cascade config whose global part is
GLOBAL's model (e.g. configs/isbi2015/td-vote-cascade_*.py for patch voting + refiner).
With several CASCADE checkpoints (each with one refiner), refiner ``i`` becomes
``refiner.i.*``: an ensemble for a config with ``refiner=[...]`` in the same order
(e.g. configs/isbi2015/td-hm-cascade_s2d-hrnetv2-w18-ref-s2d-hrnetv2-small-x2_*.py).
OUT's ``meta.attached`` names the sources (``global``, ``refiners``), so
compare_methods.py can add up the training time of every run that went into OUT.

    python tools/analysis_tools/attach_refiner.py GLOBAL.pth CASCADE.pth [CASCADE2.pth ...] OUT.pth
"""
import argparse
import os.path as osp
import sys

from mmceph.engine.attach_refiner import attach, save_checkpoint


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('global_checkpoint', help='checkpoint of the global model (e.g. best_MRE.pth)')
    p.add_argument('cascade_checkpoints', nargs='+', metavar='cascade_checkpoint',
                   help='checkpoint(s) of trained LandmarkCascades; several make an ensemble')
    p.add_argument('out', help='where to write the combined checkpoint (written atomically)')
    args = p.parse_args(argv)
    if any(osp.abspath(args.out) == osp.abspath(c)
           for c in (args.global_checkpoint, *args.cascade_checkpoints)):
        sys.exit(f'error: {args.out}: OUT must not overwrite an input checkpoint')
    try:
        ckpt, n = attach(args.global_checkpoint, *args.cascade_checkpoints)
    except (OSError, ValueError) as err:
        sys.exit(f'error: {err}')
    save_checkpoint(ckpt, args.out)
    print(f'{args.out}: global model from {args.global_checkpoint} + {n} refiner tensors '
          f"from {', '.join(args.cascade_checkpoints)}")


if __name__ == '__main__':
    main()
