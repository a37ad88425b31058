"""One table for trained ISBI models, side by side: epochs, training wall time, test
MRE/SDR, CPU inference time per image and GFLOPs -- each measured here, in this run.

    python tools/analysis_tools/compare_methods.py \\
        "S2D-HRNet=$CFG/td-hm_s2d-hrnetv2-w18_1xb4-100e_isbi2015-576x448.py:work_dirs/isbi_s2d" \\
        "UNet++ L1=$CFG/td-hm_unetpp-l1_1xb4-100e_isbi2015-576x448.py:work_dirs/isbi_unetpp" ...

(CFG=configs/isbi2015.)

Each argument is NAME=CONFIG:WORK_DIR, where WORK_DIR holds the training logs and
best_MRE.pth. Measured:
- epochs and training wall time from the logs in WORK_DIR (summed over resumed runs); for a
  model trained on top of another (``load_from`` of a ``LandmarkCascade``), the time and
  epochs of that stage-1 work dir are added, so the figure is the whole training budget;
  for a checkpoint written by attach_refiner.py (``meta.attached``), the runs that trained
  its global model and its refiners are added instead (the refiner runs' own stage 1
  is not: the attached checkpoint does not use it);
- test metrics: MMEngine's runner on the config's test split (ISBI: Test1) with best_MRE.pth,
  against the reference annotation of that split (named in the header: ISBI's default is
  the senior annotator), and with ``--also-against NAME=ANN.json`` the same predictions
  scored against other annotations of the same images (e.g. the mean of both ISBI
  annotators, ``mean=data/isbi2015_mean/annotations/test1.json``), so a row can be put
  next to papers that use another reference;
- inference: ``LandmarkPredictor.predict`` (read, crop, model, decode; without the quality
  gate's orientation check, which adds two passes) on ``--images``
  test images after 2 warm-ups, median, ``--threads`` torch threads; "model alone": the
  same images already decoded in memory (crop, network, decode, refinement), i.e.
  without reading the file (an ISBI BMP takes ~0.05-0.1 s to read and check);
- GFLOPs: MMEngine's counter on the model's tensor forward at its input size; a
  cascade adds refine_steps x test views x K patches of each of its refiners.
"""
import argparse
import copy
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

    from mmceph.models.heatmap_net import HeatmapNet
    w, h = input_size
    info = get_model_complexity_info(HeatmapNet(model), inputs=(torch.zeros(1, 3, h, w), ),
                                     show_table=False, show_arch=False)
    return info['flops'] / 1e9


def measure(name, config, work_dir, args):
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner.checkpoint import _load_checkpoint
    from mmpose.registry import MODELS

    import mmceph.registration  # noqa: F401
    from mmceph.apis.image_io import read_image
    from mmceph.apis.inference import LandmarkPredictor

    checkpoint = osp.join(work_dir, 'best_MRE.pth')
    if not osp.isfile(checkpoint):
        sys.exit(f'{name}: {checkpoint} not found (train it first)')
    cfg = Config.fromfile(config)
    minutes, epochs = training_time(work_dir)
    epochs_text = str(epochs) if epochs is not None else '-'
    attached = (_load_checkpoint(checkpoint, map_location='cpu').get('meta') or {}).get('attached')
    if attached:
        runs = [training_time(osp.dirname(p))
                for p in [attached['global_model']] + attached['refiners']]
        minutes = sum(m for m, _ in runs)
        epochs_text = ' + '.join(str(e) if e is not None else '-' for _, e in runs)
    elif (cfg.model.type == 'LandmarkCascade' and cfg.model.get('freeze_coarse', True)
            and cfg.get('load_from')):
        stage1 = osp.dirname(cfg.load_from)
        m1, e1 = training_time(stage1)
        minutes += m1
        epochs_text = f"{e1} + {epochs if epochs is not None else 'attached'}"

    init_default_scope('mmpose')
    torch.set_num_threads(args.threads)
    model = MODELS.build(cfg.model).eval()
    flops = gflops(model, cfg.model.head.decoder.input_size)
    if cfg.model.type == 'LandmarkCascade':
        patches = model.refine_steps * model.views_per_landmark * model.refined_landmarks
        flops += patches * sum(gflops(r, r.head.decoder.input_size) for r in model.refiners)

    scores = scores_against(cfg, checkpoint, args.also_against)

    # the model's own cost: without the quality gate's two re-oriented passes
    predictor = LandmarkPredictor(config, checkpoint, check_orientation=False)
    ds = cfg.test_dataloader.dataset
    with open(osp.join(ds.data_root, ds.ann_file)) as f:
        images = json.load(f)['images']
    paths = [osp.join(ds.data_root, ds.data_prefix['img'], im['file_name'])
             for im in images[:args.images + 2]]
    times, model_times = [], []
    for i, path in enumerate(paths):
        t = time.perf_counter()
        predictor.predict(path)
        if i >= 2:
            times.append(time.perf_counter() - t)
        pixels = read_image(path).pixels       # the model alone, on the decoded image
        t = time.perf_counter()
        predictor.landmarks(pixels)
        if i >= 2:
            model_times.append(time.perf_counter() - t)
    return dict(name=name, epochs=epochs_text, minutes=minutes, scores=scores,
                latency=statistics.median(times), model_latency=statistics.median(model_times),
                flops=flops)


RADII = (2.0, 2.5, 3.0, 4.0)


def test_predictions(cfg, checkpoint):
    """(metrics, per-image prediction dump) of MMEngine's runner on cfg's test split."""
    from mmengine.runner import Runner
    cfg = copy.deepcopy(cfg)
    cfg.load_from = checkpoint
    cfg.work_dir = tempfile.mkdtemp(prefix='compare_')
    cfg.test_dataloader.num_workers = min(2, os.cpu_count())
    cfg.default_hooks.pop('visualization', None)
    cfg.test_evaluator['clinical'] = False      # landmark metrics only: faster
    cfg.test_evaluator['outfile_prefix'] = osp.join(cfg.work_dir, 'test')
    metrics = Runner.from_cfg(cfg).test()
    with open(osp.join(cfg.work_dir, 'test.predictions.json')) as f:
        return metrics, json.load(f)


def scores_against(cfg, checkpoint, also_against=()):
    """{reference: (MRE, [SDR at RADII])} of ``checkpoint`` on cfg's test split: first
    against the split's own annotation (named as the metric records it), then the same
    predictions against each (NAME, ANN.json) of ``also_against``."""
    metrics, dump = test_predictions(cfg, checkpoint)
    scores = {dump.get('reference') or 'as annotated': (
        metrics['MRE'], [metrics[f'SDR_{r:.1f}mm'] for r in RADII])}
    for name, ann in also_against:
        scores[name] = rescore(dump, ann)
    return scores


def rescore(dump, ann_file):
    """(MRE, [SDR at RADII]) of a metric dump's predictions against ``ann_file`` (the same
    images under another annotation), matched by file name."""
    import numpy as np

    from mmceph.evaluation.landmark_errors import radial_errors, summarise
    from mmceph.formats.coco import load_coco_json
    doc = load_coco_json(ann_file, len(dump['keypoint_names']))
    anns = {a['image_id']: a for a in doc['annotations']}
    gt = {im['file_name']: (np.reshape(anns[im['id']]['keypoints'], (-1, 3)), im['pixel_spacing'])
          for im in doc['images']}
    pred, true, spacing = [], [], []
    for image in dump['images']:
        match = [f for f in gt if image['img_path'].replace(os.sep, '/').endswith('/' + f)]
        if len(match) != 1:
            sys.exit(f'{ann_file}: no single image matches {image["img_path"]}')
        kpts, sp = gt[match[0]]
        pred.append(image['pred'])
        true.append(kpts)
        spacing.append(sp)
    true = np.asarray(true, float)
    errors = radial_errors(np.asarray(pred, float), true[..., :2], true[..., 2],
                           np.asarray(spacing))
    overall = summarise(errors, RADII)['overall']
    return overall['MRE'], [overall['SDR'][r] for r in RADII]


def named_pairs(parser, values, what, exists):
    """[(NAME, PATH)] from NAME=PATH arguments; a parser error unless PATH ``exists``."""
    pairs = [v.partition('=') for v in values]
    for value, (name, sep, path) in zip(values, pairs):
        if not (name and sep and exists(path)):
            parser.error(f'{value!r}: expected {what}')
    return [(name, path) for name, _, path in pairs]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('runs', nargs='+', metavar='NAME=CONFIG:WORK_DIR')
    p.add_argument('--images', type=int, default=10, help='timed test images (default 10)')
    p.add_argument('--threads', type=int, default=os.cpu_count(),
                   help='torch threads for inference and GFLOPs (default: all cores)')
    p.add_argument('--also-against', nargs='+', default=[], metavar='NAME=ANN.json',
                   help='score the same test predictions against other annotations of the '
                        'same images, e.g. mean=data/isbi2015_mean/annotations/test1.json')
    args = p.parse_args(argv)
    args.also_against = named_pairs(p, args.also_against,
                                    'NAME=ANN.json with an existing annotation file', osp.isfile)
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
    refs = list(rows[0]['scores'])
    head = ['method', 'epochs', 'training wall time']
    for i, ref in enumerate(refs):
        head += [f'test MRE (mm, {ref})', 'SDR 2 mm', '2.5 mm', '3 mm', '4 mm'] if i == 0 else \
            [f'test MRE (mm, {ref})', f'SDR 2 mm ({ref})']
    head += ['inference (s/image)', 'model alone (s/image)', 'GFLOPs']
    print('| ' + ' | '.join(head) + ' |')
    print('|' + '---|' * len(head))
    for r in rows:
        cells = [r['name'], r['epochs'], f"{r['minutes']:.0f} min"]
        for i, ref in enumerate(refs):
            mre, sdr = r['scores'][ref]
            cells += [f'{mre:.3f}'] + [f'{100 * v:.1f} %' for v in (sdr if i == 0 else sdr[:1])]
        cells += [f"{r['latency']:.3f}", f"{r['model_latency']:.3f}", f"{r['flops']:.2f}"]
        print('| ' + ' | '.join(cells) + ' |')

if __name__ == '__main__':
    main()
