"""A checkpoint's test scores, and the same predictions rescored against another
annotation of the same images (e.g. the mean of both ISBI annotators instead of the
senior's), so one test run can stand next to papers that use another reference."""
import copy
import os
import os.path as osp
import tempfile

import numpy as np

from ..formats.coco import load_coco_json
from ..formats.predictions import SUFFIX, load_predictions, reference_name
from ..utils.cli import UsageError
from .landmark_errors import radial_errors, summarise

RADII = (2.0, 2.5, 3.0, 4.0)


def run_test_split(cfg, checkpoint):
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
    return metrics, load_predictions(osp.join(cfg.work_dir, 'test' + SUFFIX))


def scores_against(cfg, checkpoint, also_against=()):
    """{reference: (MRE, [SDR at RADII])} of ``checkpoint`` on cfg's test split: first
    against the split's own annotation (named as the metric records it), then the same
    predictions against each (NAME, ANN.json) of ``also_against``."""
    metrics, dump = run_test_split(cfg, checkpoint)
    scores = {reference_name(dump): (
        metrics['MRE'], [metrics[f'SDR_{r:.1f}mm'] for r in RADII])}
    for name, ann in also_against:
        scores[name] = rescore(dump, ann)
    return scores


def rescore(dump, ann_file):
    """(MRE, [SDR at RADII]) of a metric dump's predictions against ``ann_file`` (the same
    images under another annotation), matched by file name."""
    doc = load_coco_json(ann_file, len(dump['keypoint_names']))
    anns = {a['image_id']: a for a in doc['annotations']}
    gt = {im['file_name']: (np.reshape(anns[im['id']]['keypoints'], (-1, 3)), im['pixel_spacing'])
          for im in doc['images']}
    pred, true, spacing = [], [], []
    for image in dump['images']:
        match = [f for f in gt if image['img_path'].replace(os.sep, '/').endswith('/' + f)]
        if len(match) != 1:
            raise UsageError(f'{ann_file}: no single image matches {image["img_path"]}')
        kpts, sp = gt[match[0]]
        pred.append(image['pred'])
        true.append(kpts)
        spacing.append(sp)
    true = np.asarray(true, float)
    errors = radial_errors(np.asarray(pred, float), true[..., :2], true[..., 2],
                           np.asarray(spacing))
    overall = summarise(errors, RADII)['overall']
    return overall['MRE'], [overall['SDR'][r] for r in RADII]
