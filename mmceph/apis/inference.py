"""Landmark prediction on whole images, for tools/infer.py and other callers.

Wraps MMPose's ``init_model`` / ``inference_topdown``: the crop is the ROI prior stored
in the checkpoint (``dataset_meta['roi_prior']``, normalised to the image size), or the
whole image when the model has none. Returns plain dicts in pixels and millimetres and,
for 19-landmark ISBI models with a known spacing, the clinical measurements.
"""
import numpy as np
from mmpose.apis import inference_topdown, init_model

from ..evaluation.clinical import MEASUREMENT_LINES, analyse
from ..metainfo.isbi2015 import KEYPOINTS as ISBI_KEYPOINTS
from .image_io import read_image


class LandmarkPredictor:
    """Load a model once, then predict on many images."""

    def __init__(self, config, checkpoint, device='cpu'):
        self.model = init_model(config, checkpoint, device=device)
        meta = self.model.dataset_meta or {}
        self.names = [meta['keypoint_id2name'][k] for k in range(meta['num_keypoints'])]
        self.roi_prior = meta.get('roi_prior')
        self.default_spacing = meta.get('default_pixel_spacing')
        self.is_isbi = self.names == ISBI_KEYPOINTS

    @property
    def measurement_lines(self):
        """Landmark index pairs behind the clinical measurements (ISBI models only)."""
        if not self.is_isbi:
            return []
        return sorted({pair for pairs in MEASUREMENT_LINES.values() for pair in pairs})

    def roi_bbox(self, width, height):
        x0, y0, x1, y1 = self.roi_prior or (0.0, 0.0, 1.0, 1.0)
        return np.array([[x0 * width, y0 * height, x1 * width, y1 * height]], np.float32)

    def predict(self, path, pixel_spacing=None):
        """Predict one image file. ``pixel_spacing`` (sx, sy) in mm overrides the file's."""
        image, file_spacing, source = read_image(path)
        h, w = image.shape[:2]
        if pixel_spacing is not None:
            spacing, source = tuple(pixel_spacing), 'command line'
        elif file_spacing is not None:
            spacing = file_spacing
        elif self.default_spacing is not None:
            spacing, source = tuple(self.default_spacing), 'dataset default'
        else:
            spacing, source = None, 'unknown: coordinates in pixels only'
        bbox = self.roi_bbox(w, h)
        sample = inference_topdown(self.model, image, bboxes=bbox, bbox_format='xyxy')[0]
        kpts = np.asarray(sample.pred_instances.keypoints[0], float)
        scores = np.asarray(sample.pred_instances.keypoint_scores[0], float)
        result = dict(image=str(path), width=w, height=h,
                      pixel_spacing_mm=None if spacing is None else [float(v) for v in spacing],
                      pixel_spacing_source=source, roi_xyxy_px=bbox[0].round(1).tolist())
        result.update(describe_landmarks(self.names, kpts, scores, spacing))
        return result, image, kpts


UNITS = dict(SNA='deg', SNB='deg', ANB='deg', ODI='deg', APDI='deg', FHI='ratio', FMA='deg',
             MW='mm')


def describe_landmarks(names, kpts, scores, spacing=None):
    """Landmarks (px, mm, confidence) and, for the 19 ISBI landmarks with a known spacing,
    the 8 clinical measurements with class and meaning, as JSON-ready dicts."""
    out = dict(landmarks=[])
    for name, (x, y), s in zip(names, kpts, scores):
        item = dict(name=name, x_px=round(float(x), 2), y_px=round(float(y), 2),
                    confidence=round(float(s), 4))
        if spacing is not None:
            item.update(x_mm=round(float(x) * spacing[0], 3), y_mm=round(float(y) * spacing[1], 3))
        out['landmarks'].append(item)
    if list(names) == ISBI_KEYPOINTS and spacing is not None:
        try:
            analysis = analyse(np.asarray(kpts, float), spacing)
        except ValueError as err:    # e.g. two predicted landmarks coincide
            out['measurements_error'] = f'measurements not computed: {err}'
        else:
            out['measurements'] = {
                name: {'value': round(float(m['value']), 3), 'class': int(m['class']),
                       'meaning': m['meaning']} for name, m in analysis.items()}
            out['measurement_units'] = UNITS
    return out
