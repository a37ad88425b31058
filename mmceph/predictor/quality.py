"""The quality gate: what must hold before inference says anything clinical.

A landmark model always returns K points, even for a blank frame, noise or a hand X-ray;
the clinical classes computed from those points look exactly as confident as real ones.
So every prediction passes this gate first, and the JSON says what it found:

- image checks: a blank (flat) image, an image smaller than :data:`MIN_SIDE`;
- landmark checks: a point outside the image, a point whose confidence (the heatmap
  peak, clipped to [0, 1]) is below :data:`LOW_CONFIDENCE`;
- orientation: the model is clearly more confident on the image mirrored or turned upside
  down than as given (by :data:`ORIENTATION_MARGIN` in median confidence): a film
  scanned or exported the wrong way round, whose landmarks would be anatomically wrong;
- ``status``: ``'rejected'`` when the image fails a check, when the median landmark
  confidence is below :data:`IMAGE_CONFIDENCE` (the model does not recognise a lateral
  cephalogram it can judge: noise, another body part, a mirrored film) or when more than
  :data:`MAX_FLAGGED_FRACTION` of the landmarks are flagged; ``'review'`` when some
  landmarks are flagged (the measurements that use them are withheld); else ``'ok'``.

The thresholds were chosen from the measured relation between confidence and radial
error on ISBI 2015 Test1 (README "Inference you can trust";
``tools/analysis_tools/confidence_vs_error.py`` reproduces it).
"""
from dataclasses import dataclass, field
from typing import List

import numpy as np

MIN_SIDE = 128                 # px: smaller is a thumbnail, not a radiograph
BLANK_STD = 4.0                # grey levels (of 255, after windowing): a flat frame
LOW_CONFIDENCE = 0.4           # a landmark below this is flagged
IMAGE_CONFIDENCE = 0.45        # the median landmark below this: not a judgeable image
MAX_FLAGGED_FRACTION = 0.25    # more flagged landmarks than this: rejected
ORIENTATION_MARGIN = 0.1       # median confidence gained by re-orienting: wrong way round
ORIENTATIONS = {'mirrored': lambda a: a[:, ::-1], 'upside down': lambda a: a[::-1, ::-1]}


@dataclass
class QualityReport:
    status: str                                    # 'ok', 'review' or 'rejected'
    reasons: List[str] = field(default_factory=list)
    flags: List[List[str]] = field(default_factory=list)   # per landmark

    @property
    def flagged(self) -> np.ndarray:
        return np.array([bool(f) for f in self.flags], bool)


def check_image(image: np.ndarray) -> List[str]:
    """Reasons to refuse an image before any prediction (``image``: uint8 as the model
    sees it, after :func:`to_uint8_bgr`)."""
    h, w = image.shape[:2]
    reasons = []
    if min(h, w) < MIN_SIDE:
        reasons.append(f'the image is {w}x{h} pixels; at least {MIN_SIDE} per side is needed')
    # contrast from at most ~1 M evenly spread pixels: the full 14 M-value float64 std of
    # an ISBI image cost 44 ms, a quarter of the Lite0 model's whole prediction
    step = max(1, int(np.sqrt(h * w / 2 ** 20)))
    if float(image[::step, ::step].std()) < BLANK_STD:
        reasons.append('the image is blank (no contrast)')
    return reasons


def orientation_reasons(median: float, reoriented: dict) -> List[str]:
    """``reoriented``: {orientation name: median confidence of the image so turned}."""
    name, best = max(reoriented.items(), key=lambda kv: kv[1], default=(None, -1.0))
    if best >= median + ORIENTATION_MARGIN:
        return [f'the image looks {name}: the model is more confident on it {name} '
                f'({best:.2f}) than as given ({median:.2f}); correct its orientation']
    return []


def assess(keypoints: np.ndarray, scores: np.ndarray, width: int, height: int,
           reoriented=None) -> QualityReport:
    """The gate's verdict for one image's (K, 2) keypoints and (K,) scores in [0, 1];
    ``reoriented`` as for :func:`orientation_reasons` (None: not checked)."""
    flags = []
    for (x, y), s in zip(np.asarray(keypoints, float), np.asarray(scores, float)):
        f = []
        if not (np.isfinite(x) and np.isfinite(y) and -0.5 <= x <= width - 0.5
                and -0.5 <= y <= height - 0.5):
            f.append('outside_image')
        if not np.isfinite(s) or s < LOW_CONFIDENCE:
            f.append('low_confidence')
        flags.append(f)
    median = float(np.median(scores)) if len(scores) else 0.0
    reasons = orientation_reasons(median, reoriented or {})
    if median < IMAGE_CONFIDENCE:
        reasons.append(f'median landmark confidence {median:.2f} is below {IMAGE_CONFIDENCE}: '
                       'the model does not recognise a lateral cephalogram it can judge')
    n_flagged = sum(bool(f) for f in flags)
    if n_flagged > MAX_FLAGGED_FRACTION * len(flags):
        reasons.append(f'{n_flagged} of {len(flags)} landmarks are flagged')
    status = 'rejected' if reasons else 'review' if n_flagged else 'ok'
    if status == 'review':
        reasons.append(f'{n_flagged} landmark(s) flagged; measurements that use them are withheld')
    return QualityReport(status, reasons, flags)
