"""CephalometricEstimator: MMPose's top-down estimator plus per-site landmark offsets.

Why: landmark definitions drift between clinics, devices and annotators, so a model that
scores well on one set of annotations is off by a consistent few millimetres on some
landmarks of another (ISBI Test1, senior vs junior annotator: see README "Adapting to a
new site"). ``tools/adapt.py`` estimates each landmark's mean offset from a handful of
labelled images of the new site and stores it here.

Where the offsets live: in the buffer ``site_offsets`` of the model's state dict, not in
the checkpoint's ``meta``. ``mim test`` takes ``dataset_meta`` from the dataset, not the
checkpoint, but every path (``mim test``, ``tools/infer.py``, ``MMPoseInferencer``,
``inference_topdown``) loads the state dict, so all of them apply the adaptation with no
extra flag.

Units: fractions of the top-down crop (the bbox after ``GetBBoxCenterScale``), x by its
width and y by its height; the prediction adds ``site_offsets * input_scale`` per sample.
So offsets need no pixel spacing and follow any image size of the same site (the crop is
the ROI prior scaled to the image). Applied once, at the very end of prediction
(``predict`` = ``predict_unadapted`` + offsets; a cascade refines first, so its refiners
re-centre on the unadapted estimate).

Checkpoints without the buffer (all trained before it existed) load strictly: a missing
``site_offsets`` reads as "no offsets". An empty buffer (shape ``(0, 2)``, the default)
means "not adapted"; an adapted model has ``(K, 2)``, and loading resizes the buffer to
the checkpoint's, so the estimator needs no landmark count at construction (heads name
it differently).
"""
import numpy as np
import torch
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS

from ...core.site_offsets import add_site_offsets

OFFSETS_KEY = 'site_offsets'


@MODELS.register_module()
class CephalometricEstimator(TopdownPoseEstimator):
    """``TopdownPoseEstimator`` whose predictions get the per-landmark site offsets
    (buffer ``site_offsets``, (K, 2) fractions of the crop size; empty: none).

    Args (``TopdownPoseEstimator``'s, passed through unchanged):
        backbone (dict): backbone config.
        neck (dict, optional): neck config.
        head (dict, optional): head config.
        train_cfg (dict, optional): training options.
        test_cfg (dict, optional): test options (``flip_test``, ...).
        data_preprocessor (dict, optional): data preprocessor config.
        init_cfg (dict, optional): MMEngine initialisation config.
        metainfo (dict, optional): dataset meta information.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_buffer(OFFSETS_KEY, torch.zeros(0, 2), persistent=True)

    # ------------------------------------------------------------------ offsets -------
    @property
    def is_adapted(self) -> bool:
        return self.site_offsets.numel() > 0 and bool(self.site_offsets.abs().sum() > 0)

    def set_site_offsets(self, offsets) -> None:
        """Set (K, 2) offsets in crop fractions; ``None`` or an empty array: none."""
        value = torch.zeros(0, 2) if offsets is None else torch.as_tensor(
            np.asarray(offsets, np.float32)).reshape(-1, 2)
        if not torch.isfinite(value).all():
            raise ValueError('site offsets must be finite numbers')
        self.site_offsets = value.to(self.site_offsets.device)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        key = prefix + OFFSETS_KEY
        if key not in state_dict:        # a checkpoint from before site adaptation
            state_dict[key] = torch.zeros(0, 2)
        value = state_dict[key]
        if isinstance(value, torch.Tensor) and value.dim() == 2 and value.shape[1] == 2:
            self.site_offsets = torch.zeros_like(value, device=self.site_offsets.device)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    # ------------------------------------------------------------------ prediction ----
    def predict(self, inputs, data_samples):
        return self.apply_site_offsets(self.predict_unadapted(inputs, data_samples))

    def predict_unadapted(self, inputs, data_samples):
        """The model's own prediction (image pixels), before any site offset."""
        return super().predict(inputs, data_samples)

    def apply_site_offsets(self, results):
        if self.site_offsets.numel() == 0:
            return results
        offsets = self.site_offsets.detach().cpu().numpy()
        for sample in results:
            scale = np.asarray(sample.metainfo['input_scale'], np.float32).reshape(-1)[:2]
            sample.pred_instances.keypoints = add_site_offsets(
                sample.pred_instances.keypoints, offsets, scale)
        return results
