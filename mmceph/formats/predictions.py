"""The per-image predictions dump (``PREFIX.predictions.json``), described once: the metric
writes it (:func:`write_predictions`, atomically), the analysis tools read it
(:func:`load_predictions`, checked, one-line errors naming the file) and take its errors as
one (N, K) matrix (:func:`error_matrix`).

Schema::

    {"keypoint_names": [K names], "unit": "mm" | "px", "radii": [SDR radii],
     "reference": the annotation the errors are measured against,
     "images": [{"img_id", "img_path", "pixel_spacing": [sx, sy] | s | null,
                 "pred": K x [x, y], "scores": K, "gt": K x ([x, y] | null),
                 "error": K x (number | null)}, ...]}
"""
import json
import math
from typing import Optional, Sequence

import numpy as np

from ..utils.atomic import write_atomic
from ..utils.errors import UserError

SUFFIX = '.predictions.json'
DEFAULT_RADII = [2.0, 2.5, 3.0, 4.0]


class PredictionsFormatError(UserError):
    """A predictions dump that cannot be read; the message names the file and the place."""


def image_record(img_id, img_path: str, spacing, pred: np.ndarray, scores: np.ndarray,
                 gt: np.ndarray, labelled: np.ndarray, error: np.ndarray) -> dict:
    """One image of the dump; unlabelled landmarks (``labelled`` False) and NaN errors
    become null.

    Note:
        ``pred``, ``gt``: (K, 2) pixels; ``scores``, ``labelled``, ``error``: (K, ).
    """
    return dict(img_id=img_id, img_path=img_path, pixel_spacing=spacing,
                pred=np.asarray(pred).round(3).tolist(),
                scores=np.asarray(scores).round(4).tolist(),
                gt=[np.asarray(g).round(3).tolist() if v else None
                    for g, v in zip(gt, labelled)],
                error=[None if np.isnan(e) else round(float(e), 4) for e in error])


def write_predictions(path: str, names: Sequence[str], unit: str, radii: Sequence[float],
                      reference: str, images: Sequence[dict]) -> None:
    """Write the dump to ``path`` all or nothing (a killed run leaves no half file)."""
    write_atomic(path, json.dumps(dict(keypoint_names=list(names), unit=unit,
                                       radii=list(radii), reference=reference,
                                       images=list(images)), indent=1))


def is_number(v) -> bool:
    """A finite JSON number (``true``/``false`` are not numbers here)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def image_label(img: dict) -> str:
    """How an error names the image: its path, else its id."""
    return img.get('img_path') or f'id {img.get("img_id")!r}'


def load_predictions(path: str) -> dict:
    """The dump at ``path``, checked against the schema (``radii`` defaulted when absent).

    Raises:
        PredictionsFormatError: naming ``path`` and the first entry that is wrong.
    """
    try:
        with open(path, encoding='utf-8') as f:
            dump = json.load(f)
    except FileNotFoundError:
        raise PredictionsFormatError(f'{path}: no such file') from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PredictionsFormatError(f'{path}: not a readable JSON file ({e})') from e

    def bad(msg):
        return PredictionsFormatError(f'{path}: invalid predictions dump: {msg}')

    if not isinstance(dump, dict):
        raise bad('top level is not an object')
    for key in ('keypoint_names', 'unit', 'images'):
        if key not in dump:
            raise bad(f'missing key "{key}"')
    names, images = dump['keypoint_names'], dump['images']
    if not isinstance(names, list) or not names:
        raise bad('"keypoint_names" must be a non-empty list')
    if not isinstance(images, list) or not images:
        raise bad('"images" must be a non-empty list')
    k = len(names)
    for i, img in enumerate(images):
        if not isinstance(img, dict):
            raise bad(f'images[{i}] is not an object')
        where = f'images[{i}]'
        which = f' (image {image_label(img)})'
        for key in ('pred', 'gt', 'error'):
            if not isinstance(img.get(key), list) or len(img[key]) != k:
                raise bad(f'{where}["{key}"]{which} must be a list of {k} entries')
        for key, nullable in (('pred', False), ('gt', True)):
            for j, point in enumerate(img[key]):
                if not (nullable and point is None) and not (
                        isinstance(point, list) and len(point) == 2
                        and all(is_number(v) for v in point)):
                    raise bad(f'{where}["{key}"][{j}]{which} must be [x, y] (finite numbers)'
                              + (' or null' if nullable else '') + f', not {point!r:.40}')
        for j, e in enumerate(img['error']):
            if e is not None and not (is_number(e) and e >= 0):
                raise bad(f'{where}["error"][{j}]{which} must be a number >= 0 or null, '
                          f'not {e!r:.40}')
        sp = img.get('pixel_spacing')
        values = sp if isinstance(sp, list) else [sp]
        if sp is not None and (len(values) not in (1, 2) or not all(
                is_number(v) and v > 0 for v in values)):
            raise bad(f'{where}["pixel_spacing"]{which} must be a positive number, '
                      f'[sx, sy] of positive numbers or null, not {sp!r:.40}')
    radii = dump.setdefault('radii', list(DEFAULT_RADII))
    if not isinstance(radii, list) or not radii or not all(
            isinstance(r, (int, float)) and r > 0 for r in radii):
        raise bad('"radii" must be a non-empty list of positive numbers')
    return dump


def error_matrix(dump: dict) -> np.ndarray:
    """(N, K) radial errors of a dump, NaN where the ground truth (or the error) is missing."""
    return np.array([[np.nan if e is None or g is None else float(e)
                      for e, g in zip(img['error'], img['gt'])]
                     for img in dump['images']], dtype=float).reshape(
                         len(dump['images']), len(dump['keypoint_names']))


def reference_name(dump: dict, default: Optional[str] = 'as annotated') -> Optional[str]:
    """The annotation a dump's errors are measured against, as the metric recorded it."""
    return dump.get('reference') or default
