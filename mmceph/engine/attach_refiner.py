"""Attach trained local refiners to any global model's checkpoint
(``tools/analysis_tools/attach_refiner.py``).

A ``LandmarkCascade`` refiner trained with ``freeze_coarse=True`` learned from patches
around the ground truth, never from the global model's output, so one refiner serves any
global model. With several cascade checkpoints (each with one refiner), refiner ``i``
becomes ``refiner.i.*``: an ensemble for a config with ``refiner=[...]`` in the same order.
The output's ``meta.attached`` names the sources, so the training budget of every run that
went into it can be added up (:func:`mmceph.engine.run_logs.training_time`).
"""
import io
from collections import OrderedDict

import torch

from . import safe_checkpoint  # noqa: F401  (the allow-list, before any checkpoint loads)
from .atomic_backend import AtomicLocalBackend


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


def save_checkpoint(ckpt: dict, path: str) -> None:
    """``torch.save`` to ``path`` all or nothing (no half-written checkpoint)."""
    buffer = io.BytesIO()
    torch.save(ckpt, buffer)
    AtomicLocalBackend().put(buffer.getvalue(), path)
