"""CompensatedHeatmap: sub-pixel exact Gaussian heatmaps with a robust decoder.

The grid convention ("area-aligned": heatmap pixel ``i`` at stride ``s`` centred at input
coordinate ``s*i + (s-1)/2``, the footprint of a space-to-depth cell) and the decoder
(log-quadratic fit, matched blur for wide peaks, clipped border windows) live in the
torch-free :mod:`mmceph.core.heatmap_decode`, which the ONNX runtime uses too; this
module adds the encoder (sub-pixel Gaussians on the same grid, so nothing is lost in
the round trip) and MMPose's codec registration.
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

    Note:
        - instance number: N (1: one instance per image)
        - keypoint number: K
        - keypoint dimension: D (2: x, y in input-image pixels)
        - input size: [w, h]
        - heatmap size: [W, H]

    Encoded:
        - heatmaps (np.ndarray): (K, H, W), float32 Gaussians on the area-aligned grid
        - keypoint_weights (np.ndarray): (N, K), 0 where the keypoint is not visible or its
          centre falls outside the heatmap

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
        """Encode one instance's keypoints as heatmaps (:meth:`decode` inverts it exactly).

        Args:
            keypoints (np.ndarray): keypoint coordinates in input pixels, shape (1, K, 2).
            keypoints_visible (np.ndarray, optional): visibility, shape (1, K); default
                all visible.

        Returns:
            dict:
            - heatmaps (np.ndarray): (K, H, W) float32
            - keypoint_weights (np.ndarray): (1, K) float32
        """
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
