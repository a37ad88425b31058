"""CompensatedHeatmap: sub-pixel exact Gaussian heatmaps with a robust decoder.

Grid convention ("area-aligned"): heatmap pixel ``i`` at stride ``s`` stands for the
input pixels ``s*i .. s*i+s-1`` and is centred at input coordinate ``s*i + (s-1)/2``
(pixel centres at integer indices). This is exactly the footprint of a space-to-depth
cell (``PixelUnshuffle(s)``) and of a ``PixelShuffle`` output pixel, so the codec agrees
with the S2D backbone and the depth-to-space head; encode and decode use the same map,
so nothing is lost in the round trip.

Decode ("compensation"), per keypoint:
1. the integer peak is the maximum of a lightly smoothed copy (robust to noise);
2. ``log h`` in a window of radius ``fit_radius`` around it is fitted by a quadratic,
   by least squares weighted with h^2 over the pixels above ``fit_threshold`` of the
   peak. A Gaussian of *any* width is exactly quadratic in log space, so this is
   unbiased for narrower or wider peaks than the training sigma; the window ignores a
   distant second peak; the window is clipped (not padded) at the border, so border
   peaks stay unbiased; the quadratic's curvature gives the peak's width;
3. when the peak is wider than the training sigma (a blurred, uncertain prediction,
   where noise dominates a small window), the heatmap is smoothed by the Gaussian that
   the extra width calls for (a matched filter: a Gaussian stays a Gaussian with the
   same centre) and step 2 is repeated with a window fitted to the new width -- for
   peaks far enough from the border for the blur not to shift them;
4. a degenerate fit (flat or not concave) falls back to the weighted centroid.
"""
from typing import Optional, Tuple

import numpy as np
from mmpose.codecs.base import BaseKeypointCodec
from mmpose.registry import KEYPOINT_CODECS

# the grid convention and the decoder live in the torch-free core (shared with mmceph.runtime)
from ..core.heatmap_decode import CompensatedHeatmapDecoder


@KEYPOINT_CODECS.register_module()
class CompensatedHeatmap(CompensatedHeatmapDecoder, BaseKeypointCodec):
    """Encode keypoints as sub-pixel Gaussians; decode them robustly.

    Shapes: keypoints (N=1, K, 2) in input-image pixels; heatmaps (K, H, W).

    Args:
        input_size (tuple[int, int]): (w, h) of the network input.
        heatmap_size (tuple[int, int]): (W, H); ``input_size / heatmap_size`` is the stride.
        sigma (float): Gaussian sigma in heatmap pixels.
        fit_radius (int): half-size of the first fit window in heatmap pixels (default 3).
        fit_threshold (float): pixels below this fraction of the peak are left out of the
            fit (they are mostly noise; default 0.2).
    """
    label_mapping_table = dict(keypoint_weights='keypoint_weights')
    field_mapping_table = dict(heatmaps='heatmaps')

    def __init__(self, input_size: Tuple[int, int], heatmap_size: Tuple[int, int],
                 sigma: float = 2.0, fit_radius: int = 3, fit_threshold: float = 0.2):
        BaseKeypointCodec.__init__(self)
        CompensatedHeatmapDecoder.__init__(self, input_size, heatmap_size, sigma, fit_radius,
                                           fit_threshold)

    # --- encode --------------------------------------------------------------------------
    def encode(self, keypoints: np.ndarray, keypoints_visible: Optional[np.ndarray] = None) -> dict:
        assert keypoints.shape[0] == 1, f'{type(self).__name__} encodes one instance'
        if keypoints_visible is None:
            keypoints_visible = np.ones(keypoints.shape[:2], np.float32)
        W, H = self.heatmap_size
        K = keypoints.shape[1]
        mu = self.to_heatmap(keypoints[0])                                   # (K, 2)
        xs, ys = np.arange(W, dtype=np.float64), np.arange(H, dtype=np.float64)
        gx = np.exp(-(xs[None] - mu[:, :1]) ** 2 / (2 * self.sigma ** 2))  # (K, W)
        gy = np.exp(-(ys[None] - mu[:, 1:]) ** 2 / (2 * self.sigma ** 2))  # (K, H)
        heatmaps = (gy[:, :, None] * gx[:, None, :]).astype(np.float32)
        weights = np.asarray(keypoints_visible, np.float32).reshape(1, K).copy()
        # A keypoint whose Gaussian centre lies outside the heatmap cannot be learned.
        outside = ((mu[:, 0] < -0.5) | (mu[:, 0] > W - 0.5)
                   | (mu[:, 1] < -0.5) | (mu[:, 1] > H - 0.5))
        weights[0, outside | ~np.isfinite(mu).all(1)] = 0
        heatmaps[weights[0] <= 0] = 0
        return dict(heatmaps=heatmaps, keypoint_weights=weights)
