"""Landmark prediction on whole images, for tools/infer.py and other callers.

Wraps MMPose's ``init_model`` / ``inference_topdown`` with what a clinic needs on top:
the checkpoint must fit the config (:mod:`.checkpoint`), the image is read completely
or refused (:mod:`.image_io`), the crop is the ROI prior stored in the checkpoint
(``dataset_meta['roi_prior']``, normalised to the image size), and every prediction
passes the quality gate (:mod:`.quality`) before any clinical measurement is given.
Returns plain, strict-JSON-ready dicts in pixels and millimetres.
"""
import copy
import math
from typing import Optional, Sequence

import numpy as np
from mmengine.config import Config
from mmpose.apis import inference_topdown, init_model

from ..clinical import MEASUREMENT_LANDMARKS, MEASUREMENT_LINES, UNITS, analyse
from ..formats.roi_prior import to_pixels_xyxy
from ..metainfo.isbi2015 import KEYPOINTS as ISBI_KEYPOINTS
from .checkpoint import load_fitting_checkpoint
from .image_io import DEFAULT_MAX_PIXELS, ImageReadError, read_image, to_uint8_bgr
from .quality import ORIENTATIONS, assess, check_image


class LandmarkPredictor:
    """Load a model once (refusing a checkpoint that does not fit), then predict.

    ``check_orientation``: also predict on the image mirrored and upside down, and
    reject it when the model is clearly more confident that way (two extra passes).
    """

    def __init__(self, config, checkpoint: str, device: str = 'cpu',
                 check_orientation: bool = True):
        self.check_orientation = check_orientation
        cfg = copy.deepcopy(config) if isinstance(config, Config) else Config.fromfile(config)
        _use_load_cephalogram(cfg)
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
        self.is_isbi = self.names == ISBI_KEYPOINTS
        # site adaptation (tools/adapt.py): offsets in the weights, provenance in the meta
        adapted = bool(getattr(self.model, 'is_adapted', False))
        self.site_adaptation = (meta.get('site_adaptation') or dict(
            method='unknown: offsets in the weights, no record in the checkpoint')
        ) if adapted else None

    @property
    def measurement_lines(self):
        """Landmark index pairs behind the clinical measurements (ISBI models only)."""
        if not self.is_isbi:
            return []
        return sorted({pair for pairs in MEASUREMENT_LINES.values() for pair in pairs})

    def roi_bbox(self, width, height):
        """The crop of an image of this size: the ROI prior, or the whole image."""
        roi = self.roi_prior or (0.0, 0.0, 1.0, 1.0)
        return np.array([to_pixels_xyxy(roi, width, height)], np.float32)

    def predict(self, path, pixel_spacing: Optional[Sequence[float]] = None,
                max_pixels: int = DEFAULT_MAX_PIXELS):
        """Predict one image file; return ``(result dict, uint8 BGR image, (K, 2) kpts)``.

        ``pixel_spacing`` (sx, sy) in mm overrides the file's (and rescues a file whose own
        spacing is invalid). Raises :class:`ImageReadError` for a file that cannot be read
        or whose spacing is invalid without a replacement.
        """
        loaded = read_image(path, max_pixels)
        image = to_uint8_bgr(loaded.pixels)      # the mapping LoadCephalogram applies too
        h, w = image.shape[:2]
        if pixel_spacing is not None:
            spacing, source = tuple(float(v) for v in pixel_spacing), 'command line'
        elif loaded.spacing_error:
            raise ImageReadError(f'{path}: {loaded.spacing_error}; give the spacing with '
                                 '--pixel-spacing')
        elif loaded.spacing is not None:
            spacing, source = loaded.spacing, loaded.spacing_source
        elif self.default_spacing is not None:
            spacing, source = tuple(self.default_spacing), 'dataset default'
        else:
            spacing, source = None, 'unknown: coordinates in pixels only'
        bbox = self.roi_bbox(w, h)
        result = dict(image=str(path), width=w, height=h,
                      coordinate_frame=loaded.coordinate_frame,
                      exif_orientation=loaded.exif_orientation,
                      frame=dict(used=loaded.frame, count=loaded.frames),
                      pixel_spacing_mm=None if spacing is None else [float(v) for v in spacing],
                      pixel_spacing_source=source, roi_xyxy_px=bbox[0].round(1).tolist(),
                      site_adaptation=self.site_adaptation)
        image_reasons = check_image(image)
        if image_reasons:                    # nothing the model could judge: do not ask it
            result.update(status='rejected', status_reasons=image_reasons, landmarks=[])
            return result, image, np.zeros((0, 2))
        kpts, scores = self._landmarks(loaded.pixels, bbox)
        reoriented = None
        if self.check_orientation:
            reoriented = {}
            for name, turn in ORIENTATIONS.items():
                turned = np.ascontiguousarray(turn(loaded.pixels))
                turned_box = self.roi_bbox(*turned.shape[1::-1])
                reoriented[name] = float(np.median(self._landmarks(turned, turned_box)[1]))
        report = assess(kpts, scores, w, h, reoriented)
        result.update(status=report.status, status_reasons=report.reasons)
        result.update(describe_landmarks(self.names, kpts, scores, spacing, report.flags,
                                         clinical=report.status != 'rejected'))
        return result, image, kpts

    def _landmarks(self, pixels, bbox):
        """(K, 2) keypoints and (K,) scores in [0, 1]; the raw pixels go in, and
        LoadCephalogram maps them exactly as ``predict`` does for the overlay."""
        sample = inference_topdown(self.model, pixels, bboxes=bbox, bbox_format='xyxy')[0]
        kpts = np.asarray(sample.pred_instances.keypoints[0], float)
        scores = np.asarray(sample.pred_instances.keypoint_scores[0], float)
        return kpts, np.clip(np.nan_to_num(scores), 0.0, 1.0)


def _use_load_cephalogram(cfg):
    """Make the test pipeline read images with the one intensity mapping, whatever the
    config says (a config written for MMPose's ``LoadImage`` still works)."""
    pipeline = cfg.test_dataloader.dataset.pipeline
    for i, step in enumerate(pipeline):
        if step.get('type') in ('LoadImage', 'mmpose.LoadImage'):
            pipeline[i] = dict(type='LoadCephalogram')


def _finite(value, digits):
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def describe_landmarks(names, kpts, scores, spacing=None, flags=None, clinical=True):
    """Landmarks (px, mm, confidence, flags) and, for the 19 ISBI landmarks with a known
    spacing, the 8 clinical measurements with class and meaning, as strict-JSON dicts.

    ``flags`` (per landmark, from the quality gate): a measurement that uses a flagged
    landmark is withheld (listed in ``measurements_withheld``); ``clinical=False`` (a
    rejected image) gives no measurement at all.
    """
    flags = flags if flags is not None else [[] for _ in names]
    out = dict(landmarks=[])
    for name, (x, y), s, f in zip(names, kpts, scores, flags):
        item = dict(name=name, x_px=_finite(x, 2), y_px=_finite(y, 2),
                    confidence=_finite(s, 4), flags=list(f))
        if spacing is not None:
            item.update(x_mm=_finite(x * spacing[0], 3), y_mm=_finite(y * spacing[1], 3))
        out['landmarks'].append(item)
    if list(names) != ISBI_KEYPOINTS or spacing is None:
        return out
    if not clinical:
        out['measurements_error'] = 'measurements not given: the image did not pass the ' \
                                    'quality gate (see status_reasons)'
        return out
    try:
        analysis = analyse(np.asarray(kpts, float), spacing)
    except ValueError as err:    # e.g. two predicted landmarks coincide
        out['measurements_error'] = f'measurements not computed: {err}'
        return out
    flagged = {i for i, f in enumerate(flags) if f}
    out['measurements'], withheld = {}, {}
    for name, m in analysis.items():
        bad = sorted(flagged & set(MEASUREMENT_LANDMARKS[name]))
        if bad:
            withheld[name] = 'uses flagged landmark(s) ' + ', '.join(names[i] for i in bad)
            continue
        out['measurements'][name] = {'value': _finite(m['value'], 3), 'class': int(m['class']),
                                     'meaning': m['meaning']}
    if withheld:
        out['measurements_withheld'] = withheld
    out['measurement_units'] = UNITS
    return out
