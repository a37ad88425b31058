"""Put a trained LandmarkCascade refiner on top of another trained global model.

Why this is sound: with ``freeze_coarse=True`` (mmceph's recipes) a refiner learns only
from patches around the ground truth (``SampleRefinerPatches``); it never sees the global
model's predictions. So a refiner trained once serves any global model of the same
landmarks and crop (ROI prior, input size): pairing it with a better or cheaper global
model costs no training. The composed checkpoint is what stage 2's training would have
produced, minus the refiner's checkpoint selection (stage 2 picks its best epoch by the
MRE of the cascade it was trained in).

Weights: everything but ``refiner.*`` from --global (a global or a cascade checkpoint),
every ``refiner.*`` from --refiner (a cascade checkpoint); both must fit CONFIG's model
exactly (a LandmarkCascade config, e.g. the ``-cascade`` configs). The result records
both sources (path and SHA-256) in ``meta.composed_from``; --out is written atomically
and never equal to an input. Errors: one line, exit 2.

Example:
    python tools/compose_cascade.py \\
        configs/isbi2015/td-hm_lite0-fpn-cascade_1xb4-30e_isbi2015-576x448.py \\
        --global work_dirs/isbi_lite0-fpn/best_MRE.pth \\
        --refiner work_dirs/isbi_s2d48-cascade/best_MRE.pth \\
        --out work_dirs/isbi_lite0-cascade/composed.pth
    mim test mmceph CONFIG --checkpoint work_dirs/isbi_lite0-cascade/composed.pth
"""
import argparse
import hashlib
import io
import os.path as osp
import sys

REFINER = 'refiner.'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='a LandmarkCascade config (the model the result is for)')
    p.add_argument('--global', dest='global_ckpt', required=True,
                   help='checkpoint of the global model (its refiner.* weights, if any, '
                        'are ignored)')
    p.add_argument('--refiner', required=True, help='cascade checkpoint with refiner.* weights')
    p.add_argument('--out', required=True, help='composed checkpoint to write')
    p.add_argument('--debug', action='store_true', help='show tracebacks')
    return p.parse_args(argv)


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmceph.utils.cli import UsageError
    out = osp.abspath(args.out)
    if out in (osp.abspath(args.global_ckpt), osp.abspath(args.refiner)):
        raise UsageError(f'{args.out}: --out must not overwrite an input checkpoint')
    if not osp.isdir(osp.dirname(out) or '.'):
        raise UsageError(f'{osp.dirname(out)}: output folder does not exist')
    if not osp.isfile(args.config):
        raise UsageError(f'{args.config}: config not found')

    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner.checkpoint import _load_checkpoint
    from mmpose.registry import MODELS

    import mmceph.registration  # noqa: F401
    from mmceph.apis.checkpoint import (
        CheckpointError,
        check_checkpoint_file,
        load_fitting_checkpoint,
    )
    from mmceph.utils.atomic import write_atomic

    init_default_scope('mmpose')
    cfg = Config.fromfile(args.config)
    if cfg.model.get('type') != 'LandmarkCascade':
        raise UsageError(f'{args.config}: not a LandmarkCascade config '
                         f'(model type {cfg.model.get("type")})')
    model = MODELS.build(cfg.model)
    num_keypoints = cfg.model.head.out_channels

    def weights(path, keep):
        check_checkpoint_file(path)
        ckpt = _load_checkpoint(path, map_location='cpu')
        state = ckpt.get('state_dict', ckpt)
        meta = ckpt.get('meta') or {}
        trained_for = (meta.get('dataset_meta') or {}).get('num_keypoints')
        if trained_for is not None and trained_for != num_keypoints:
            raise CheckpointError(f'{path}: trained for {trained_for} landmarks, but the '
                                  f'config describes {num_keypoints}')
        picked = {k.removeprefix('module.'): v for k, v in state.items()
                  if keep(k.removeprefix('module.'))}
        return picked, meta

    state, meta = weights(args.global_ckpt, lambda k: not k.startswith(REFINER))
    refiner, _ = weights(args.refiner, lambda k: k.startswith(REFINER))
    if not refiner:
        raise CheckpointError(f'{args.refiner}: has no refiner.* weights (not a cascade '
                              'checkpoint)')
    own = model.state_dict()
    for path, part, prefix in ((args.global_ckpt, state, False), (args.refiner, refiner, True)):
        needed = {k for k in own if k.startswith(REFINER) == prefix}
        missing, extra = sorted(needed - set(part)), sorted(set(part) - needed)
        reshaped = sorted(k for k in set(part) & needed if part[k].shape != own[k].shape)
        problems = [f'{len(keys)} weight(s) {what} (e.g. {", ".join(keys[:3])})'
                    for what, keys in (('missing', missing), ('not in the model', extra),
                                       ('of another shape', reshaped)) if keys]
        if problems:
            raise CheckpointError(f'{path}: does not fit {osp.basename(args.config)}: '
                                  + '; '.join(problems))
    state.update(refiner)
    meta = dict(meta, composed_from=dict(
        config=args.config,
        global_model=dict(path=args.global_ckpt, sha256=sha256(args.global_ckpt)),
        refiner=dict(path=args.refiner, sha256=sha256(args.refiner))))
    buffer = io.BytesIO()
    torch.save(dict(state_dict=state, meta=meta), buffer)
    write_atomic(out, buffer.getvalue())
    load_fitting_checkpoint(model, out, num_keypoints)      # the result loads strictly
    print(f'wrote {args.out}: global model from {args.global_ckpt}, refiner from '
          f'{args.refiner}')
    return 0


if __name__ == '__main__':
    from mmceph.utils.cli import guarded_main
    sys.exit(guarded_main(main))
