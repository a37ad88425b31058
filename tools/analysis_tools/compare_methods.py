"""One table for trained ISBI models, side by side: epochs, training wall time, test
MRE/SDR, CPU inference time per image and GFLOPs -- each measured here, in this run.

    python tools/analysis_tools/compare_methods.py \
        "S2D-HRNet=configs/isbi2015/td-hm_s2d-hrnetv2-w18_1xb4-100e_isbi2015-576x448.py:work_dirs/isbi_s2d-hrnetv2" \
        "UNet++ L1=configs/isbi2015/td-hm_unetpp-l1_1xb4-100e_isbi2015-576x448.py:work_dirs/isbi_unetpp" ...

Each argument is NAME=CONFIG:WORK_DIR, where WORK_DIR holds the training logs and
best_MRE.pth. Measured:
- epochs and training wall time from the logs in WORK_DIR (summed over resumed runs); for a
  model trained on top of another (``load_from`` of a ``LandmarkCascade``), the time and
  epochs of that stage-1 work dir are added, so the figure is the whole training budget;
- test metrics: MMEngine's runner on the config's test split (ISBI: Test1) with best_MRE.pth;
- inference: ``LandmarkPredictor.predict`` (read, crop, model, decode; without the quality
  gate's orientation check, which adds two passes) on ``--images``
  test images after 2 warm-ups, median, ``--threads`` torch threads;
- GFLOPs: MMEngine's counter on the model's tensor forward at its input size; a
  cascade adds refine_steps x test views x K patches of each of its refiners.
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime

STAMP = re.compile(r'^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) - mmengine')


def training_time(work_dir):
    """(minutes, epochs) of the training runs logged in ``work_dir``."""
    minutes = 0.0
    for log in glob.glob(osp.join(work_dir, '*', '*.log')):
        with open(log, errors='replace') as f:
            stamps = [datetime.strptime(m.group(1), '%Y/%m/%d %H:%M:%S')
                      for m in map(STAMP.match, f) if m]
        if stamps:
            minutes += (stamps[-1] - stamps[0]).total_seconds() / 60
    last = osp.join(work_dir, 'last_checkpoint')
    epochs = None
    if osp.isfile(last):
        with open(last) as f:
            found = re.search(r'epoch_(\d+)\.pth', f.read())
        epochs = int(found.group(1)) if found else None
    return minutes, epochs


def gflops(model, input_size):
    import torch
    from mmengine.analysis import get_model_complexity_info

    class Forward(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m.head.forward(self.m.extract_feat(x))

    w, h = input_size
    info = get_model_complexity_info(Forward(model), inputs=(torch.zeros(1, 3, h, w), ),
                                     show_table=False, show_arch=False)
    return info['flops'] / 1e9


def measure(name, config, work_dir, args):
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmpose.registry import MODELS

    import mmceph.registration  # noqa: F401
    from mmceph.apis.inference import LandmarkPredictor

    checkpoint = osp.join(work_dir, 'best_MRE.pth')
    if not osp.isfile(checkpoint):
        sys.exit(f'{name}: {checkpoint} not found (train it first)')
    cfg = Config.fromfile(config)
    minutes, epochs = training_time(work_dir)
    epochs_text = str(epochs) if epochs is not None else '-'
    if cfg.model.type == 'LandmarkCascade' and cfg.model.get('freeze_coarse', True) and cfg.get('load_from'):
        stage1 = osp.dirname(cfg.load_from)
        m1, e1 = training_time(stage1)
        minutes += m1
        epochs_text = f"{e1} + {epochs if epochs is not None else 'attached'}"

    init_default_scope('mmpose')
    torch.set_num_threads(args.threads)
    model = MODELS.build(cfg.model).eval()
    flops = gflops(model, cfg.model.head.decoder.input_size)
    if cfg.model.type == 'LandmarkCascade':
        patches = model.refine_steps * model.views_per_landmark * cfg.model.head.out_channels
        flops += patches * sum(gflops(r, r.head.decoder.input_size) for r in model.refiners)

    cfg.load_from = checkpoint
    cfg.work_dir = tempfile.mkdtemp(prefix='compare_')
    cfg.test_dataloader.num_workers = min(2, os.cpu_count())
    cfg.default_hooks.pop('visualization', None)
    cfg.test_evaluator['clinical'] = False      # landmark metrics only: faster
    metrics = Runner.from_cfg(cfg).test()

    # the model's own cost: without the quality gate's two re-oriented passes
    predictor = LandmarkPredictor(config, checkpoint, check_orientation=False)
    ds = cfg.test_dataloader.dataset
    with open(osp.join(ds.data_root, ds.ann_file)) as f:
        images = json.load(f)['images']
    paths = [osp.join(ds.data_root, ds.data_prefix['img'], im['file_name'])
             for im in images[:args.images + 2]]
    times = []
    for i, path in enumerate(paths):
        t = time.perf_counter()
        predictor.predict(path)
        if i >= 2:
            times.append(time.perf_counter() - t)
    return dict(name=name, epochs=epochs_text, minutes=minutes, mre=metrics['MRE'],
                sdr=[metrics[f'SDR_{r:.1f}mm'] for r in (2.0, 2.5, 3.0, 4.0)],
                latency=statistics.median(times), flops=flops)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('runs', nargs='+', metavar='NAME=CONFIG:WORK_DIR')
    p.add_argument('--images', type=int, default=10, help='timed test images (default 10)')
    p.add_argument('--threads', type=int, default=os.cpu_count(),
                   help='torch threads for inference and GFLOPs (default: all cores)')
    args = p.parse_args(argv)
    specs = []
    for run in args.runs:
        name, sep, rest = run.partition('=')
        config, sep2, work_dir = rest.rpartition(':')
        if not (sep and sep2 and osp.isfile(config) and osp.isdir(work_dir)):
            p.error(f'{run!r}: expected NAME=CONFIG:WORK_DIR with an existing config and work dir')
        specs.append((name, config, work_dir))
    rows = [measure(*spec, args) for spec in specs]
    print(f'\nCPU: {os.cpu_count()} cores; inference = median of {args.images} images, '
          f'{args.threads} threads')
    print('| method | epochs | training wall time | test MRE (mm) | SDR 2 mm | 2.5 mm | 3 mm | 4 mm '
          '| inference (s/image) | GFLOPs |')
    print('|---|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        sdr = ' | '.join(f'{100 * v:.1f} %' for v in r['sdr'])
        print(f"| {r['name']} | {r['epochs']} | {r['minutes']:.0f} min | {r['mre']:.3f} | {sdr} "
              f"| {r['latency']:.3f} | {r['flops']:.2f} |")


if __name__ == '__main__':
    main()
