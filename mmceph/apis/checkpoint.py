"""Load a checkpoint into a model only when it fits: never predict with half a model.

MMEngine's ``load_checkpoint`` (and so MMPose's ``init_model``) loads non-strictly: a
checkpoint of another model, of another number of landmarks or a random state dict
loads with a warning in a log, and the missing weights keep their random
initialisation -- a model that predicts, with exit status 0, landmarks it never learned.
:func:`load_fitting_checkpoint` refuses all of that with one :class:`CheckpointError`
naming the file and what does not fit.
"""
import os
import os.path as osp
import re
import zipfile

import torch
from mmengine.runner.checkpoint import _load_checkpoint

from ..engine import safe_checkpoint  # noqa: F401  (the allow-list, before any checkpoint loads)
from ..utils.errors import UserError


class CheckpointError(UserError):
    """A checkpoint that cannot be used with the model at hand; the message names it."""


def check_checkpoint_file(path: str) -> None:
    """Cheap checks before anything heavy loads: the file exists, is readable, is not
    empty and looks like a PyTorch file (a zip archive or a pickle)."""
    if not osp.isfile(path):
        raise CheckpointError(f'{path}: checkpoint not found')
    if not os.access(path, os.R_OK):
        raise CheckpointError(f'{path}: checkpoint not readable (permissions)')
    if osp.getsize(path) == 0:
        raise CheckpointError(f'{path}: the checkpoint file is empty')
    with open(path, 'rb') as f:
        head = f.read(2)
    if not (zipfile.is_zipfile(path) or head[:1] == b'\x80'):
        raise CheckpointError(f'{path}: not a PyTorch checkpoint (neither a zip archive nor '
                              'a pickle)')


def load_fitting_checkpoint(model: torch.nn.Module, path: str, num_keypoints: int) -> dict:
    """Load ``path`` into ``model`` strictly; return the checkpoint's ``meta``.

    Refused, with a message that names what does not fit: a file torch cannot read, a
    checkpoint without a state dict, another number of landmarks, weights the model does
    not have, weights the model needs that the checkpoint lacks, weights of another shape.
    """
    check_checkpoint_file(path)
    try:
        ckpt = _load_checkpoint(path, map_location='cpu')
    except Exception as err:  # blind except: torch raises many types for a bad file
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise CheckpointError(f'{path}: cannot be loaded as a PyTorch checkpoint ({first})') \
            from None
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not state or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f'{path}: holds no state dict of weights')
    meta = ckpt.get('meta') or {}
    trained_for = (meta.get('dataset_meta') or {}).get('num_keypoints')
    if trained_for is not None and trained_for != num_keypoints:
        raise CheckpointError(f'{path}: trained for {trained_for} landmarks, but the config '
                              f'describes {num_keypoints}')
    metadata = getattr(state, '_metadata', None)
    state = type(state)((re.sub(r'^module\.', '', k), v) for k, v in state.items())
    if metadata is not None:
        state._metadata = type(metadata)((re.sub(r'^module\.', '', k), v)
                                         for k, v in metadata.items())
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as err:      # torch reports every shape mismatch at once
        shapes = re.findall(r'size mismatch for ([^:]+): copying a param with shape '
                            r'(torch\.Size\(\[[^\]]*\]\)) from checkpoint, the shape in current '
                            r'model is (torch\.Size\(\[[^\]]*\]\))', str(err))
        detail = '; '.join(f'{k}: {a} in the checkpoint, {b} in the model'
                           for k, a, b in shapes[:3]) or str(err).splitlines()[0][:200]
        raise CheckpointError(f'{path}: does not fit the config: {len(shapes) or "some"} '
                              f'weight(s) of another shape ({detail})') from None
    problems = []
    for what, keys in (('missing from the checkpoint', result.missing_keys),
                       ('not in the model', result.unexpected_keys)):
        if keys:
            problems.append(f'{len(keys)} weight(s) {what} (e.g. {", ".join(keys[:3])})')
    if problems:
        raise CheckpointError(f'{path}: does not fit the config: ' + '; '.join(problems))
    return meta
