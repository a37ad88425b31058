"""ROI prior: one box, in normalised image coordinates, that holds every labelled
landmark of the TRAINING split plus a margin. It becomes the bbox of every image of every
split (and of new images at inference), so the top-down crop is the same everywhere and
no test annotation leaks into it."""
import numpy as np

from mmceph.formats.roi_prior import save_roi_prior, to_pixels_xywh

from .coco import write_json_atomic

__all__ = ['compute_roi_prior', 'apply_roi', 'save_roi_prior', 'compute_roi_upstream',
           'apply_roi_upstream', 'save_roi_upstream']


def compute_roi_prior(train_records, margin=0.05):
    """Return ``[x0, y0, x1, y1]`` in [0, 1] image coordinates.

    ``margin`` is added on each side as a fraction of the image size, then clipped.
    """
    pts = []
    for rec in train_records:
        k = rec.keypoints[~np.isnan(rec.keypoints[:, 0])]
        pts.append(k / np.array([rec.width, rec.height], dtype=float))
    if not pts or not sum(len(p) for p in pts):
        raise ValueError('cannot compute a ROI prior: the training split has no labelled landmarks')
    pts = np.concatenate(pts)
    lo = np.clip(pts.min(0) - margin, 0.0, 1.0)
    hi = np.clip(pts.max(0) + margin, 0.0, 1.0)
    return [float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])]


def apply_roi(records, roi):
    for rec in records:
        rec.bbox = to_pixels_xywh(roi, rec.width, rec.height) if roi is not None else None


# --------------------------------------------------------------- upstream (absolute) ROI
def compute_roi_upstream(train_records, margin_px=10):
    """WebCeph2k's own ROI (its ``GetROI_before_train.py``): the box of every labelled
    training landmark in ABSOLUTE pixels (coordinates truncated to integers, as upstream
    does), grown by ``margin_px`` on each side. Returns ``[x0, y0, x1, y1]`` in pixels.

    It is offered for comparison with the upstream recipe. On a dataset of several image
    sizes it is a poor fit: one pixel box cannot cover the same anatomy on a 1935x2400 and
    a 2880x2304 image; the normalised prior (:func:`compute_roi_prior`) can.
    """
    pts = [rec.keypoints[~np.isnan(rec.keypoints[:, 0])] for rec in train_records]
    pts = [p for p in pts if len(p)]
    if not pts:
        raise ValueError('cannot compute a ROI: the training split has no labelled landmarks')
    pts = np.trunc(np.concatenate(pts))
    lo, hi = pts.min(0) - margin_px, pts.max(0) + margin_px
    return [float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])]


def apply_roi_upstream(records, roi_px):
    """Each image's bbox = the pixel box clipped to that image (upstream clips too)."""
    for rec in records:
        x0, y0 = max(roi_px[0], 0.0), max(roi_px[1], 0.0)
        x1, y1 = min(roi_px[2], float(rec.width)), min(roi_px[3], float(rec.height))
        if x1 <= x0 or y1 <= y0:        # the box misses a small image altogether
            x0, y0, x1, y1 = 0.0, 0.0, float(rec.width), float(rec.height)
        rec.bbox = (x0, y0, x1 - x0, y1 - y0)


def save_roi_upstream(roi_px, path, margin_px, n_train):
    write_json_atomic(dict(roi_xyxy_pixels=roi_px, margin_px=margin_px,
                           computed_from=f'{n_train} training images',
                           note='absolute pixels, clipped to each image; the datasets and '
                                'inference use roi_prior.json (normalised) only'), path)
