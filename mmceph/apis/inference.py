"""Landmark prediction on whole images with the PyTorch/MMPose model, for tools/infer.py.

:class:`LandmarkPredictor` is the MMPose backend of :class:`.predictor_base.PredictorBase`
(which owns the steps around the model: complete image reading, spacing, ROI-prior crop,
the quality gate and the strict-JSON description; the ONNX runtime is its other
backend). What this module adds: the checkpoint must fit the config
(:mod:`.checkpoint`), the test pipeline reads images with the one intensity mapping
(``LoadCephalogram``), and the model runs through MMPose's ``inference_topdown``.
"""
import copy

import numpy as np
from mmengine.config import Config
from mmpose.apis import inference_topdown, init_model

from ..predictor.base import PredictorBase, describe_landmarks  # noqa: F401 (re-exported)
from .checkpoint import load_fitting_checkpoint


class LandmarkPredictor(PredictorBase):
    """Load a model once (refusing a checkpoint that does not fit), then predict.

    ``check_orientation``: also predict on the image mirrored and upside down, and
    reject it when the model is clearly more confident that way (two extra passes).
    """

    def __init__(self, config, checkpoint: str, device: str = 'cpu',
                 check_orientation: bool = True):
        self.check_orientation = check_orientation
        cfg = copy.deepcopy(config) if isinstance(config, Config) else Config.fromfile(config)
        _predictor_pipeline(cfg)
        self.model = init_model(cfg, None, device=device)
        meta = load_fitting_checkpoint(self.model, checkpoint,
                                       self.model.dataset_meta['num_keypoints'])
        if meta.get('dataset_meta'):
            self.model.dataset_meta = meta['dataset_meta']
        self.model.eval()
        meta = self.model.dataset_meta
        self.names = [meta['keypoint_id2name'][k] for k in range(meta['num_keypoints'])]
        self.roi_prior = meta.get('roi_prior')
        self.default_spacing = meta.get('default_pixel_spacing')
        # site adaptation (tools/adapt.py): offsets in the weights, provenance in the meta
        adapted = bool(getattr(self.model, 'is_adapted', False))
        self.site_adaptation = (meta.get('site_adaptation') or dict(
            method='unknown: offsets in the weights, no record in the checkpoint')
        ) if adapted else None
        self.provenance = _provenance(config, checkpoint, device)

    def _landmarks(self, pixels, bbox):
        """(K, 2) keypoints and (K,) scores in [0, 1]; the raw pixels go in, and
        LoadCephalogram maps them exactly as ``predict`` does for the overlay."""
        sample = inference_topdown(self.model, pixels, bboxes=bbox, bbox_format='xyxy')[0]
        kpts = np.asarray(sample.pred_instances.keypoints[0], float)
        scores = np.asarray(sample.pred_instances.keypoint_scores[0], float)
        return kpts, np.clip(np.nan_to_num(scores), 0.0, 1.0)


def _provenance(config, checkpoint, device):
    """Config, checkpoint digest (once per predictor, not per image) and the versions."""
    import os.path as osp

    import mmpose
    import torch

    from ..predictor.base import base_provenance
    from ..utils.digest import file_sha256
    source = getattr(config, 'filename', None) if isinstance(config, Config) else config
    return base_provenance(
        dict(name='pytorch', torch=torch.__version__, mmpose=mmpose.__version__,
             device=str(device)),
        config=osp.abspath(source) if source else None,
        checkpoint=dict(path=osp.abspath(checkpoint), sha256=file_sha256(checkpoint)))


def _predictor_pipeline(cfg):
    """The test pipeline as the predictor runs it: images read with the one intensity
    mapping, whatever the config says (a config written for MMPose's ``LoadImage`` still
    works), and the crop the box the predictor gives: ``ApplyRoiPrior`` (which would
    replace it by the dataset's ROI prior) is dropped, because
    :meth:`PredictorBase.roi_bbox` already computes that box and test-time views
    (:mod:`mmceph.predictor.averaging`) move it."""
    pipeline = cfg.test_dataloader.dataset.pipeline
    for i, step in enumerate(pipeline):
        if step.get('type') in ('LoadImage', 'mmpose.LoadImage'):
            pipeline[i] = dict(type='LoadCephalogram')
    pipeline[:] = [s for s in pipeline if s.get('type') not in ('ApplyRoiPrior',
                                                                'mmceph.ApplyRoiPrior')]
