"""Square, rotated patches cut from a full-resolution image, and the maps back.

One implementation for both places that cut refiner patches: the training pipeline
(``SampleRefinerPatches``, in dataloader workers) and ``LandmarkCascade.predict`` (around
the global estimate). It returns uint8 pixels only: normalisation belongs to the model's
data preprocessor, so both paths feed the refiner exactly what the global model gets.
"""
from typing import Sequence, Tuple

import cv2
import numpy as np
from mmpose.structures.bbox import get_warp_matrix


def warp_patches(image: np.ndarray, centres: np.ndarray, sides: Sequence[float],
                 angles: Sequence[float], patch_size: Tuple[int, int]
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """Cut one square patch per (centre (x, y), side in image pixels, rotation in degrees),
    resampled to ``patch_size`` (w, h) the way ``TopdownAffine`` resamples the global crop.

    Returns: the patches, uint8 (N, C, h, w) (the layout the data preprocessor takes), and
    each patch's image->patch affine matrix (N, 2, 3).
    """
    patch_size = tuple(int(v) for v in patch_size)
    patches, warps = [], []
    for centre, side, angle in zip(np.asarray(centres, np.float32), sides, angles):
        warp = get_warp_matrix(centre, np.array([side, side], np.float32), float(angle),
                               patch_size)
        patch = cv2.warpAffine(image, warp, patch_size, flags=cv2.INTER_LINEAR)
        patches.append(patch.reshape(patch.shape[0], patch.shape[1], -1))
        warps.append(warp)
    if not patches:
        channels = image.shape[2] if image.ndim == 3 else 1
        return (np.zeros((0, channels, patch_size[1], patch_size[0]), np.uint8),
                np.zeros((0, 2, 3), np.float32))
    return np.stack(patches).transpose(0, 3, 1, 2).copy(), np.stack(warps)


def apply_affine(warp: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (N, 2) mapped by a 2x3 affine matrix."""
    return points @ warp[:, :2].T + warp[:, 2]


def to_image(warp: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Patch coordinates (N, 2) back to image coordinates (the inverse of ``warp``)."""
    return apply_affine(cv2.invertAffineTransform(warp), points)
