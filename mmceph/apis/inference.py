"""Landmark prediction on whole images, for tools/infer.py and other callers.

Wraps MMPose's ``init_model`` / ``inference_topdown``: the crop is the ROI prior stored
in the checkpoint (``dataset_meta['roi_prior']``, normalised to the image size), or the
whole image when the model has none. Returns plain dicts in pixels and millimetres.
"""
import numpy as np
from mmpose.apis import inference_topdown, init_model

from .image_io import read_image


class LandmarkPredictor:
    """Load a model once, then predict on many images."""

    def __init__(self, config, checkpoint, device='cpu'):
        self.model = init_model(config, checkpoint, device=device)
        meta = self.model.dataset_meta or {}
        self.names = [meta['keypoint_id2name'][k] for k in range(meta['num_keypoints'])]
        self.roi_prior = meta.get('roi_prior')
        self.default_spacing = meta.get('default_pixel_spacing')

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
        landmarks = []
        for name, (x, y), s in zip(self.names, kpts, scores):
            item = dict(name=name, x_px=round(float(x), 2), y_px=round(float(y), 2),
                        confidence=round(float(s), 4))
            if spacing is not None:
                item.update(x_mm=round(float(x) * spacing[0], 3), y_mm=round(float(y) * spacing[1], 3))
            landmarks.append(item)
        return dict(image=str(path), width=w, height=h,
                    pixel_spacing_mm=None if spacing is None else [float(v) for v in spacing],
                    pixel_spacing_source=source, roi_xyxy_px=bbox[0].round(1).tolist(),
                    landmarks=landmarks), image, kpts
