"""Approved images out of the review app: the site's labelled images.

``annotations.json`` is COCO-keypoint JSON built by :mod:`mmceph.formats.coco`'s
builders and checked by its :func:`~mmceph.formats.coco.validate_coco` before it is
written, so ``tools/adapt.py --ann`` and the datasets read it as a converter's file
(``file_name`` relative to IMAGES_DIR: ``--data-root IMAGES_DIR --img-prefix ''``);
``reference`` is the reviewer who approved. ``measurements.csv`` has one row per image
and measurement; ``reports/REL.report.png`` (for the screen) and ``reports/REL.report.pdf``
(for the printer: the same drawing as one page of at most A4) per image, tracing and
measurement table. Every file is written atomically.
"""
import csv
import io
import json
import os.path as osp
from typing import Optional

import cv2
import numpy as np

from ..clinical import MEASUREMENTS
from ..formats.coco import coco_annotation, coco_category, coco_document, coco_image, validate_coco
from ..imaging.image_io import read_image, to_uint8_bgr
from ..utils.atomic import write_atomic
from .store import ReviewStore, measurements

EXPORT_DIR = 'export'
ANNOTATIONS, MEASUREMENTS_CSV, REPORTS = 'annotations.json', 'measurements.csv', 'reports'


def coco_of(store: ReviewStore, records: list, path: str = '(export)') -> dict:
    """The COCO document of approved ``records`` (validated)."""
    if not records:
        raise ValueError('no approved image to export: approve images first')
    names = [lm['name'] for lm in records[0]['landmarks']]
    images, annotations = [], []
    for i, rec in enumerate(records, start=1):
        if [lm['name'] for lm in rec['landmarks']] != names:
            raise ValueError(f'{rec["image"]}: other landmarks than {records[0]["image"]}')
        images.append(coco_image(i, rec['image'], rec['width'], rec['height'], 'review',
                                 rec.get('pixel_spacing_mm'), reference=rec['approved_by'],
                                 extra=dict(approved_at=rec['approved_at'])))
        pred = store.prediction(rec['image']) or {}
        roi = pred.get('roi_xyxy_px') or [0.0, 0.0, rec['width'], rec['height']]
        bbox = [roi[0], roi[1], roi[2] - roi[0], roi[3] - roi[1]]
        annotations.append(coco_annotation(i, i, [lm['position'] for lm in rec['landmarks']],
                                           bbox))
    reviewers = sorted({rec['approved_by'] for rec in records})
    doc = coco_document(images, annotations, coco_category(names),
                        description='mmceph review: approved images',
                        reference=reviewers[0] if len(reviewers) == 1 else 'reviewers: '
                        + ', '.join(reviewers))
    return validate_coco(doc, path, len(names))


def measurements_csv(records: list) -> str:
    f = io.StringIO()
    w = csv.writer(f)
    w.writerow(['image', 'measurement', 'value', 'unit', 'class', 'meaning', 'approved_by'])
    for rec in records:
        m = measurements(rec, [lm['position'] for lm in rec['landmarks']])
        if not m:
            continue
        for name in MEASUREMENTS:
            v = m['values'].get(name)
            if v:
                w.writerow([rec['image'], name, v['value'], v['unit'], v['cls'], v['meaning'],
                            rec['approved_by']])
    return f.getvalue()


A4_INCHES = (210 / 25.4, 297 / 25.4)     # ISO 216


def report_image(store: ReviewStore, rec: dict) -> np.ndarray:
    """One page, BGR: the tracing and the measurement table, drawn by the same overlay as
    ``infer.py`` (one owner of the drawing), with who approved it in the banner."""
    from ..apis.overlay import draw_overlay
    from ..predictor.base import describe_landmarks
    image = to_uint8_bgr(read_image(store.image_path(rec['image'])).pixels)
    names = [lm['name'] for lm in rec['landmarks']]
    pts = [lm['position'] for lm in rec['landmarks']]
    result = describe_landmarks(names, pts, [1.0] * len(pts), rec.get('pixel_spacing_mm'))
    corrected = sum(bool(lm['corrected_by']) for lm in rec['landmarks'])
    pred = store.prediction(rec['image']) or {}
    result.update(status='ok', status_reasons=[
        f'{rec["image"]}: approved by {rec["approved_by"]} at {rec["approved_at"]}; '
        f'{corrected} landmark(s) corrected'], pixel_spacing_mm=rec.get('pixel_spacing_mm'),
                  # where the spacing came from is the prediction's (infer.py's JSON); no
                  # scale bar unless it says the spacing is the image's own
                  pixel_spacing_source=pred.get('pixel_spacing_source'),
                  pixel_spacing_assumed=pred.get('pixel_spacing_assumed', True))
    return draw_overlay(image, result)


def report_pdf(page: np.ndarray) -> bytes:
    """The BGR ``page`` as a one-page PDF (PIL's writer), its resolution chosen so that the
    page fits A4 either way up: printing needs no scaling dialog."""
    from PIL import Image
    h, w = page.shape[:2]
    fit_w, fit_h = A4_INCHES if h >= w else A4_INCHES[::-1]
    dpi = max(w / fit_w, h / fit_h)
    f = io.BytesIO()
    Image.fromarray(cv2.cvtColor(page, cv2.COLOR_BGR2RGB)).save(f, 'PDF', resolution=dpi,
                                                                quality=92)
    return f.getvalue()


def export_approved(store: ReviewStore, out_dir: Optional[str] = None,
                    reports: bool = True) -> dict:
    """Write the approved images' annotations, measurements and reports into
    ``out_dir`` (default REVIEW_DIR/export); return what was written."""
    out_dir = out_dir or osp.join(store.work_dir, EXPORT_DIR)
    records = store.approved()
    ann = osp.join(out_dir, ANNOTATIONS)
    doc = coco_of(store, records, ann)
    write_atomic(ann, json.dumps(doc, indent=1, allow_nan=False))
    write_atomic(osp.join(out_dir, MEASUREMENTS_CSV), measurements_csv(records))
    written = dict(pdf=[], png=[])
    if reports:
        for rec in records:
            page = report_image(store, rec)
            for kind, data in (('png', cv2.imencode('.png', page)[1].tobytes()),
                               ('pdf', report_pdf(page))):
                rel = osp.join(REPORTS, f'{rec["image"]}.report.{kind}')
                write_atomic(osp.join(out_dir, rel), data)
                written[kind].append(rel)
    return dict(images=len(records), annotations=osp.relpath(ann, store.work_dir),
                measurements=osp.relpath(osp.join(out_dir, MEASUREMENTS_CSV), store.work_dir),
                reports=[osp.relpath(osp.join(out_dir, r), store.work_dir) for r in written['pdf']],
                report_images=[osp.relpath(osp.join(out_dir, r), store.work_dir)
                               for r in written['png']],
                folder=out_dir)
