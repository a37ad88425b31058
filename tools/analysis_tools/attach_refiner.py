"""Attach trained local refiners to any global model's checkpoint.

A ``LandmarkCascade`` refiner trained with ``freeze_coarse=True`` learned from patches
around the ground truth, never from the global model's output, so one refiner serves any
global model: this writes GLOBAL's checkpoint (weights, dataset_meta with the ROI prior)
plus CASCADE's ``refiner.*`` weights to OUT, for a cascade config whose global part is
GLOBAL's model (e.g. configs/isbi2015/td-vote-cascade_*.py for patch voting + refiner).
With several CASCADE checkpoints (each with one refiner), refiner ``i`` becomes
``refiner.i.*``: an ensemble for a config with ``refiner=[...]`` in the same order
(e.g. configs/isbi2015/td-hm_s2d-hrnetv2-w18-cascade2_*.py). OUT's ``meta.attached``
names the sources (``global``, ``refiners``), so compare_methods.py can add up the
training time of every run that went into OUT.

    python tools/analysis_tools/attach_refiner.py GLOBAL.pth CASCADE.pth [CASCADE2.pth ...] OUT.pth
"""
import argparse
import io
import os.path as osp
import sys
from collections import OrderedDict

import torch

import mmceph  # noqa: F401  (safe checkpoint loading, atomic_local backend)
from mmceph.engine.atomic_backend import AtomicLocalBackend


def attach(global_ckpt, *cascade_ckpts):
    """Return GLOBAL's checkpoint dict with the CASCADEs' refiner weights added."""
    base = _load(global_ckpt)
    ensemble = len(cascade_ckpts) > 1
    state = OrderedDict((k, v) for k, v in base['state_dict'].items()
                        if not k.startswith('refiner.'))
    for i, path in enumerate(cascade_ckpts):
        donor = _load(path)['state_dict']
        refiner = {k: v for k, v in donor.items() if k.startswith('refiner.')}
        if not refiner:
            raise ValueError(f'{path}: has no refiner.* weights (not a LandmarkCascade checkpoint)')
        if ensemble and any(k.split('.')[1].isdigit() for k in refiner):
            raise ValueError(f'{path}: holds an ensemble already; '
                             'attach single-refiner checkpoints')
        prefix = f'refiner.{i}' if ensemble else 'refiner'
        state.update((prefix + k[len('refiner'):], v) for k, v in refiner.items())
    out = {k: v for k, v in base.items() if k in ('meta', 'state_dict')}
    out['state_dict'] = state
    out['meta'] = dict(out.get('meta') or {},
                       attached=dict(global_model=global_ckpt, refiners=list(cascade_ckpts)))
    return out, sum(k.startswith('refiner.') for k in state)


def _load(path):
    ckpt = torch.load(path, map_location='cpu')
    if not isinstance(ckpt, dict) or 'state_dict' not in ckpt:
        raise ValueError(f'{path}: not an MMEngine checkpoint (no state_dict)')
    return ckpt


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
    buffer = io.BytesIO()
    torch.save(ckpt, buffer)
    AtomicLocalBackend().put(buffer.getvalue(), args.out)
    print(f'{args.out}: global model from {args.global_checkpoint} + {n} refiner tensors '
          f"from {', '.join(args.cascade_checkpoints)}")


if __name__ == '__main__':
    main()
