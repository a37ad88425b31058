"""One table for trained ISBI models, side by side: epochs, training wall time, test
MRE/SDR, CPU inference time per image and GFLOPs -- each measured here, in this run.

    python tools/analysis_tools/compare_methods.py \\
        "S2D-HRNet=$CFG/td-hm_s2d-hrnetv2-w18_1xb4-100e_isbi2015-576x448.py:work_dirs/isbi_s2d" \\
        "UNet++ L1=$CFG/td-hm_unetpp_l1-1xb4-100e_isbi2015-576x448.py:work_dirs/isbi_unetpp" ...

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
import json
import os
import os.path as osp
import statistics
import sys
import time

from mmceph.engine.run_logs import training_time
from mmceph.utils.cli import named_pairs


def measure(name, config, work_dir, args):
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner.checkpoint import _load_checkpoint
    from mmpose.registry import MODELS

    import mmceph.registration  # noqa: F401
    from mmceph.apis.inference import LandmarkPredictor
    from mmceph.evaluation.rescore import scores_against
    from mmceph.imaging.image_io import read_image
    from mmceph.models.complexity import model_gflops

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
    flops = model_gflops(model, cfg.model.head.decoder.input_size)

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
