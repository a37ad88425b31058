"""The CompensatedHeatmap grid and decoder, in numpy/OpenCV only (the codec in
:mod:`mmceph.codecs.compensated_heatmap` adds the encoder and MMPose registration; the
ONNX runtime decodes with this class directly).

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
from typing import Tuple

import cv2
import numpy as np

PEAK_TIE = 1e-4    # relative: heatmap maxima this close count as a tie


class CompensatedHeatmapDecoder:
    """Grid convention and decoder of the CompensatedHeatmap codec (see the module doc).

    Args:
        input_size (tuple[int, int]): (w, h) of the network input, in pixels.
        heatmap_size (tuple[int, int]): (W, H) of the heatmaps; ``input_size /
            heatmap_size`` is the stride ``s``.
        sigma (float): the training Gaussian's sigma, in heatmap pixels. Default: 2.0.
        fit_radius (int): half-size of the first fit window, in heatmap pixels.
            Default: 3.
        fit_threshold (float): pixels below this fraction of the peak are left out of
            the fit (mostly noise). Default: 0.2.
    """

    def __init__(self, input_size: Tuple[int, int], heatmap_size: Tuple[int, int],
                 sigma: float = 2.0, fit_radius: int = 3, fit_threshold: float = 0.2):
        self.input_size = tuple(input_size)
        self.heatmap_size = tuple(heatmap_size)
        self.sigma = float(sigma)
        self.stride = np.array(input_size, np.float32) / np.array(heatmap_size, np.float32)
        self.fit_radius = int(fit_radius)
        self.fit_threshold = float(fit_threshold)

    def settings(self) -> dict:
        """The constructor arguments (what an exported model records)."""
        return dict(input_size=list(self.input_size), heatmap_size=list(self.heatmap_size),
                    sigma=self.sigma, fit_radius=self.fit_radius,
                    fit_threshold=self.fit_threshold)

    # --- coordinate maps (the one place the grid convention lives) ---------------------
    def to_heatmap(self, keypoints) -> np.ndarray:
        """Input pixels -> heatmap pixels (the area-aligned grid).

        Args:
            keypoints (np.ndarray): coordinates in input pixels, any leading shape.

        Returns:
            np.ndarray: float64 coordinates in heatmap pixels, the same shape.

        Note:
            - keypoints: (..., 2), (x, y)
        """
        return (np.asarray(keypoints, np.float64) + 0.5) / self.stride - 0.5

    def to_input(self, coords) -> np.ndarray:
        """Heatmap pixels -> input pixels, the inverse of :meth:`to_heatmap`.

        Args:
            coords (np.ndarray): coordinates in heatmap pixels, any leading shape.

        Returns:
            np.ndarray: float64 coordinates in input pixels, the same shape.

        Note:
            - coords: (..., 2), (x, y)
        """
        return (np.asarray(coords, np.float64) + 0.5) * self.stride - 0.5

    # --- decode --------------------------------------------------------------------------
    def decode(self, encoded: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Sub-pixel keypoints and their scores from K heatmaps (the steps of the module doc).

        Args:
            encoded (np.ndarray): the heatmaps of one instance.

        Returns:
            tuple:
            - keypoints (np.ndarray): float32 positions in input pixels.
            - scores (np.ndarray): float32 heatmap peak of each keypoint, clipped at 0
              (0: nothing found; the position is then the integer peak).

        Note:
            - encoded: (K, H, W)
            - keypoints: (1, K, 2)
            - scores: (1, K)
        """
        heatmaps = np.asarray(encoded, np.float32)
        K, H, W = heatmaps.shape
        peaks = self._integer_peaks(heatmaps)
        scores = heatmaps[np.arange(K), peaks[:, 1], peaks[:, 0]].clip(min=0)
        coords = np.array([self._locate(heatmaps[k], peaks[k]) if scores[k] > 0 else peaks[k]
                           for k in range(K)], np.float64).reshape(K, 2)
        return self.to_input(coords)[None].astype(np.float32), scores[None].astype(np.float32)

    def _integer_peaks(self, heatmaps):
        smooth = np.stack([cv2.GaussianBlur(h, (0, 0), self.sigma / 2,
                                            borderType=cv2.BORDER_CONSTANT) for h in heatmaps])
        smooth = smooth.reshape(len(heatmaps), -1)
        # Near-ties break by position, not by float rounding: two backends (PyTorch, ONNX
        # Runtime) give heatmaps 1e-7 apart, and a second peak that close to the first
        # would otherwise flip between them (seen on ISBI: a 0.3 px jump of one view).
        top = smooth.max(1, keepdims=True)
        flat = (smooth >= top - PEAK_TIE * np.abs(top)).argmax(1)
        return np.stack([flat % heatmaps.shape[2], flat // heatmaps.shape[2]], 1)

    def _locate(self, heatmap, peak):
        centre, width = self._fit_log_quadratic(heatmap, peak, self.fit_radius)
        if width is None or width <= self.sigma:
            return centre
        blur = np.sqrt(width ** 2 - self.sigma ** 2)
        radius = int(np.clip(round(np.sqrt(width ** 2 + blur ** 2)), 2, 6))
        margin = int(np.ceil(1.5 * np.sqrt(width ** 2 + blur ** 2)))   # blurred width
        H, W = heatmap.shape
        if not (margin <= peak[0] < W - margin and margin <= peak[1] < H - margin):
            return centre
        smooth = cv2.GaussianBlur(heatmap, (0, 0), blur, borderType=cv2.BORDER_CONSTANT)
        return self._fit_log_quadratic(smooth, peak, radius)[0]

    def _fit_log_quadratic(self, heatmap, peak, r):
        """Return (centre, width) of the Gaussian fitted around ``peak``; width is None
        when the weighted centroid had to be used."""
        H, W = heatmap.shape
        x0, x1 = max(0, peak[0] - r), min(W, peak[0] + r + 1)
        y0, y1 = max(0, peak[1] - r), min(H, peak[1] + r + 1)
        patch = heatmap[y0:y1, x0:x1].astype(np.float64)
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        if patch.max() <= 0:        # nothing to fit (e.g. an untrained head): the peak
            return np.asarray(peak, np.float64), None
        keep = patch > self.fit_threshold * patch.max()
        h, dx, dy = patch[keep], xs[keep] - peak[0], ys[keep] - peak[1]
        if h.size >= 6:
            A = np.stack([np.ones_like(dx), dx, dy, dx * dx, dy * dy, dx * dy], 1)
            w = h * h
            coef, *_ = np.linalg.lstsq(A * w[:, None], np.log(h) * w, rcond=None)
            _, b, c, d, e, f = coef
            hess = np.array([[2 * d, f], [f, 2 * e]])
            if d < 0 and e < 0 and np.linalg.det(hess) > 1e-12:
                offset = np.linalg.solve(hess, [-b, -c])
                if np.all(np.abs(offset) <= r):
                    width = (1 / (4 * d * e)) ** 0.25          # sqrt(sigma_x * sigma_y)
                    return peak + offset, width
        centroid = [(h * xs[keep]).sum() / h.sum(), (h * ys[keep]).sum() / h.sum()]
        return np.array(centroid), None
