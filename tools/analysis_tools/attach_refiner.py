"""Attach a trained local refiner to any global model's checkpoint.

A ``LandmarkCascade`` refiner trained with ``freeze_coarse=True`` learned from patches
around the ground truth, never from the global model's output, so one refiner serves any
global model: this writes GLOBAL's checkpoint (weights, dataset_meta with the ROI prior)
plus CASCADE's ``refiner.*`` weights to OUT, for a cascade config whose global part is
GLOBAL's model (e.g. configs/isbi2015/td-vote-cascade_*.py for patch voting + refiner).

    python tools/analysis_tools/attach_refiner.py GLOBAL.pth CASCADE.pth OUT.pth
"""
import argparse
import io
import sys
from collections import OrderedDict

import torch

import mmceph  # noqa: F401  (safe checkpoint loading, atomic_local backend)
from mmceph.engine.atomic_backend import AtomicLocalBackend


def attach(global_ckpt, cascade_ckpt):
    """Return GLOBAL's checkpoint dict with CASCADE's refiner weights added."""
    base = torch.load(global_ckpt, map_location='cpu')
    donor = torch.load(cascade_ckpt, map_location='cpu')
    for path, ckpt in ((global_ckpt, base), (cascade_ckpt, donor)):
        if not isinstance(ckpt, dict) or 'state_dict' not in ckpt:
            raise ValueError(f'{path}: not an MMEngine checkpoint (no state_dict)')
    refiner = {k: v for k, v in donor['state_dict'].items() if k.startswith('refiner.')}
    if not refiner:
        raise ValueError(f'{cascade_ckpt}: has no refiner.* weights (not a LandmarkCascade checkpoint)')
    state = OrderedDict((k, v) for k, v in base['state_dict'].items()
                        if not k.startswith('refiner.'))
    state.update(refiner)
    # Keep each module's state-dict version: without it MMPose's heads take the weights
    # for an old layout and rename them on load (silently wrong refiner heads).
    versions = OrderedDict((k, v) for k, v in getattr(base['state_dict'], '_metadata', {}).items()
                           if not k.startswith('refiner'))
    versions.update((k, v) for k, v in getattr(donor['state_dict'], '_metadata', {}).items()
                    if k.startswith('refiner'))
    state._metadata = versions
    out = {k: v for k, v in base.items() if k in ('meta', 'state_dict')}
    out['state_dict'] = state
    return out, len(refiner)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('global_checkpoint', help='checkpoint of the global model (e.g. best_MRE.pth)')
    p.add_argument('cascade_checkpoint', help='checkpoint of a trained LandmarkCascade')
    p.add_argument('out', help='where to write the combined checkpoint (written atomically)')
    args = p.parse_args(argv)
    try:
        ckpt, n = attach(args.global_checkpoint, args.cascade_checkpoint)
    except (OSError, ValueError) as err:
        sys.exit(f'error: {err}')
    buffer = io.BytesIO()
    torch.save(ckpt, buffer)
    AtomicLocalBackend().put(buffer.getvalue(), args.out)
    print(f'{args.out}: global model from {args.global_checkpoint} + {n} refiner tensors '
          f'from {args.cascade_checkpoint}')


if __name__ == '__main__':
    main()
