"""PatchVotingLabel: global patch voting targets (Noothout et al. 2020, IEEE TMI).

The input is cut into a grid of ``s x s`` patches (``s`` = the feature stride). For each
landmark, every patch predicts the probability that it contains the landmark and the
displacement from its centre to the landmark; the landmark is the probability-weighted
mean of the patches' votes (centre + displacement). Displacements are log-scaled,
``t = sign(d) * log(1 + |d| / scale)``, as in the paper: near votes (the ones that matter)
keep their resolution and far ones cannot dominate the regression loss.

Grid convention ("area-aligned", as ``CompensatedHeatmap``): patch ``j`` covers input
pixels ``s*j .. s*j+s-1`` (pixel centres at integer indices), so it is centred at input
coordinate ``s*j + (s-1)/2`` -- the footprint of one feature cell of a stride-``s``
space-to-depth backbone. A landmark at ``x`` lies in patch ``floor((x + 0.5) / s)``.
"""
from typing import Optional, Tuple

import numpy as np
from mmpose.codecs.base import BaseKeypointCodec
from mmpose.registry import KEYPOINT_CODECS


def log_scale(d, scale: float = 1.0):
    """Displacement (input px) -> log-scaled regression target."""
    return np.sign(d) * np.log1p(np.abs(d) / scale)


def inverse_log_scale(t, scale: float = 1.0):
    """Log-scaled target -> displacement in input px (inverse of :func:`log_scale`)."""
    return np.sign(t) * np.expm1(np.abs(t)) * scale


@KEYPOINT_CODECS.register_module()
class PatchVotingLabel(BaseKeypointCodec):
    """Per-patch presence and log-scaled displacement targets; voting decoder.

    Shapes (K landmarks, grid ``Hp x Wp = H/s x W/s``):

    - encode: keypoints (1, K, 2) in input pixels, keypoints_visible (1, K) ->
      ``presence`` (K, Hp, Wp) in [0, 1], ``displacements`` (2K, Hp, Wp) with channels
      ``2k, 2k+1`` = log-scaled (dx, dy) of landmark k from each patch centre,
      ``keypoint_weights`` (1, K) (0 for missing landmarks or ones outside the input).
    - decode: presence probabilities (K, Hp, Wp) and log-scaled displacements
      (2K, Hp, Wp), each optionally with a leading instance axis of 1 -> keypoints
      (1, K, 2) in input pixels and scores (1, K) (the highest patch probability).

    Args:
        input_size (Tuple[int, int]): (w, h) of the network input; both divisible by ``patch_size``.
        patch_size (int): patch side in input pixels (= the stride of the predicted maps).
        radius (float): 0 gives one-hot presence (only the patch holding the landmark). With
            ``radius > 0`` (input px) patches whose centre is within ``radius`` of the
            landmark get ``1 - distance / radius`` (the holding patch always 1): more
            patches learn to vote, and the head trains displacements where presence > 0.
        scale (float): displacement unit (input px) of the log scaling.
        topk (int, optional): decode from the ``topk`` most probable patches only (None: all).
        threshold (float, optional): decode from patches with probability >= threshold only
            (None: all); if none passes, the most probable patch votes alone.
    """
    field_mapping_table = dict(presence='presence', displacements='displacements')
    label_mapping_table = dict(keypoint_weights='keypoint_weights')

    def __init__(self, input_size: Tuple[int, int], patch_size: int = 32, radius: float = 0.0,
                 scale: float = 1.0, topk: Optional[int] = None,
                 threshold: Optional[float] = None):
        super().__init__()
        self.input_size = tuple(int(v) for v in input_size)
        self.patch_size = int(patch_size)
        if any(v % self.patch_size for v in self.input_size):
            raise ValueError(f'input_size {self.input_size} must be divisible by '
                             f'patch_size {self.patch_size}')
        self.grid_size = tuple(v // self.patch_size for v in self.input_size)   # (Wp, Hp)
        self.radius = float(radius)
        self.scale = float(scale)
        self.topk = topk
        self.threshold = threshold

    def patch_centres(self) -> np.ndarray:
        """(2, Hp, Wp) input coordinates (x, y) of the patch centres."""
        s = self.patch_size
        ys, xs = np.mgrid[0:self.grid_size[1], 0:self.grid_size[0]].astype(np.float64)
        return np.stack([s * xs + (s - 1) / 2, s * ys + (s - 1) / 2])

    # --- encode --------------------------------------------------------------------------
    def encode(self, keypoints: np.ndarray, keypoints_visible: Optional[np.ndarray] = None) -> dict:
        assert keypoints.shape[0] == 1, f'{type(self).__name__} encodes one instance'
        K = keypoints.shape[1]
        if keypoints_visible is None:
            keypoints_visible = np.ones((1, K), np.float32)
        (W, H), (Wp, Hp) = self.input_size, self.grid_size
        kpts = np.asarray(keypoints, np.float64)[0, :, :2]                     # (K, 2)
        weights = np.asarray(keypoints_visible, np.float32).reshape(1, K).copy()
        # Landmarks outside the input have no patch; missing ones have no position.
        inside = (np.isfinite(kpts).all(1) & (kpts[:, 0] >= -0.5) & (kpts[:, 0] <= W - 0.5)
                  & (kpts[:, 1] >= -0.5) & (kpts[:, 1] <= H - 0.5))
        weights[0, ~inside] = 0
        valid = weights[0] > 0
        kpts = np.where(valid[:, None], kpts, 0.0)

        centres = self.patch_centres()                                        # (2, Hp, Wp)
        offsets = kpts[:, :, None, None] - centres[None]                      # (K, 2, Hp, Wp)
        presence = np.zeros((K, Hp, Wp), np.float64)
        if self.radius > 0:
            presence = np.clip(1 - np.hypot(offsets[:, 0], offsets[:, 1]) / self.radius, 0, 1)
        cell = np.floor((kpts + 0.5) / self.patch_size).astype(int)
        cx, cy = np.clip(cell[:, 0], 0, Wp - 1), np.clip(cell[:, 1], 0, Hp - 1)
        presence[np.arange(K), cy, cx] = 1
        presence[~valid] = 0
        displacements = log_scale(offsets, self.scale)
        displacements[~valid] = 0
        return dict(presence=presence.astype(np.float32),
                    displacements=displacements.reshape(2 * K, Hp, Wp).astype(np.float32),
                    keypoint_weights=weights)

    # --- decode --------------------------------------------------------------------------
    def decode(self, presence: np.ndarray, displacements: np.ndarray
               ) -> Tuple[np.ndarray, np.ndarray]:
        prob = np.asarray(presence, np.float64)
        prob = prob.reshape(prob.shape[-3], -1).clip(min=0)                  # (K, P)
        K = prob.shape[0]
        votes = self.patch_centres().reshape(1, 2, -1) + inverse_log_scale(
            np.asarray(displacements, np.float64).reshape(K, 2, -1), self.scale)   # (K, 2, P)
        best = prob.argmax(1)
        scores = prob[np.arange(K), best]

        weights = prob.copy()
        if self.topk is not None and self.topk < weights.shape[1]:
            dropped = np.argsort(-weights, axis=1, kind='stable')[:, self.topk:]
            np.put_along_axis(weights, dropped, 0, axis=1)
        if self.threshold is not None:
            weights[weights < self.threshold] = 0
        # No patch left (or all probabilities 0): the most probable patch votes alone.
        empty = weights.sum(1) <= 0
        weights[empty] = 0
        weights[empty, best[empty]] = 1

        keypoints = (votes * weights[:, None]).sum(2) / weights.sum(1)[:, None]
        return keypoints[None].astype(np.float32), scores[None].astype(np.float32)
