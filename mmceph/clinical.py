"""ISBI 2015 (task 2) clinical measurements and classes from the 19 ISBI landmarks.

numpy only, so it works without MMPose/torch. Landmarks are (19, 2) pixel coordinates in
the ISBI order (1 S, 2 N, 3 Or, 4 Po, 5 A, 6 B, 7 Pog, 8 Me, 9 Gn, 10 Go, 11 lower
incisal incision, 12 upper incisal incision, 13-16 soft tissue, 17 PNS, 18 ANS, 19 Ar),
in image coordinates (x to the right = towards the face, y pointing down).

It lives at the package top level because evaluation (the metric, ceph_report) and
inference (``mmceph.apis``) both use it. The formulas and thresholds are those of
``docs/clinical_measurements.md``; with them ``classify(measure(p))`` reproduces the 8
stored labels of all 300 senior annotations (001-300). Notes checked
against those files:

- FMA is, as the challenge defines it, the angle between S-N and Go-Gn (an "SN-MP"
  angle), not Frankfort-mandibular: using Po-Or instead disagrees with 186 of 300 labels.
- MW is the Euclidean distance L11-L12 in mm, negative when the upper incision lies
  behind the lower one (x(L12) < x(L11)); the x offset alone disagrees with 45 labels.
- ODI/APDI signs come from the 2D cross product in image coordinates (y down); dropping
  the ODI sign term disagrees with 25 labels, flipping the APDI s2 sign with 170.
- Boundaries: a value exactly on a threshold is normal (class 1): out of range is strict
  ``<`` / ``>``, as in ``2 <= MW <= 4.5``.
- MW == 0 (edge-to-edge, class 2) is tested as ``|MW| <= MW_ZERO_TOL`` (1e-6 mm). From
  annotations (integer pixels x 0.1 mm) |MW| is either exactly 0 or >= 0.1 mm, so any
  tolerance below that gives the same answer; for float predictions an exact 0 is
  practically impossible anyway. 0 < MW < 2 falls in "otherwise" (class 3), which the
  files confirm (45 such images, all labelled 3). No file has MW == 0.
"""
from typing import List, Optional, Sequence

import numpy as np

from .formats.spacing import SPACING_RANGE_MM
from .metainfo.isbi2015 import KEYPOINTS as ISBI_KEYPOINTS

MEASUREMENTS = ('ANB', 'SNB', 'SNA', 'ODI', 'APDI', 'FHI', 'FMA', 'MW')
NUM_LANDMARKS = 19
# The unit of each measurement: the one table (inference writes it into its results).
UNITS = dict(SNA='deg', SNB='deg', ANB='deg', ODI='deg', APDI='deg', FHI='ratio', FMA='deg',
             MW='mm')
MW_ZERO_TOL = 1e-6

# Class labels each measurement can take (MW has four).
CLASSES = {name: (1, 2, 3) for name in MEASUREMENTS}
CLASSES['MW'] = (1, 2, 3, 4)

# (low, high, class below low, class above high); in [low, high] -> 1.
THRESHOLDS = {
    'ANB': (3.2, 5.7, 3, 2),
    'SNB': (74.6, 78.7, 2, 3),
    'SNA': (79.4, 83.2, 3, 2),
    'ODI': (68.4, 80.5, 3, 2),
    'APDI': (77.6, 85.2, 2, 3),
    'FHI': (0.65, 0.75, 3, 2),
    'FMA': (26.8, 31.4, 3, 2),
}

# Landmark pairs (0-based) of the lines behind each measurement, for overlays.
MEASUREMENT_LINES = {
    'SNA': ((1, 0), (1, 4)),                       # N-S, N-A
    'SNB': ((1, 0), (1, 5)),                       # N-S, N-B
    'ANB': ((1, 4), (1, 5)),                       # N-A, N-B
    'ODI': ((7, 9), (5, 4), (3, 2), (16, 17)),     # Me-Go, B-A, Po-Or, PNS-ANS
    'APDI': ((2, 3), (1, 6), (4, 5), (16, 17)),    # Or-Po, N-Pog, A-B, PNS-ANS
    'FHI': ((0, 9), (1, 7)),                       # S-Go, N-Me
    'FMA': ((0, 1), (9, 8)),                       # S-N, Go-Gn
    'MW': ((10, 11),),                             # lower - upper incisal incision
}

# Landmarks (0-based) each measurement is computed from: a measurement is only as
# trustworthy as the least trustworthy of these (inference withholds it otherwise).
MEASUREMENT_LANDMARKS = {
    'SNA': (0, 1, 4), 'SNB': (0, 1, 5), 'ANB': (0, 1, 4, 5),
    'ODI': (7, 9, 5, 4, 3, 2, 16, 17), 'APDI': (2, 3, 1, 6, 4, 5, 16, 17),
    'FHI': (0, 9, 1, 7), 'FMA': (0, 1, 9, 8), 'MW': (10, 11),
}

# Meaning of each class, following the challenge definitions (Wang et al., MedIA 2016).
MEANINGS = {
    'ANB': {1: 'skeletal Class I (normal)', 2: 'skeletal Class II',
            3: 'skeletal Class III'},
    'SNB': {1: 'normal mandible', 2: 'retrognathic mandible', 3: 'prognathic mandible'},
    'SNA': {1: 'normal maxilla', 2: 'prognathic maxilla', 3: 'retrognathic maxilla'},
    'ODI': {1: 'normal overbite', 2: 'deep bite tendency', 3: 'open bite tendency'},
    'APDI': {1: 'normal sagittal relation', 2: 'Class II tendency',
             3: 'Class III tendency'},
    'FHI': {1: 'normal face height ratio', 2: 'short face tendency (hypodivergent)',
            3: 'long face tendency (hyperdivergent)'},
    'FMA': {1: 'normal mandibular plane angle',
            2: 'high angle tendency (hyperdivergent)',
            3: 'low angle tendency (hypodivergent)'},
    'MW': {1: 'normal overjet', 2: 'edge-to-edge incisors',
           3: 'anterior cross bite / reduced overjet (MW < 2 mm)',
           4: 'large overjet'},
}


# ------------------------------------------------------- which landmark sets they apply to
def isbi_indices(names: Sequence[str]) -> Optional[List[int]]:
    """Where the 19 ISBI landmarks are in a landmark set (in ISBI's order), or None.

    The one decision of whether the measurements apply, made by landmark NAMES, never by
    count: ISBI 2015 itself and supersets such as CL-Detection 2023 (whose first 19 are
    ISBI's) qualify; the lateral photographs' 19 facial points (a different anatomy with
    some shared names) and sets that lack any of the 19 (Aariz, WebCeph2k) do not, even
    with a pixel spacing. The metric, ``ceph_report``, the predictors and the ONNX runtime
    all ask this function.
    """
    index = {n: i for i, n in enumerate(names)}
    if not all(n in index for n in ISBI_KEYPOINTS):
        return None
    return [index[n] for n in ISBI_KEYPOINTS]


def applicable_measurements(names: Sequence[str]) -> tuple:
    """The measurements (of :data:`MEASUREMENTS`) that apply to this landmark set: all of
    them when it holds the 19 ISBI landmarks by name (:func:`isbi_indices`), else none."""
    return MEASUREMENTS if isbi_indices(names) is not None else ()


# What each measurement is, for a reader of inference results: full name, definition (the
# landmarks and lines ``measure`` uses, 1-based L numbers as in the module docstring), what
# it tells, and how it depends on the pixel spacing ('length': the value scales with it;
# 'aspect ratio': angles and ratios depend only on sx/sy, not on the spacing itself).
# Names follow the ISBI 2015 challenge (Wang et al., MedIA 2016); where the challenge's
# label differs from what a clinician reads it as (FMA, MW), the name says what is computed.
DESCRIPTIONS = {
    'SNA': dict(full_name='SNA angle (sella-nasion-A point)',
                definition='angle at N (L2) between N-S (L2->L1) and N-A (L2->L5)',
                about='sagittal position of the maxilla relative to the cranial base'),
    'SNB': dict(full_name='SNB angle (sella-nasion-B point)',
                definition='angle at N (L2) between N-S (L2->L1) and N-B (L2->L6)',
                about='sagittal position of the mandible relative to the cranial base'),
    'ANB': dict(full_name='ANB angle (A point-nasion-B point)',
                definition='SNA - SNB: the angle at N (L2) from N-B to N-A, positive when A '
                           'lies in front of B',
                about='sagittal relation of maxilla to mandible (skeletal class)'),
    'ODI': dict(full_name='Overbite Depth Indicator (ODI)',
                definition='angle between the mandibular plane Me-Go (L8->L10) and the A-B '
                           'line (L6->L5), plus the angle between Frankfort horizontal Po-Or '
                           '(L4->L3) and the palatal plane PNS-ANS (L17->L18), the latter '
                           'negative when the palatal plane rises anteriorly',
                about='vertical jaw relation: tendency to deep bite (high) or open bite (low)'),
    'APDI': dict(full_name='Anteroposterior Dysplasia Indicator (APDI)',
                 definition='angle between Frankfort horizontal Or-Po (L3->L4) and the facial '
                            'plane N-Pog (L2->L7), plus the angle between the facial plane '
                            'and the A-B line (L5->L6), negative when B lies behind the line '
                            'through A parallel to N-Pog, plus the signed palatal plane angle '
                            'of ODI',
                 about='sagittal jaw relation: Class II tendency (low) or Class III (high)'),
    'FHI': dict(full_name='Facial Height Index (FHI)',
                definition='posterior face height S-Go (L1-L10) divided by anterior face '
                           'height N-Me (L2-L8)',
                about='vertical facial proportion: short face (high) or long face (low)'),
    'FMA': dict(full_name='SN-mandibular plane angle (S-N to Go-Gn; labelled "FMA" in the '
                          'ISBI 2015 challenge)',
                definition='angle between S-N (L1->L2) and the mandibular plane Go-Gn '
                           '(L10->L9); not the Frankfort-mandibular plane angle, which '
                           'would use Po-Or instead of S-N',
                about='steepness of the mandibular plane: high angle (hyperdivergent) or '
                      'low angle (hypodivergent)'),
    'MW': dict(full_name='incisal distance (labelled "MW", modified Wits appraisal, in the '
                         'ISBI 2015 challenge)',
               definition='distance between the lower (L11) and upper (L12) incisal '
                          'incision, negative when the upper incision lies behind the '
                          'lower one (x(L12) < x(L11))',
               about='horizontal incisor relation: overjet, edge-to-edge or cross bite'),
}
for _name, _d in DESCRIPTIONS.items():
    _d['spacing_dependence'] = 'length' if UNITS[_name] == 'mm' else 'aspect ratio'


def normal_range(name):
    """[low, high] of class 1 (normal): the challenge's thresholds, MW 2..4.5 mm."""
    return [2.0, 4.5] if name == 'MW' else list(THRESHOLDS[name][:2])


def _check_landmarks(landmarks):
    p = np.asarray(landmarks, dtype=float)
    if p.ndim not in (2, 3) or p.shape[-2:] != (NUM_LANDMARKS, 2):
        raise ValueError(f'landmarks must have shape (19, 2) or (N, 19, 2) in the ISBI '
                         f'order, got {p.shape}')
    if not np.isfinite(p).all():
        raise ValueError('landmarks contain NaN or inf (a missing landmark?)')
    return p


def _check_spacing(pixel_spacing, p):
    """Scalar, (sx, sy), or per image (N,) / (N, 2) for a batch; broadcastable to p."""
    s = np.asarray(pixel_spacing, dtype=float)
    lo, hi = SPACING_RANGE_MM
    if not (np.isfinite(s).all() and (s >= lo).all() and (s <= hi).all()):
        raise ValueError(f'pixel_spacing must be mm per pixel between {lo:g} and {hi:g}, '
                         f'got {pixel_spacing!r}')
    if s.ndim == 0 or s.shape == (2,):
        return s
    if p.ndim == 3 and s.shape in ((len(p),), (len(p), 2)):
        return s.reshape(len(p), 1, -1)
    raise ValueError(f'pixel_spacing must be a scalar or (sx, sy) (or per image for a '
                     f'batch), got shape {s.shape}')


def _angle(u, v):
    """Unsigned angle in degrees between vectors (..., 2)."""
    nu, nv = np.linalg.norm(u, axis=-1), np.linalg.norm(v, axis=-1)
    if np.any(nu == 0) or np.any(nv == 0):
        raise ValueError('two landmarks that define a line coincide: angle undefined')
    cos = np.sum(u * v, axis=-1) / (nu * nv)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _cross(u, v):
    return u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]


def measure(landmarks, pixel_spacing=0.1):
    """The 8 measurements: angles in degrees, FHI a ratio, MW in mm.

    Coordinates are scaled to mm first, so anisotropic spacing gives true angles; with
    isotropic spacing only MW depends on it. A (N, 19, 2) batch gives (N,) arrays.
    """
    p = _check_landmarks(landmarks)
    p = p * _check_spacing(pixel_spacing, p)

    def v(a, b):  # vector from 1-based landmark a to b
        return p[..., b - 1, :] - p[..., a - 1, :]

    sna = _angle(v(2, 1), v(2, 5))
    snb = _angle(v(2, 1), v(2, 6))
    pp_sign = np.where(_cross(v(4, 3), v(17, 18)) < 0, -1.0, 1.0)  # palatal plane vs FH
    pp_angle = pp_sign * _angle(v(4, 3), v(17, 18))
    ab_sign = np.where(_cross(v(2, 7), v(5, 6)) > 0, -1.0, 1.0)
    mw = np.linalg.norm(v(11, 12), axis=-1)
    out = {
        'ANB': sna - snb,
        'SNB': snb,
        'SNA': sna,
        'ODI': _angle(v(8, 10), v(6, 5)) + pp_angle,
        'APDI': _angle(v(3, 4), v(2, 7)) + ab_sign * _angle(v(2, 7), v(5, 6)) + pp_angle,
        'FHI': np.linalg.norm(v(1, 10), axis=-1) / np.linalg.norm(v(2, 8), axis=-1),
        'FMA': _angle(v(1, 2), v(10, 9)),
        'MW': np.where(p[..., 11, 0] < p[..., 10, 0], -mw, mw),
    }
    if p.ndim == 2:
        return {k: float(val) for k, val in out.items()}
    return out


def classify(measurements):
    """Challenge classes (ints) of a ``measure`` dict; arrays in, arrays out."""
    missing = [k for k in MEASUREMENTS if k not in measurements]
    if missing:
        raise ValueError(f'measurements lack {missing}')
    values = {k: np.asarray(measurements[k], dtype=float) for k in MEASUREMENTS}
    for k, x in values.items():
        if not np.isfinite(x).all():
            raise ValueError(f'{k} is not finite: {measurements[k]!r}')
    out = {}
    for k, (low, high, below, above) in THRESHOLDS.items():
        x = values[k]
        out[k] = np.where(x < low, below, np.where(x > high, above, 1))
    mw = values['MW']
    out['MW'] = np.select([(mw >= 2) & (mw <= 4.5), mw > 4.5, np.abs(mw) <= MW_ZERO_TOL],
                          [1, 4, 2], default=3)
    scalar = all(x.ndim == 0 for x in values.values())
    return {k: int(out[k]) if scalar else out[k].astype(int) for k in MEASUREMENTS}


def analyse(landmarks, pixel_spacing=0.1):
    """{name: {'value', 'class', 'meaning'}} for one image (19, 2)."""
    if np.asarray(landmarks).ndim != 2:
        raise ValueError('analyse takes one image: landmarks of shape (19, 2)')
    values = measure(landmarks, pixel_spacing)
    classes = classify(values)
    return {k: {'value': values[k], 'class': classes[k], 'meaning': MEANINGS[k][classes[k]]}
            for k in MEASUREMENTS}


def confusion_matrix(pred, gt, labels):
    """Counts (len(labels), len(labels)); rows = ground truth, columns = prediction."""
    pred, gt = np.asarray(pred).ravel(), np.asarray(gt).ravel()
    if pred.shape != gt.shape:
        raise ValueError(f'pred and gt differ in length: {pred.size} vs {gt.size}')
    labels = list(labels)
    index = {lab: i for i, lab in enumerate(labels)}
    unknown = sorted((set(pred.tolist()) | set(gt.tolist())) - set(index))
    if unknown:
        raise ValueError(f'classes {unknown} are not in labels {labels}')
    cm = np.zeros((len(labels), len(labels)), dtype=int)
    for g, q in zip(gt.tolist(), pred.tolist()):
        cm[index[g], index[q]] += 1
    return cm


def success_rate(pred_classes, gt_classes, labels=None):
    """The challenge score: mean recall over the classes present in the ground truth.

    I.e. the mean diagonal of the row-normalised confusion matrix, rows with no ground
    truth left out (so a rare class weighs as much as a common one).
    """
    gt = np.asarray(gt_classes).ravel()
    if gt.size == 0:
        raise ValueError('success_rate needs at least one sample')
    pred = np.asarray(pred_classes).ravel()
    if labels is None:
        labels = sorted(set(gt.tolist()) | set(pred.tolist()))
    cm = confusion_matrix(pred, gt, labels)
    rows = cm.sum(axis=1)
    present = rows > 0
    return float(np.mean(np.diag(cm)[present] / rows[present]))


def compare_measurements(pred, gt, pixel_spacing=0.1):
    """How well predicted landmarks reproduce the clinical picture, as the challenge
    scored it: per measurement the mean absolute difference of the values, the success
    rate of the classes (``success_rate``) and the confusion matrix (rows = classes from
    the ground-truth landmarks).

    Args:
        pred, gt: (N, 19, 2) landmarks in pixels of the same N images.
        pixel_spacing: as for ``measure`` (scalar, (sx, sy) or (N, 2)).
    """
    pm, gm = measure(pred, pixel_spacing), measure(gt, pixel_spacing)
    pc, gc = classify(pm), classify(gm)
    out = {}
    for name in MEASUREMENTS:
        labels = CLASSES[name]
        out[name] = dict(mae=float(np.mean(np.abs(np.asarray(pm[name]) - gm[name]))),
                         success_rate=success_rate(pc[name], gc[name], labels),
                         confusion=confusion_matrix(pc[name], gc[name], labels), labels=labels)
    return out
