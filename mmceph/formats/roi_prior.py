"""The ROI prior: one box in normalised image coordinates, ``[x0, y0, x1, y1]`` with
``0 <= x0 < x1 <= 1`` (likewise y), that holds every labelled landmark of the training
split plus a margin.

The converters compute it and save it as ``roi_prior.json`` beside the ``annotations/``
folder; the datasets read it into their metainfo, which MMEngine stores in every
checkpoint, and inference turns it into each new image's crop. This module is the one
helper for all of it: the file name, saving, loading (checked), and normalised <-> pixels.
"""
import json
import os.path as osp
from typing import List, Sequence, Tuple

from ..utils.atomic import write_atomic
from .json_checks import Checker, read_json

FILE_NAME = 'roi_prior.json'
KEY = 'roi_xyxy_normalised'


def roi_prior_path(ann_file: str) -> str:
    """Where the ROI prior of an annotation file lives: ``ROOT/roi_prior.json`` for
    ``ROOT/annotations/<split>.json``."""
    return osp.join(osp.dirname(osp.dirname(ann_file)), FILE_NAME)


def to_pixels_xyxy(roi: Sequence[float], width: float, height: float) -> Tuple[float, ...]:
    """Normalised ``[x0, y0, x1, y1]`` -> pixel ``(x0, y0, x1, y1)`` for one image."""
    x0, y0, x1, y1 = roi
    return (x0 * width, y0 * height, x1 * width, y1 * height)


def to_pixels_xywh(roi: Sequence[float], width: float, height: float) -> Tuple[float, ...]:
    """Normalised ``[x0, y0, x1, y1]`` -> pixel ``(x, y, w, h)`` (a COCO bbox)."""
    x0, y0, x1, y1 = roi
    return (x0 * width, y0 * height, (x1 - x0) * width, (y1 - y0) * height)


def save_roi_prior(roi: Sequence[float], path: str, margin: float, n_train: int) -> None:
    """Write ``roi_prior.json`` atomically, with how it was computed."""
    write_atomic(path, json.dumps({KEY: list(roi), 'margin': margin,
                                   'computed_from': f'{n_train} training images'}, indent=1))


def load_roi_prior(path: str) -> List[float]:
    """Read and check ``roi_prior.json``; a malformed file raises ``CocoFormatError``."""
    doc = read_json(path)
    c = Checker(path)
    c.object(doc, '(top level)')
    roi = c.numbers(c.get(doc, KEY, '(top level)'), KEY, 4, 'x0, y0, x1, y1 in [0, 1]')
    x0, y0, x1, y1 = roi
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        c.fail(KEY, f'expected 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, got {roi}')
    return [float(v) for v in roi]
