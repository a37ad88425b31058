"""What the reviewer did to each image, saved at once and never lost.

REVIEW_DIR holds, for every image ``REL`` of IMAGES_DIR (the same relative name):

- ``predictions/REL.landmarks.json``: the model's result, exactly ``tools/infer.py``'s JSON
  (so a restart predicts nothing again, and any tool reading infer.py's output reads it);
- ``records/REL.review.json``: the review record, written only once the user changed
  something: per landmark the model's prediction, the current position and who moved it
  when (``--user``), who approved the image when, and a ``version`` that grows by one
  with every save. A save names the version it was made on; another one is refused
  (:class:`Conflict`), so two tabs on one image cannot overwrite each other silently.

Every write goes through :func:`mmceph.utils.atomic.write_atomic`: a crash during a save
leaves the previous record. Images are only read. Measurements come from
:func:`mmceph.clinical.analyse` (the one implementation; the page only shows them);
numpy is imported on the first measurement, so the worklist is served before it.
"""
import datetime
import json
import math
import os.path as osp
import threading
from typing import Optional, Sequence

from ..metainfo.isbi2015 import KEYPOINTS as ISBI_KEYPOINTS
from ..utils.atomic import write_atomic
from .paths import resolve_inside, walk_images

PREDICTIONS, RECORDS = 'predictions', 'records'
PREDICTION_SUFFIX, RECORD_SUFFIX = '.landmarks.json', '.review.json'
MODEL_FILE = 'model.json'
# What needs a human comes first: the quality gate's verdict, then the user's.
STATUS_ORDER = ('rejected', 'review', 'ok', 'pending', 'unreadable', 'corrected', 'approved')


class InvalidEdit(ValueError):
    """A change that cannot be saved (wrong count, NaN, outside the image); says why."""


class Conflict(RuntimeError):
    """A save made on an older version of the record than the one on disk."""


class UnknownImage(KeyError):
    """A name that is not an image of the worklist."""

    def __str__(self):
        return self.args[0] if self.args else 'unknown image'


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')


def _point(value):
    return None if value is None else [float(value[0]), float(value[1])]


def _same(a, b, tol=1e-6):
    if a is None or b is None:
        return a is b
    return abs(a[0] - b[0]) <= tol and abs(a[1] - b[1]) <= tol


class ReviewStore:
    """The records of one review folder. Thread-safe (one lock: saves are tiny)."""

    def __init__(self, images_dir: str, work_dir: str, names: Optional[Sequence[str]] = None):
        self.images_dir = osp.abspath(images_dir)
        self.work_dir = osp.abspath(work_dir)
        self.names = list(names) if names else None
        self.lock = threading.RLock()
        self.unreadable = {}              # name -> why (kept for this run)
        self._summaries = {}              # name -> worklist entry, dropped on every write
        self.images = walk_images(self.images_dir, skip=self.work_dir)
        self._known = set(self.images)
        model = osp.join(self.work_dir, MODEL_FILE)
        if self.names is None and osp.isfile(model):
            with open(model, encoding='utf-8') as f:
                self.names = json.load(f).get('names')

    def set_names(self, names: Sequence[str]) -> None:
        """The model's landmark names (kept for images the model could not place)."""
        with self.lock:
            self.names = list(names)
            write_atomic(osp.join(self.work_dir, MODEL_FILE),
                         json.dumps(dict(names=self.names), indent=1))

    # ------------------------------------------------------------------ files
    def image_path(self, name: str) -> str:
        """The file of a worklist image (path-checked; :class:`UnknownImage` otherwise)."""
        path = resolve_inside(self.images_dir, name)
        if name not in self._known:
            raise UnknownImage(f'{name}: not an image of the worklist')
        return path

    def _file(self, kind: str, name: str, suffix: str) -> str:
        return osp.join(self.work_dir, kind, name + suffix)

    def prediction(self, name: str) -> Optional[dict]:
        self.image_path(name)
        path = self._file(PREDICTIONS, name, PREDICTION_SUFFIX)
        if not osp.isfile(path):
            return None
        with open(path, encoding='utf-8') as f:
            return json.load(f)

    def has_prediction(self, name: str) -> bool:
        return osp.isfile(self._file(PREDICTIONS, name, PREDICTION_SUFFIX))

    def save_prediction(self, name: str, result: dict) -> None:
        """Store the model's result (infer.py's JSON); a record made on an earlier
        prediction keeps its own copy of the predicted points."""
        self.image_path(name)
        with self.lock:
            write_atomic(self._file(PREDICTIONS, name, PREDICTION_SUFFIX),
                         json.dumps(result, indent=1, allow_nan=False))
            self.unreadable.pop(name, None)
            self._summaries.pop(name, None)
            if not self.names and result.get('landmarks'):
                self.names = [lm['name'] for lm in result['landmarks']]

    def mark_unreadable(self, name: str, why: str) -> None:
        with self.lock:
            self.unreadable[name] = why
            self._summaries.pop(name, None)

    def has_record(self, name: str) -> bool:
        return osp.isfile(self._file(RECORDS, name, RECORD_SUFFIX))

    # ------------------------------------------------------------------ records
    def record(self, name: str) -> Optional[dict]:
        """The saved record, else a fresh one (version 0) from the prediction; None while
        the image has no prediction."""
        path = self._file(RECORDS, name, RECORD_SUFFIX)
        self.image_path(name)
        if osp.isfile(path):
            with open(path, encoding='utf-8') as f:
                return json.load(f)
        pred = self.prediction(name)
        if pred is None:
            return None
        return self._fresh(name, pred)

    def _fresh(self, name, pred):
        rejected = pred['status'] == 'rejected'
        by_name = {lm['name']: lm for lm in pred.get('landmarks', [])}
        names = [lm['name'] for lm in pred['landmarks']] if pred.get('landmarks') \
            else list(self.names or [])
        landmarks = []
        for n in names:
            lm = by_name.get(n)
            xy = None if lm is None or lm['x_px'] is None else [lm['x_px'], lm['y_px']]
            if rejected and not by_name:
                xy = None
            landmarks.append(dict(name=n, predicted=xy,
                                  confidence=None if lm is None else lm['confidence'],
                                  flags=[] if lm is None else list(lm['flags']),
                                  position=xy, corrected_by=None, corrected_at=None))
        return dict(image=name, version=0, width=pred['width'], height=pred['height'],
                    pixel_spacing_mm=pred.get('pixel_spacing_mm'),
                    prediction_status=pred['status'],
                    prediction_reasons=pred.get('status_reasons', []),
                    landmarks=landmarks, approved_by=None, approved_at=None)

    def _save(self, rec):
        write_atomic(self._file(RECORDS, rec['image'], RECORD_SUFFIX),
                     json.dumps(rec, indent=1, allow_nan=False))
        self._summaries.pop(rec['image'], None)

    def _current(self, name, version):
        rec = self.record(name)
        if rec is None:
            raise InvalidEdit(f'{name}: not predicted yet')
        if not isinstance(version, int) or isinstance(version, bool) or version != rec['version']:
            raise Conflict(f'{name} was changed elsewhere (another tab?): this page edited '
                           f'version {version}, the saved one is {rec["version"]}; reload the '
                           'image to see it (your last change was not saved)')
        return rec

    def check_points(self, rec: dict, points) -> list:
        """``points`` (one ``[x, y]`` or null per landmark) checked against the record's
        image; :class:`InvalidEdit` names the first problem."""
        K, w, h = len(rec['landmarks']), rec['width'], rec['height']
        if not isinstance(points, list) or len(points) != K:
            got = len(points) if isinstance(points, list) else type(points).__name__
            raise InvalidEdit(f'expected {K} landmarks (one [x, y] or null each), got {got}')
        out = []
        for k, (p, lm) in enumerate(zip(points, rec['landmarks'])):
            label = f'landmark {k + 1} ({lm["name"]})'
            if p is None:
                if lm['predicted'] is not None:
                    raise InvalidEdit(f'{label}: has a prediction; reset it instead of '
                                      'removing it')
                out.append(None)
                continue
            if not (isinstance(p, list) and len(p) == 2
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in p)):
                raise InvalidEdit(f'{label}: expected [x, y] numbers, got {json.dumps(p)[:40]}')
            x, y = float(p[0]), float(p[1])
            if not (math.isfinite(x) and math.isfinite(y)):
                raise InvalidEdit(f'{label}: coordinates must be finite numbers')
            if not (-0.5 <= x <= w - 0.5 and -0.5 <= y <= h - 0.5):
                raise InvalidEdit(f'{label}: ({x:g}, {y:g}) lies outside the image '
                                  f'({w}x{h} pixels)')
            out.append([round(x, 3), round(y, 3)])
        return out

    @staticmethod
    def preview(rec: dict, points: list, user: str) -> dict:
        """A copy of ``rec`` with checked ``points`` as if saved (nothing is written): the
        live measurements while a landmark is being dragged."""
        out = dict(rec, landmarks=[dict(lm) for lm in rec['landmarks']])
        for lm, p in zip(out['landmarks'], points):
            if not _same(_point(lm['position']), p):
                lm['position'] = p
                lm['corrected_by'] = None if _same(_point(lm['predicted']), p) else user
        if any(not _same(_point(a['position']), _point(b['position']))
               for a, b in zip(out['landmarks'], rec['landmarks'])):
            out['approved_by'] = None
        return out

    def update(self, name: str, version: int, points, user: str) -> dict:
        """Save new positions made on ``version``; return the new record. A landmark put
        back on its prediction is no longer a correction; any change withdraws an
        approval (the sign-off was for the old positions)."""
        with self.lock:
            rec = self._current(name, version)
            points = self.check_points(rec, points)
            changed = False
            stamp = now()
            for lm, p in zip(rec['landmarks'], points):
                if _same(_point(lm['position']), p):
                    continue
                changed = True
                lm['position'] = p
                if _same(_point(lm['predicted']), p):
                    lm['corrected_by'] = lm['corrected_at'] = None
                else:
                    lm['corrected_by'], lm['corrected_at'] = user, stamp
            if not changed:
                return rec
            rec['approved_by'] = rec['approved_at'] = None
            rec['version'] += 1
            self._save(rec)
            return rec

    def approve(self, name: str, version: int, user: str) -> dict:
        """Sign the image off: every landmark must be placed."""
        with self.lock:
            rec = self._current(name, version)
            missing = [lm['name'] for lm in rec['landmarks'] if lm['position'] is None]
            if missing or not rec['landmarks']:
                raise InvalidEdit(f'{name}: place every landmark before approving (missing: '
                                  + (', '.join(missing) or 'all') + ')')
            rec['approved_by'], rec['approved_at'] = user, now()
            rec['version'] += 1
            self._save(rec)
            return rec

    # ------------------------------------------------------------------ views
    @staticmethod
    def status(rec: dict) -> str:
        if rec['approved_by']:
            return 'approved'
        if any(lm['corrected_by'] for lm in rec['landmarks']):
            return 'corrected'
        return rec['prediction_status']

    def summary(self, name: str) -> dict:
        """One worklist row (cached until the image's next write)."""
        with self.lock:
            cached = self._summaries.get(name)
            if cached is not None:
                return cached
            if name in self.unreadable:
                entry = dict(image=name, status='unreadable', reason=self.unreadable[name],
                             min_confidence=None, corrected=0)
            else:
                rec = self.record(name)
                if rec is None:
                    entry = dict(image=name, status='pending', min_confidence=None, corrected=0)
                else:
                    conf = [lm['confidence'] for lm in rec['landmarks']
                            if lm['confidence'] is not None]
                    entry = dict(image=name, status=self.status(rec),
                                 min_confidence=min(conf) if conf else None,
                                 corrected=sum(bool(lm['corrected_by'])
                                               for lm in rec['landmarks']),
                                 flagged=sum(bool(lm['flags']) for lm in rec['landmarks']),
                                 width=rec['width'], height=rec['height'],
                                 version=rec['version'])
            self._summaries[name] = entry
            return entry

    def worklist(self) -> list:
        """Every image, what needs a human first: rejected, review, ok (least confident
        first within each), not yet predicted, unreadable, then corrected and approved."""
        rows = [self.summary(n) for n in self.images]
        return sorted(rows, key=lambda r: (STATUS_ORDER.index(r['status']),
                                           1.0 if r['min_confidence'] is None
                                           else r['min_confidence'], r['image']))

    def approved(self) -> list:
        """Records of the approved images, in file order."""
        out = []
        for n in self.images:
            if self.has_record(n):
                rec = self.record(n)
                if rec['approved_by']:
                    out.append(rec)
        return out

    def view(self, name: str) -> dict:
        """All the page needs to show one image: the record and its measurements."""
        rec = self.record(name)
        if rec is None:
            raise InvalidEdit(f'{name}: not predicted yet'
                              + (f' ({self.unreadable[name]})' if name in self.unreadable
                                 else ''))
        return dict(record=rec, status=self.status(rec),
                    measurements=measurements(rec, [lm['position'] for lm in rec['landmarks']]))


def normal_ranges() -> dict:
    """The normal (class 1) range of each measurement, shown beside its value."""
    from ..clinical import THRESHOLDS
    ranges = {name: (low, high) for name, (low, high, _, _) in THRESHOLDS.items()}
    ranges['MW'] = (2.0, 4.5)
    return ranges


def trusted(rec: dict) -> list:
    """Per landmark: may a measurement use it? Not when the quality gate flagged it (or
    rejected the image) unless the user corrected it or approved the image."""
    if rec['approved_by']:
        return [True] * len(rec['landmarks'])
    rejected = rec['prediction_status'] == 'rejected'
    return [bool(lm['corrected_by']) or (not rejected and not lm['flags'])
            for lm in rec['landmarks']]


def measurements(rec: dict, points) -> Optional[dict]:
    """The 8 ISBI measurements of ``points`` (value, unit, class, meaning, normal range)
    through :func:`mmceph.clinical.analyse`; those that use a landmark the quality gate
    flagged and nobody has checked are withheld, with the reason. None for a landmark set
    that is not ISBI's."""
    from ..clinical import MEASUREMENT_LANDMARKS, MEASUREMENTS, UNITS, analyse
    names = [lm['name'] for lm in rec['landmarks']]
    if names != ISBI_KEYPOINTS:
        return None
    out = dict(values={}, withheld={}, error=None, units=UNITS,
               normal_ranges={k: list(v) for k, v in normal_ranges().items()})
    spacing = rec.get('pixel_spacing_mm')
    if spacing is None:
        out['error'] = 'pixel spacing unknown: measurements need mm'
        return out
    missing = [names[k] for k, p in enumerate(points) if p is None]
    if missing:
        out['error'] = 'place every landmark first (missing: ' + ', '.join(missing) + ')'
        return out
    try:
        analysis = analyse([[float(v) for v in p] for p in points], spacing)
    except ValueError as err:
        out['error'] = f'measurements not computed: {err}'
        return out
    ok = trusted(rec)
    for name in MEASUREMENTS:
        unchecked = [names[k] for k in MEASUREMENT_LANDMARKS[name] if not ok[k]]
        if unchecked:
            out['withheld'][name] = ('check ' + ', '.join(unchecked) + ' first (flagged by the '
                                     'quality gate)')
            continue
        m = analysis[name]
        out['values'][name] = dict(value=round(float(m['value']), 3), unit=UNITS[name],
                                   cls=int(m['class']), meaning=m['meaning'])
    return out


__all__ = ['ReviewStore', 'InvalidEdit', 'Conflict', 'UnknownImage', 'measurements',
           'trusted', 'normal_ranges']
