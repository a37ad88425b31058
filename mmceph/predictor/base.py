"""What a landmark predictor does around its model, whatever runs the model (torch-free).

:class:`PredictorBase` holds the steps of one prediction that do not depend on the
backend: read the file completely or refuse it (:mod:`mmceph.imaging.image_io`), resolve the pixel
spacing, crop to the ROI prior, pass the quality gate (:mod:`.quality`, with the
orientation check) and describe the landmarks and clinical measurements as strict-JSON
dicts. A subclass supplies ``_landmarks(pixels, bbox) -> (K, 2) kpts, (K, ) scores``:
the ONNX runtime (:class:`mmceph.runtime.OnnxLandmarkPredictor`) and the PyTorch
``LandmarkPredictor`` (:mod:`mmceph.apis.inference`) do.
"""
import math
from typing import Optional, Sequence

import numpy as np

from ..clinical import (
    DESCRIPTIONS,
    MEASUREMENT_LANDMARKS,
    MEASUREMENT_LINES,
    UNITS,
    analyse,
    isbi_indices,
    normal_range,
)
from ..formats.roi_prior import to_pixels_xyxy
from ..imaging.image_io import DEFAULT_MAX_PIXELS, ImageReadError, read_image, to_uint8_bgr
from ..metainfo.isbi2015 import KEYPOINTS as ISBI_KEYPOINTS
from .quality import ORIENTATIONS, assess, check_image

# The result JSON's layout (docs/inference_json.md); bump on any change a reader must know.
# 1: the unversioned output before; 2: schema_version, provenance, coordinate_system,
# pixel_spacing_assumed, self-describing measurements.
SCHEMA_VERSION = 2
ASSUMED_SPACING_SOURCE = 'dataset default'


def coordinate_system(frame: str) -> dict:
    """Origin and axes of every coordinate in the result (``frame``: which pixels)."""
    return dict(image=frame,
                origin='centre of the top-left pixel: (0, 0); the image spans -0.5 .. '
                       'width - 0.5 in x and -0.5 .. height - 0.5 in y',
                x_axis='to the right (image columns)', y_axis='down (image rows)',
                units='x_px, y_px in pixels; x_mm = x_px * pixel_spacing_mm[0], '
                      'y_mm = y_px * pixel_spacing_mm[1] (same origin and axes)')


def base_provenance(backend: dict, **model) -> dict:
    """What produced a result: mmceph's version, the backend (name and versions) and the
    model (``model``: config, checkpoint, their digests). Computed once per predictor."""
    from ..version import __version__
    return dict(mmceph_version=__version__, backend=backend, **model)


class PredictorBase:
    """Set ``names``, ``roi_prior``, ``default_spacing``, ``check_orientation`` (and
    optionally ``site_adaptation``) and implement ``_landmarks``."""
    names: list
    roi_prior = None
    default_spacing = None
    check_orientation = True
    site_adaptation = None
    provenance: Optional[dict] = None     # base_provenance(...), set by the backend

    @property
    def is_isbi(self):
        """Whether the ISBI measurements apply (``mmceph.clinical.isbi_indices``)."""
        return isbi_indices(self.names) is not None

    @property
    def measurement_lines(self):
        """Landmark index pairs (into ``names``) behind the clinical measurements, for
        landmark sets they apply to."""
        isbi = isbi_indices(self.names)
        if isbi is None:
            return []
        return sorted({(isbi[a], isbi[b]) for pairs in MEASUREMENT_LINES.values()
                       for a, b in pairs})

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
        assumed = source == ASSUMED_SPACING_SOURCE
        bbox = self.roi_bbox(w, h)
        result = dict(schema_version=SCHEMA_VERSION, image=str(path), width=w, height=h,
                      provenance=self.provenance,
                      coordinate_frame=loaded.coordinate_frame,
                      coordinate_system=coordinate_system(loaded.coordinate_frame),
                      exif_orientation=loaded.exif_orientation,
                      frame=dict(used=loaded.frame, count=loaded.frames),
                      pixel_spacing_mm=None if spacing is None else [float(v) for v in spacing],
                      pixel_spacing_source=source, pixel_spacing_assumed=assumed,
                      roi_xyxy_px=bbox[0].round(1).tolist(),
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
                reoriented[name] = float(np.median(self.landmarks(turned)[1]))
        report = assess(kpts, scores, w, h, reoriented)
        status, reasons = report.status, list(report.reasons)
        if assumed and status != 'rejected':
            status = 'review'
            reasons.append(assumed_spacing_reason(spacing))
        result.update(status=status, status_reasons=reasons)
        result.update(describe_landmarks(self.names, kpts, scores, spacing, report.flags,
                                         clinical=status != 'rejected',
                                         spacing_assumed=assumed))
        return result, image, kpts

    def landmarks(self, pixels):
        """(K, 2) keypoints and (K, ) scores of decoded ``pixels`` in this predictor's ROI:
        the model's whole cost, without reading a file or the quality gate."""
        return self._landmarks(pixels, self.roi_bbox(pixels.shape[1], pixels.shape[0]))

    def _landmarks(self, pixels, bbox):
        """(K, 2) keypoints and (K, ) scores in [0, 1] of the raw ``pixels`` in ``bbox``."""
        raise NotImplementedError


def _finite(value, digits):
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def assumed_spacing_reason(spacing) -> str:
    return (f'no pixel spacing in the file or on the command line: millimetres assume the '
            f'training set\'s {spacing[0]:g} x {spacing[1]:g} mm per pixel (lengths and mm '
            'coordinates rest on it; angles and ratios do not); give --pixel-spacing')


def describe_measurement(name: str, value, cls: int, meaning: str,
                         spacing_assumed: bool = False, names=ISBI_KEYPOINTS) -> dict:
    """One measurement as the JSON gives it: the value with everything needed to read it
    (the reader should not need the docs to know what 'FMA' computes or what is normal)."""
    item = {'value': _finite(value, 3), 'unit': UNITS[name], 'class': int(cls),
            'meaning': meaning, 'normal_range': normal_range(name), **DESCRIPTIONS[name],
            'landmarks': [names[i] for i in sorted(MEASUREMENT_LANDMARKS[name])]}
    if item['spacing_dependence'] == 'length':
        item['rests_on_assumed_spacing'] = bool(spacing_assumed)
    return item


def describe_landmarks(names, kpts, scores, spacing=None, flags=None, clinical=True,
                       spacing_assumed=False):
    """Landmarks (px, mm, confidence, flags) and, for landmark sets that hold the 19 ISBI
    landmarks by name (``mmceph.clinical.isbi_indices``: ISBI, CL-Detection; never the
    photographs) with a known spacing, the 8 clinical measurements with class and meaning,
    as strict-JSON dicts.

    ``flags`` (per landmark, from the quality gate): a measurement that uses a flagged
    landmark is withheld (listed in ``measurements_withheld``); ``clinical=False`` (a
    rejected image) gives no measurement at all. ``spacing_assumed``: the spacing is not
    the image's own (lengths are marked as resting on it).
    """
    flags = flags if flags is not None else [[] for _ in names]
    out = dict(landmarks=[])
    for name, (x, y), s, f in zip(names, kpts, scores, flags):
        item = dict(name=name, x_px=_finite(x, 2), y_px=_finite(y, 2),
                    confidence=_finite(s, 4), flags=list(f))
        if spacing is not None:
            item.update(x_mm=_finite(x * spacing[0], 3), y_mm=_finite(y * spacing[1], 3))
        out['landmarks'].append(item)
    isbi = isbi_indices(names)
    if isbi is None or spacing is None:
        return out
    if not clinical:
        out['measurements_error'] = 'measurements not given: the image did not pass the ' \
                                    'quality gate (see status_reasons)'
        return out
    try:
        analysis = analyse(np.asarray(kpts, float)[isbi], spacing)
    except ValueError as err:    # e.g. two predicted landmarks coincide
        out['measurements_error'] = f'measurements not computed: {err}'
        return out
    flagged = {i for i, f in enumerate(flags) if f}
    out['measurements'], withheld = {}, {}
    for name, m in analysis.items():
        bad = sorted(flagged & {isbi[k] for k in MEASUREMENT_LANDMARKS[name]})
        if bad:
            withheld[name] = 'uses flagged landmark(s) ' + ', '.join(names[i] for i in bad)
            continue
        out['measurements'][name] = describe_measurement(name, m['value'], m['class'],
                                                         m['meaning'], spacing_assumed,
                                                         [names[j] for j in isbi])
    if withheld:
        out['measurements_withheld'] = withheld
    out['measurement_units'] = UNITS      # schema 1's map, kept for its readers
    return out
