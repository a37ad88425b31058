"""MRE / SDR in millimetres, registered in MMPose's METRICS as ``CephalometricMetric``.

Errors are computed in original-image coordinates (what MMPose's codecs decode to, with
or without flip test) and scaled by each image's own pixel spacing, which the dataset
passes along in ``raw_ann_info``. When no image has a spacing (photographs) everything
is reported in pixels and the keys say so (``MRE_px``); a mix of images with and without
spacing is an error rather than a silently meaningless average.
"""
from typing import Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpose.registry import METRICS

from ...clinical import compare_measurements, isbi_indices
from ...formats.predictions import SUFFIX as PREDICTIONS_SUFFIX
from ...formats.predictions import image_record, write_predictions
from ..landmark_errors import format_table, radial_errors, summarise


@METRICS.register_module()
class CephalometricMetric(BaseMetric):
    """Mean radial error and success detection rates.

    Args:
        radii (Sequence[float]): SDR radii (mm, or px for datasets without spacing). Success is
            error <= radius.
        outfile_prefix (str, optional): if given, per-image predictions and errors are dumped to
            ``{outfile_prefix}.predictions.json`` (input of
            ``tools/analysis_tools/ceph_report.py``).
        clinical (bool): also score the 8 ISBI 2015 measurements (datasets whose landmark
            NAMES include the 19 ISBI ones, see :func:`mmceph.clinical.isbi_indices`; in mm;
            images with all 19 of them in the ground truth): keys ``<NAME>_abs_err`` (mean
            absolute difference of the values) and ``<NAME>_success`` (the challenge's
            classification success rate), e.g. ``ANB_success``.
    Keys: ``MRE``, ``MRE_std`` (SD of all errors pooled), ``MRE_std_landmark_mean`` (the
    mean of the per-landmark SDs, the SD the ISBI challenge's script prints),
    ``SDR_2.0mm``... (``MRE_px``, ``SDR_2.0px``... in pixels); see
    :mod:`mmceph.evaluation.landmark_errors` for how errors and hits are computed.
    """
    default_prefix: Optional[str] = None   # bare keys: save_best='MRE'

    def __init__(self, radii: Sequence[float] = (2.0, 2.5, 3.0, 4.0),
                 outfile_prefix: Optional[str] = None, clinical: bool = False,
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.radii = tuple(float(r) for r in radii)
        self.outfile_prefix = outfile_prefix
        self.clinical = clinical

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            gt = sample['gt_instances']
            raw = sample.get('raw_ann_info') or {}
            self.results.append(dict(
                img_id=int(sample['img_id']), img_path=sample.get('img_path', ''),
                pred=np.asarray(sample['pred_instances']['keypoints'][0], float),
                scores=np.asarray(sample['pred_instances'].get(
                    'keypoint_scores', np.zeros((1, 0)))[0], float),
                gt=np.asarray(gt['keypoints'][0], float),
                visible=np.asarray(gt['keypoints_visible'][0], float).reshape(-1),
                spacing=raw.get('pixel_spacing')))

    def compute_metrics(self, results: list) -> dict:
        results = sorted(results, key=lambda r: r['img_id'])
        spacings = [r['spacing'] for r in results]
        have = [s is not None for s in spacings]
        if any(have) and not all(have):
            missing = [r['img_path'] for r, h in zip(results, have) if not h][:3]
            raise ValueError(f'pixel_spacing is missing for some images (e.g. {missing}) but '
                             'present for others: cannot report one metric in mm')
        unit = 'mm' if all(have) else 'px'
        errors = radial_errors(np.stack([r['pred'] for r in results]),
                               np.stack([r['gt'] for r in results]),
                               np.stack([r['visible'] for r in results]),
                               np.array(spacings, float) if unit == 'mm' else None)
        summary = summarise(errors, self.radii)
        names = [self.dataset_meta['keypoint_id2name'][k] for k in range(errors.shape[1])] \
            if self.dataset_meta else [str(k) for k in range(errors.shape[1])]
        reference = (self.dataset_meta or {}).get('reference') or 'unknown'
        MMLogger.get_current_instance().info(
            f'per-landmark radial error ({unit}, {len(results)} images, reference '
            f'annotation: {reference}):\n' + format_table(summary, names, self.radii, unit))
        if self.outfile_prefix:
            self._dump(results, errors, names, unit, reference)
        suffix = '' if unit == 'mm' else '_px'
        overall = summary['overall']
        metrics = {f'MRE{suffix}': overall['MRE'], f'MRE_std{suffix}': overall['SD'],
                   f'MRE_std_landmark_mean{suffix}': overall['SD_landmark_mean']}
        metrics.update({f'SDR_{r:.1f}{unit}': overall['SDR'][r] for r in self.radii})
        if self.clinical:
            metrics.update(self._clinical_metrics(results, unit, names))
        return metrics

    def _clinical_metrics(self, results, unit, names):
        isbi = isbi_indices(names)
        if unit != 'mm' or isbi is None:
            raise ValueError('clinical=True needs the 19 ISBI landmarks (by name) and a pixel '
                             'spacing')
        complete = [r for r in results if r['visible'][isbi].all()]
        if not complete:
            MMLogger.get_current_instance().warning(
                'clinical measurements skipped: no image has all 19 ground-truth landmarks')
            return {}
        try:
            scores = compare_measurements(np.stack([r['pred'][isbi] for r in complete]),
                                          np.stack([r['gt'][isbi] for r in complete]),
                                          np.array([r['spacing'] for r in complete], float))
        except ValueError as err:   # an untrained model may put two landmarks together
            MMLogger.get_current_instance().warning(f'clinical measurements skipped: {err}')
            return {}
        MMLogger.get_current_instance().info(
            f'clinical measurements ({len(complete)} images): ' + ', '.join(
                f"{k} |err| {v['mae']:.2f} success {100 * v['success_rate']:.1f}%"
                for k, v in scores.items()))
        out = {}
        for name, v in scores.items():
            out[f'{name}_abs_err'] = v['mae']
            out[f'{name}_success'] = v['success_rate']
        return out

    def _dump(self, results, errors, names, unit, reference='unknown'):
        images = [image_record(r['img_id'], r['img_path'], r['spacing'], r['pred'], r['scores'],
                               r['gt'], r['visible'] > 0, err)
                  for r, err in zip(results, errors)]
        path = f'{self.outfile_prefix}{PREDICTIONS_SUFFIX}'
        write_predictions(path, names, unit, self.radii, reference, images)
        MMLogger.get_current_instance().info(f'per-image predictions written to {path}')
