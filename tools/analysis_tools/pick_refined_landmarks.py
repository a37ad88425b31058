"""Which landmarks a LandmarkCascade should refine under a compute budget (``refine_only``).

The refiner costs the same for every landmark it looks at, but it does not gain the same
everywhere: where the global model is already precise, a patch buys little. This runs
the cascade config's test split twice -- global model alone (``refine_steps=0``) and
refining every landmark (its configured views and rounds) -- and prints, per landmark,
the MRE of both and the gain, then the cascade's MRE when refining only the n landmarks
of largest gain, n = 0..K, with the GFLOPs per image of each n. Refinement is per
landmark (patch i is centred on landmark i and read from its own channel), so mixing the
two runs' predictions is exactly what ``refine_only`` predicts; the last line is the
``--cfg-options`` for the subset of lowest MRE within ``--budget``.

It picks on the config's test split. For ISBI that is Test1, so point it at the
validation split instead (and at the reference you select against), then score Test1 once
with the list it prints (docs/accuracy_protocol.md, section 7):

    python tools/analysis_tools/pick_refined_landmarks.py CONFIG CHECKPOINT --budget 3.0 \\
        --cfg-options test_dataloader.dataset.ann_file=annotations/val.json \\
        test_dataloader.dataset.data_root=data/isbi2015_mean/ \\
        model.test_shifts="[[0,0]]"      # optional: one patch per landmark
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np
from mmengine.config import DictAction

from mmceph.evaluation.refine_subset import subsets_by_gain
from mmceph.formats.predictions import error_matrix, reference_name


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='a LandmarkCascade config')
    p.add_argument('checkpoint')
    p.add_argument('--budget', type=float, default=3.0, help='GFLOPs per image (default 3.0)')
    p.add_argument('--threads', type=int, default=os.cpu_count())
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='config overrides, e.g. model.test_shifts="[[0,0]]" (one view)')
    args = p.parse_args(argv)
    for path in (args.config, args.checkpoint):
        if not osp.isfile(path):
            sys.exit(f'error: {path}: not found')

    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    import mmceph.registration  # noqa: F401
    from mmceph.evaluation.rescore import run_test_split
    from mmceph.models.complexity import gflops, refiner_gflops
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    if cfg.model.get('type') != 'LandmarkCascade':
        sys.exit(f'error: {args.config}: not a LandmarkCascade config')
    cfg.model.pop('refine_only', None)
    torch.set_num_threads(args.threads)
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model).eval()
    base = gflops(model, cfg.model.head.decoder.input_size)
    per_landmark = model.refine_steps * model.views_per_landmark * refiner_gflops(model)

    _, refined = run_test_split(cfg, args.checkpoint)
    cfg.model.refine_steps = 0
    _, coarse = run_test_split(cfg, args.checkpoint)
    names = refined['keypoint_names']
    e_coarse, e_refined = error_matrix(coarse), error_matrix(refined)
    gain, order, rows, best = subsets_by_gain(e_coarse, e_refined, base, per_landmark,
                                              args.budget)
    ref = reference_name(refined)
    unit = refined.get('unit', 'mm')

    print(f'\nPer landmark ({len(e_coarse)} test images, reference: {ref}; {unit}):')
    print('| landmark | global | refined | gain |\n|---|---|---|---|')
    for k in order:
        print(f'| {k} {names[k]} | {np.nanmean(e_coarse[:, k]):.3f} | '
              f'{np.nanmean(e_refined[:, k]):.3f} | {gain[k]:+.3f} |')
    print(f'\nRefining the n landmarks of largest gain (global {base:.2f} GFLOPs + '
          f'{per_landmark:.3f} per refined landmark):')
    print(f'| n | MRE ({unit}, {ref}) | GFLOPs |\n|---|---|---|')
    for n, mre, cost in rows:
        print(f'| {n} | {mre:.3f} | {cost:.2f} |')
    if best is None:
        sys.exit(f'error: the global model alone costs {base:.2f} GFLOPs, over the budget')
    chosen = sorted(order[:best])
    print(f'\nWithin {args.budget} GFLOPs: refine {best} landmark(s), MRE {rows[best][1]:.3f} '
          f'{unit}: --cfg-options model.refine_only="{chosen}"')


if __name__ == '__main__':
    main()
