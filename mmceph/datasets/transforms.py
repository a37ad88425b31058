"""Pipeline transforms: ``ApplyRoiPrior`` crops new images with the model's ROI prior at
inference; ``KeepFullImage`` keeps the uncropped image for cascades.

MMPose's inference paths (``inference_topdown``, ``MMPoseInferencer``) copy the model's
``dataset_meta`` into every sample; ours carries ``roi_prior`` (normalised
``[x0, y0, x1, y1]`` from the training landmarks). This transform turns it into the
sample's bbox for the image at hand, so inference crops exactly the region the model was
trained on, whatever the image size -- without a person detector. Dataset samples have
no ``roi_prior`` key (their JSON bbox already is the ROI), so training and evaluation
are unaffected.
"""
import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ApplyRoiPrior(BaseTransform):

    def transform(self, results):
        roi = results.get('roi_prior')
        if roi is None:
            return results
        h, w = results['img'].shape[:2]
        x0, y0, x1, y1 = roi
        results['bbox'] = np.array([[x0 * w, y0 * h, x1 * w, y1 * h]], np.float32)
        results['bbox_score'] = np.ones(1, np.float32)
        return results


@TRANSFORMS.register_module()
class KeepFullImage(BaseTransform):
    """Keep the full-resolution image as ``full_image`` before ``TopdownAffine`` crops it,
    for models that look again at full resolution (``LandmarkCascade``). Pack it with
    ``PackPoseInputs(meta_keys=(... 'full_image'))``."""

    def transform(self, results):
        results['full_image'] = results['img']
        return results
