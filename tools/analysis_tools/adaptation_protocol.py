"""Does adapting to a new site pay, and from how many labelled images? The protocol.

A model trained on one set meets another set as "the new site". For k in --ks and
--repeats random draws (seeded), k of the site's images are the adaptation set and the
other n - k are scored, for:
  none         the model as trained;
  offsets      per-landmark median offset calibration, estimated on the k images by the
               very function tools/adapt.py uses (mmceph.apis.adaptation.estimate_offsets);
  fine-tune    (--finetune-repeats R at --finetune-k) the head (global model: backbone and
               neck frozen, BN statistics kept) or, for a LandmarkCascade, its refiners,
               trained --finetune-epochs on the k images by the real MMEngine runner from a
               JSON subset; then also fine-tune + offsets (offsets re-estimated with the
               fine-tuned model on the same k images).
The unadapted predictions of all n images are computed once and cached (--cache), so the
offset rows cost nothing per repeat. Several references of the same images (ISBI: the
senior and the junior annotator's Test1) are scored against the same predictions; each
table names its reference. Rows: mean +- SD over repeats of MRE (mm) and SDR at 2 / 4 mm.

Example (ISBI, the global model; Test1 senior and junior as two "sites"):
    python tools/analysis_tools/adaptation_protocol.py CONFIG work_dirs/isbi_s2d-48e/best_MRE.pth \\
        --ann senior=data/isbi2015/annotations/test1.json \\
              junior=data/isbi2015_junior/annotations/test1.json \\
        --cache work_dirs/adaptation/s2d.npz --repeats 200 --finetune-repeats 3 --out table.md
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
import time

import numpy as np
from mmengine.config import Config, DictAction

RADII = (2.0, 4.0)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--ann', nargs='+', required=True, metavar='NAME=JSON',
                   help='the new site\'s annotation file(s) of the same images, one per '
                        'reference; the first one\'s bbox and images are predicted')
    p.add_argument('--data-root', help='default: the folder above annotations/')
    p.add_argument('--ks', type=int, nargs='+', default=[3, 5, 10, 20])
    p.add_argument('--repeats', type=int, default=200)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--cache', help='npz of the unadapted predictions (written if absent)')
    p.add_argument('--finetune-repeats', type=int, default=0)
    p.add_argument('--finetune-k', type=int, default=10)
    p.add_argument('--finetune-refs', nargs='+', metavar='NAME',
                   help='fine-tune only for these references (default: all)')
    p.add_argument('--finetune-epochs', type=int, default=10)
    p.add_argument('--finetune-lr', type=float, default=1e-4)
    p.add_argument('--work-dir', default='work_dirs/adaptation_protocol')
    p.add_argument('--out', help='also write the markdown tables here')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE')
    return p.parse_args(argv)


# ------------------------------------------------------------------------ predictions
def load_model(cfg, checkpoint):
    from mmpose.apis import init_model

    from mmceph.apis.checkpoint import load_fitting_checkpoint
    model = init_model(copy.deepcopy(cfg), None, device='cpu')
    meta = load_fitting_checkpoint(model, checkpoint, model.dataset_meta['num_keypoints'])
    if meta.get('dataset_meta'):
        model.dataset_meta = meta['dataset_meta']
    return model.eval()


def predict_all(model, dataset):
    from mmceph.apis.adaptation import predict_unadapted
    return predict_unadapted(model, dataset, list(range(len(dataset))))


def references(cfg, anns, data_root, names_order):
    """{name: (gt (n,K,2), visible (n,K), spacing (n,2))} in the order of ``names_order``."""
    from mmceph.apis.adaptation import build_site_dataset, default_data_root, labelled
    out = {}
    for name, path in anns:
        ds = build_site_dataset(cfg, path, data_root or default_data_root(path))
        files = [osp.basename(ds.get_data_info(i)['img_path']) for i in range(len(ds))]
        if sorted(files) != sorted(names_order):
            raise SystemExit(f'{path}: not the same images as the first --ann file')
        order = [files.index(f) for f in names_order]
        gt, vis, spacing = labelled(ds, order)
        out[name] = (gt, vis, np.asarray([s or (np.nan, np.nan) for s in spacing], float),
                     path)
    return out


# ------------------------------------------------------------------------ scoring
def score(pred, gt, vis, spacing):
    from mmceph.evaluation.landmark_errors import hits, radial_errors
    err = radial_errors(pred, gt, vis, spacing)
    e = err[np.isfinite(err)]
    return [float(e.mean())] + [float(hits(e, r).mean() * 100) for r in RADII]


def draws(n, k, repeats, seed):
    rng = np.random.default_rng([seed, k])
    return [np.sort(rng.choice(n, k, replace=False)) for _ in range(repeats)]


def offset_rows(pred, scale, ref, ks, repeats, seed):
    from mmceph.apis.adaptation import estimate_offsets
    from mmceph.core.site_offsets import add_site_offsets
    gt, vis, spacing, _ = ref
    n = len(pred)
    rows = {}
    for k in ks:
        none, cal = [], []
        for idx in draws(n, k, repeats, seed):
            rest = np.setdiff1d(np.arange(n), idx)
            off = estimate_offsets(pred[idx], gt[idx], vis[idx], scale[idx])
            none.append(score(pred[rest], gt[rest], vis[rest], spacing[rest]))
            moved = add_site_offsets(pred[rest], off, scale[rest], dtype=float)
            cal.append(score(moved, gt[rest], vis[rest],
                             spacing[rest]))
        rows[k] = dict(none=np.asarray(none), offsets=np.asarray(cal))
    everything = estimate_offsets(pred, gt, vis, scale)
    ceiling = score(add_site_offsets(pred, everything, scale, dtype=float), gt, vis, spacing)
    return rows, ceiling, score(pred, gt, vis, spacing)


# ------------------------------------------------------------------------ fine-tuning
def finetune(cfg, checkpoint, ref_path, data_root, idx, files, work_dir, epochs, lr, seed):
    """The real MMEngine runner on a JSON subset of the k images; returns the model."""
    from mmengine.runner import Runner

    from mmceph.apis.adaptation import default_data_root
    with open(ref_path) as f:
        doc = json.load(f)
    keep = {files[i] for i in idx}
    images = [im for im in doc['images'] if osp.basename(im['file_name']) in keep]
    ids = {im['id'] for im in images}
    doc = dict(doc, images=images, annotations=[a for a in doc['annotations']
                                                if a['image_id'] in ids])
    os.makedirs(work_dir, exist_ok=True)
    subset = osp.join(work_dir, 'adaptation_subset.json')
    with open(subset, 'w') as f:
        json.dump(doc, f)
    cfg = copy.deepcopy(cfg)
    cfg.work_dir, cfg.load_from, cfg.resume = work_dir, checkpoint, False
    ds = cfg.train_dataloader.dataset
    ds.update(ann_file=osp.abspath(subset), data_root=data_root or default_data_root(ref_path))
    cfg.train_dataloader.update(batch_size=min(4, len(idx)), num_workers=0,
                                persistent_workers=False)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=epochs, val_interval=epochs + 1)
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator', 'test_dataloader', 'test_cfg',
                'test_evaluator'):
        cfg[key] = None
    cfg.param_scheduler = []
    cascade = cfg.model.type == 'LandmarkCascade'
    frozen = {} if cascade else dict(custom_keys={'backbone': dict(lr_mult=0.0),
                                                  'neck': dict(lr_mult=0.0)})
    if not cascade:
        cfg.model.backbone['norm_eval'] = True       # keep the trained BN statistics
    cfg.optim_wrapper = dict(optimizer=dict(type='Adam', lr=lr), paramwise_cfg=frozen)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10 ** 6,
                                        save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=50)
    cfg.custom_hooks = []
    cfg.randomness = dict(seed=seed)
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner.model.eval()


def finetune_rows(cfg, checkpoint, ref, dataset, data_root, files, k, repeats, epochs, lr,
                  seed, work_dir):
    from mmceph.apis.adaptation import estimate_offsets
    from mmceph.core.site_offsets import add_site_offsets
    gt, vis, spacing, path = ref
    n = len(gt)
    ft, ft_off, secs = [], [], []
    for r, idx in enumerate(draws(n, k, repeats, seed + 1)):
        t0 = time.time()
        model = finetune(cfg, checkpoint, path, data_root, idx, files,
                         osp.join(work_dir, f'k{k}_r{r}'), epochs, lr, seed + r)
        pred, scale = predict_all(model, dataset)
        rest = np.setdiff1d(np.arange(n), idx)
        ft.append(score(pred[rest], gt[rest], vis[rest], spacing[rest]))
        off = estimate_offsets(pred[idx], gt[idx], vis[idx], scale[idx])
        moved = add_site_offsets(pred[rest], off, scale[rest], dtype=float)
        ft_off.append(score(moved, gt[rest], vis[rest],
                            spacing[rest]))
        secs.append(time.time() - t0)
        print(f'fine-tune repeat {r}: MRE {ft[-1][0]:.3f} mm, + offsets {ft_off[-1][0]:.3f} mm '
              f'({secs[-1]:.0f} s)', flush=True)
    return np.asarray(ft), np.asarray(ft_off), float(np.mean(secs))


# ------------------------------------------------------------------------ report
def cell(values, digits=3):
    spread = values.std(ddof=1) if len(values) > 1 else 0.0
    return f'{values.mean():.{digits}f} ± {spread:.{digits}f}'


def table(name, ref_path, n, rows, ceiling, full, ft=None, repeats=0, ft_k=None, ft_secs=0):
    head = (f'Reference: **{name}** ({ref_path}); {n} images; adaptation set k drawn at '
            f'random, scored on the other n - k; mean ± SD over {repeats} repeats.\n\n'
            '| k | method | MRE (mm) | SDR 2 mm (%) | SDR 4 mm (%) |\n|---|---|---|---|---|')
    lines = [head]
    for k, r in rows.items():
        for method in ('none', 'offsets'):
            v = r[method]
            label = {'none': 'no adaptation', 'offsets': 'offset calibration'}[method]
            lines.append(f'| {k} | {label} | {cell(v[:, 0])} | {cell(v[:, 1], 1)} | '
                         f'{cell(v[:, 2], 1)} |')
        if ft is not None and k == ft_k:
            for label, v in (('fine-tune', ft[0]), ('fine-tune + offsets', ft[1])):
                lines.append(f'| {k} | {label} ({len(v)} repeats, {ft_secs:.0f} s each) | '
                             f'{cell(v[:, 0])} | {cell(v[:, 1], 1)} | {cell(v[:, 2], 1)} |')
    lines.append(f'| all {n} (in-sample) | no adaptation | {full[0]:.3f} | {full[1]:.1f} | '
                 f'{full[2]:.1f} |')
    lines.append(f'| all {n} (in-sample ceiling) | offset calibration | {ceiling[0]:.3f} | '
                 f'{ceiling[1]:.1f} | {ceiling[2]:.1f} |')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    import mmceph.registration  # noqa: F401
    from mmceph.apis.adaptation import build_site_dataset, default_data_root
    t_start = time.time()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    anns = [tuple(a.split('=', 1)) if '=' in a else (osp.basename(a), a) for a in args.ann]
    first = anns[0][1]
    dataset = build_site_dataset(cfg, first, args.data_root or default_data_root(first))
    files = [osp.basename(dataset.get_data_info(i)['img_path']) for i in range(len(dataset))]
    if args.cache and osp.isfile(args.cache):
        cached = np.load(args.cache)
        pred, scale = cached['pred'], cached['scale']
        print(f'predictions from {args.cache}')
    else:
        t0 = time.time()
        pred, scale = predict_all(load_model(cfg, args.checkpoint), dataset)
        print(f'predicted {len(pred)} images in {time.time() - t0:.0f} s', flush=True)
        if args.cache:
            os.makedirs(osp.dirname(osp.abspath(args.cache)), exist_ok=True)
            np.savez(args.cache, pred=pred, scale=scale, files=np.asarray(files))
    refs = references(cfg, anns, args.data_root, files)
    out = [f'Model: {args.config} / {args.checkpoint}']
    for name, ref in refs.items():
        t0 = time.time()
        rows, ceiling, full = offset_rows(pred, scale, ref, args.ks, args.repeats, args.seed)
        t_off = time.time() - t0
        ft = None
        ft_secs = 0
        if args.finetune_repeats and (not args.finetune_refs or name in args.finetune_refs):
            *ft, ft_secs = finetune_rows(cfg, args.checkpoint, ref, dataset, args.data_root,
                                         files, args.finetune_k, args.finetune_repeats,
                                         args.finetune_epochs, args.finetune_lr, args.seed,
                                         osp.join(args.work_dir, name))
        out.append(table(name, ref[3], len(pred), rows, ceiling, full, ft, args.repeats,
                         args.finetune_k, ft_secs))
        out.append(f'(offset rows: {t_off:.1f} s for {len(args.ks)} x {args.repeats} draws)')
    out.append(f'wall time: {time.time() - t_start:.0f} s')
    text = '\n\n'.join(out)
    print(text)
    if args.out:
        from mmceph.utils.atomic import write_atomic
        write_atomic(args.out, text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
