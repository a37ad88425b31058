"""Test-time views and model ensembles: the mean of several predictions of one image.

Both are the same operation on a :class:`~.base.PredictorBase`: run one or more member
predictors on one or more *views* of the ROI (the crop box shifted or scaled, so the
network sees the image resampled on another grid) and average the landmarks in image
pixels. Averaging coordinates in the image frame is exact here because every view maps
its heatmap back through its own crop: no view has to be un-shifted by hand. Torch-free:
the members may be PyTorch or ONNX predictors.
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np

from .base import PredictorBase, base_provenance

View = Tuple[float, float, float]          # (dx, dy, scale); shifts in ROI widths/heights


def view_grid(shift: float = 0.0, scales: Sequence[float] = ()) -> List[View]:
    """The identity view, then the four shifts ``(±shift, 0)``, ``(0, ±shift)`` (a fraction
    of the ROI's width / height) when ``shift`` > 0, then each scale != 1 of ``scales``."""
    views: List[View] = [(0.0, 0.0, 1.0)]
    if shift > 0:
        views += [(shift, 0.0, 1.0), (-shift, 0.0, 1.0), (0.0, shift, 1.0), (0.0, -shift, 1.0)]
    views += [(0.0, 0.0, float(s)) for s in scales if float(s) != 1.0]
    return views


def view_bbox(bbox: np.ndarray, view: View) -> np.ndarray:
    """``bbox`` ((1, 4) xyxy) moved by ``(dx, dy)`` of its size and scaled by ``scale``
    about its centre."""
    dx, dy, scale = view
    x0, y0, x1, y1 = np.asarray(bbox, np.float64).reshape(4)
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2 + dx * w, (y0 + y1) / 2 + dy * h
    return np.array([[cx - scale * w / 2, cy - scale * h / 2,
                      cx + scale * w / 2, cy + scale * h / 2]], np.float32)


class AveragedPredictor(PredictorBase):
    """The mean landmarks (and mean scores) of ``members`` x ``views``.

    All members must predict the same landmarks in the same order; the ROI prior, default
    spacing and site adaptation are the first member's (an ensemble is meant to be built
    from models trained on the same data). ``check_orientation`` is on by default, as in
    every predictor that gives clinical answers: ``predict`` then also runs every member
    and view on the image mirrored and upside down (``landmarks``, what evaluation calls,
    never does).
    """

    def __init__(self, members: Sequence[PredictorBase], views: Optional[Sequence[View]] = None,
                 check_orientation: bool = True):
        if not members:
            raise ValueError('AveragedPredictor needs at least one member predictor')
        first = members[0]
        for other in members[1:]:
            if list(other.names) != list(first.names):
                raise ValueError('AveragedPredictor: members predict different landmarks '
                                 f'({len(first.names)} vs {len(other.names)}, or another order)')
        self.members = list(members)
        self.views = list(views) if views else [(0.0, 0.0, 1.0)]
        for view in self.views:
            if len(view) != 3 or not float(view[2]) > 0:
                raise ValueError(f'AveragedPredictor: a view is (dx, dy, scale > 0), got {view}')
        self.names = list(first.names)
        self.roi_prior = first.roi_prior
        self.default_spacing = first.default_spacing
        self.site_adaptation = first.site_adaptation
        self.check_orientation = check_orientation
        self.provenance = base_provenance(
            dict(name='averaged', members=len(self.members), views=len(self.views)),
            members=[m.provenance for m in self.members], views=[list(v) for v in self.views])

    def _landmarks(self, pixels, bbox):
        kpts, scores = [], []
        for member in self.members:
            for view in self.views:
                k, s = member._landmarks(pixels, view_bbox(bbox, view))
                kpts.append(k)
                scores.append(s)
        return np.mean(kpts, axis=0), np.mean(scores, axis=0)
