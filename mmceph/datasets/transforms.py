"""Pipeline transforms: ``LoadCephalogram`` reads any radiograph with the one intensity
mapping; ``ApplyRoiPrior`` crops new images with the model's ROI prior at inference;
``KeepFullImage`` keeps the uncropped image for cascades; ``PickAnnotator`` chooses whose
landmarks a training sample learns (ISBI's senior, junior, their mean or one at random).

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

from ..formats.roi_prior import to_pixels_xyxy
from ..imaging.image_io import read_image, to_uint8_bgr


@TRANSFORMS.register_module()
class LoadCephalogram(BaseTransform):
    """MMPose's ``LoadImage`` for radiographs: 8/16-bit, grey or colour, DICOM, EXIF
    orientation applied, truncated files refused, and every image mapped to uint8 BGR by
    :func:`mmceph.imaging.image_io.to_uint8_bgr` -- the same mapping in training, in
    ``tools/infer.py`` and in ``MMPoseInferencer``, so an image stored as 16-bit gives the
    landmarks its 8-bit copy gives. An ``img`` array already in the results (an array
    handed to ``inference_topdown`` or ``MMPoseInferencer``) is mapped the same way.

    Args: none. Reads ``img_path`` or ``img``; writes ``img``, ``img_shape``, ``ori_shape``.
    """

    def transform(self, results):
        if results.get('img') is None:
            results['img'] = to_uint8_bgr(read_image(results['img_path']).pixels)
        else:
            results['img'] = to_uint8_bgr(results['img'])
            results.setdefault('img_path', None)
        results['img_shape'] = results['ori_shape'] = results['img'].shape[:2]
        return results


@TRANSFORMS.register_module()
class ApplyRoiPrior(BaseTransform):
    """Make the dataset's ROI prior (``roi_prior``, normalised xyxy from the metainfo) the
    instance's ``bbox`` in pixels of this image, with ``bbox_score`` 1; without a prior
    the results pass unchanged. Used in val/test pipelines, before ``GetBBoxCenterScale``.

    Args: none.
    """

    def transform(self, results):
        roi = results.get('roi_prior')
        if roi is None:
            return results
        h, w = results['img'].shape[:2]
        results['bbox'] = np.array([to_pixels_xyxy(roi, w, h)], np.float32)
        results['bbox_score'] = np.ones(1, np.float32)
        return results


@TRANSFORMS.register_module()
class KeepFullImage(BaseTransform):
    """Keep the full-resolution image as ``full_image`` before ``TopdownAffine`` crops it,
    for models that look again at full resolution (``LandmarkCascade``). Pack it with
    ``PackPoseInputs(meta_keys=(... 'full_image'))``. Val/test pipelines only.

    Args: none.
    """

    def transform(self, results):
        results['full_image'] = results['img']
        return results



ANNOTATOR_TARGETS = ('senior', 'junior', 'mean', 'random')


@TRANSFORMS.register_module()
class PickAnnotator(BaseTransform):
    """Replace a sample's ``keypoints`` by one annotator's points, their mean, or a random
    one of the two drawn anew for every sample and epoch (label noise as regularisation:
    ISBI's two annotators are 2.4 mm apart, about the models' own error). Needs the
    dataset's ``annotator_keypoints`` (the ISBI converter's ``annotators`` field, written
    when both AnnotationsByMD folders were present); refuses a sample without them rather
    than silently training on whatever the JSON's keypoints are. Put it in the training
    pipeline before any transform that reads the keypoints (first is simplest:
    tools/analysis_tools/isbi_protocol.py puts it there). A landmark missing (NaN) in the
    chosen target becomes invisible.

    Args:
        target (str): ``'senior'``, ``'junior'``, ``'mean'`` or ``'random'``.
    """

    def __init__(self, target: str = 'mean') -> None:
        if target not in ANNOTATOR_TARGETS:
            raise ValueError(f'PickAnnotator: target must be one of {ANNOTATOR_TARGETS}, '
                             f'got {target!r}')
        self.target = target

    def transform(self, results: dict) -> dict:
        both = results.get('annotator_keypoints') or {}
        missing = [a for a in ('senior', 'junior') if a not in both]
        if missing:
            raise ValueError(
                f"{results.get('img_path')}: PickAnnotator(target={self.target!r}) needs both "
                f"annotators' points, but the annotation file has no {' or '.join(missing)} "
                "(re-run python -m data_converters isbi2015 with both AnnotationsByMD folders)")
        name = self.target
        if name == 'random':       # MMEngine seeds numpy per worker; a new draw each call
            name = ('senior', 'junior')[np.random.randint(2)]
        points = ((both['senior'] + both['junior']) / 2 if name == 'mean'
                  else both[name]).astype(np.float32)
        labelled = ~np.isnan(points).any(-1)
        results['keypoints'] = np.where(labelled[..., None], points, 0).astype(np.float32)
        results['keypoints_visible'] = (np.asarray(results['keypoints_visible'], np.float32)
                                        * labelled)
        results['annotator'] = name
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(target={self.target!r})'
