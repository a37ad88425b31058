"""Affine crops in numpy/OpenCV: MMPose's top-down crop, and the cascade's square patches.

- The top-down crop reproduces MMPose 1.x's inference path for one box:
  ``GetBBoxCenterScale(padding)`` (centre and size of the xyxy box, times ``padding``),
  ``TopdownAffine`` (the size grown to the input's aspect ratio, then
  ``get_warp_matrix(centre, scale, rot=0, input_size)`` and a bilinear ``cv2.warpAffine``)
  and ``TopdownPoseEstimator.add_pred_to_datasample`` (input pixels back to the image:
  ``p / input_size * scale + centre - scale / 2``). :func:`get_warp_matrix` is MMPose's
  formula (three point pairs: the centre, the centre + half the width along the rotated x
  axis, and the point 90 degrees from it), so the PyTorch path and the ONNX runtime cut
  the same pixels; ``tests/test_runtime`` checks it against ``mmpose.structures.bbox``.
- The patches of ``LandmarkCascade``: one implementation for both places that cut them,
  the training pipeline (``SampleRefinerPatches``, in dataloader workers) and prediction
  (around the global estimate, in PyTorch or in :mod:`mmceph.runtime`). Training cuts
  uint8 patches with ``cv2.warpAffine``; prediction samples float32 ones exactly
  (:func:`sample_bilinear`: continuous in the patch centre). Both are 0-255:
  normalisation belongs to the model's data preprocessor (or the runtime's copy of its
  mean/std), so the refiner gets exactly what the global model gets.
"""
from typing import Sequence, Tuple

import cv2
import numpy as np


def get_warp_matrix(center, scale, rot: float, output_size) -> np.ndarray:
    """Image -> output affine (2, 3) of a box (centre (x, y), size (w, h)) rotated by
    ``rot`` degrees, resampled to ``output_size`` (w, h) with its aspect ratio kept (the
    box's width spans the output's width)."""
    center = np.asarray(center, np.float64)
    src_w = float(np.asarray(scale).reshape(-1)[0])
    dst_w, dst_h = (float(v) for v in output_size[:2])
    rad = np.deg2rad(rot)
    sn, cs = np.sin(rad), np.cos(rad)
    src_dir = np.array([[cs, -sn], [sn, cs]]) @ np.array([src_w * -0.5, 0.0])
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0] = center
    src[1] = center + src_dir
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = [0.0, dst_h * 0.5]                # centre + (-dst_w / 2, 0)

    def third(a, b):                       # b + (a - b) turned by 90 degrees
        d = a - b
        return b + np.r_[-d[1], d[0]]
    src[2] = third(src[0], src[1])
    dst[2] = third(dst[0], dst[1])
    return cv2.getAffineTransform(np.float32(src), np.float32(dst))


def topdown_box(bbox_xyxy, input_size, padding: float = 1.0) -> Tuple[np.ndarray, np.ndarray]:
    """The crop MMPose cuts for one box: ``GetBBoxCenterScale(padding)`` then
    ``TopdownAffine``'s aspect-ratio fix.

    Args:
        bbox_xyxy (np.ndarray): the box (x0, y0, x1, y1) in image pixels.
        input_size (tuple[int, int]): (w, h) of the network input.
        padding (float): box enlargement factor. Default: 1.0.

    Returns:
        tuple:
        - center (np.ndarray): float32 (x, y) of the crop, shape (2, )
        - scale (np.ndarray): float32 (w, h) of the crop in image pixels, shape (2, )
    """
    x0, y0, x1, y1 = (float(v) for v in np.asarray(bbox_xyxy, np.float64).reshape(-1)[:4])
    center = np.array([(x0 + x1) * 0.5, (y0 + y1) * 0.5], np.float32)
    w, h = (np.array([x1 - x0, y1 - y0], np.float32) * padding)
    aspect = input_size[0] / input_size[1]
    scale = np.array([w, w / aspect] if w > h * aspect else [h * aspect, h], np.float32)
    return center, scale


def crop(image: np.ndarray, center, scale, input_size) -> np.ndarray:
    """The top-down crop of ``image``, bilinear as ``TopdownAffine``.

    Args:
        image (np.ndarray): the image.
        center (np.ndarray): (x, y) of the crop, from :func:`topdown_box`.
        scale (np.ndarray): (w, h) of the crop in image pixels.
        input_size (tuple[int, int]): (w, h) of the output.

    Returns:
        np.ndarray: the crop, the image's dtype.

    Note:
        - image: (H, W) or (H, W, C)
        - crop: (h, w) or (h, w, C), (w, h) = input_size
    """
    size = tuple(int(v) for v in input_size)
    return cv2.warpAffine(image, get_warp_matrix(center, scale, 0.0, size), size,
                          flags=cv2.INTER_LINEAR)


def crop_to_image(points, center, scale, input_size) -> np.ndarray:
    """Crop (network input) pixels -> image pixels, as MMPose maps predictions.

    Args:
        points (np.ndarray): coordinates in crop pixels.
        center (np.ndarray): (x, y) of the crop.
        scale (np.ndarray): (w, h) of the crop in image pixels.
        input_size (tuple[int, int]): (w, h) of the crop.

    Returns:
        np.ndarray: float32 coordinates in image pixels, the same shape.

    Note:
        - points: (..., 2), (x, y)
    """
    center, scale = np.asarray(center, np.float32), np.asarray(scale, np.float32)
    return (np.asarray(points, np.float32) / np.asarray(input_size, np.float32) * scale
            + center - 0.5 * scale)


def sample_bilinear(image: np.ndarray, warps: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Float32 (N, C, h, w) samples of ``image`` (H, W[, C]) through each unrotated
    image->output affine (N, 2, 3): bilinear with zeros outside, as ``cv2.warpAffine`` with
    a constant border, but exact in float -- without its 1/32-px coordinate steps and its
    uint8 rounding.

    Why: a refined position must be a continuous function of the patch centre. The two
    backends' global estimates differ by ~1e-3 px; in rounded uint8 patches that flips a
    few pixels by a whole grey level, which a refiner and its decoder turned into up to
    0.15 px (ISBI, Lite0 refiner). Float samples move by ~1e-3 px, as the centre does.
    Unrotated (what prediction cuts), each axis is interpolated on its own.
    """
    w, h = (int(v) for v in size)
    inv = np.stack([cv2.invertAffineTransform(np.asarray(m, np.float64)) for m in warps])
    if len(inv) and np.abs(inv[:, [0, 1], [1, 0]]).max() * max(w, h) > 1e-6:   # not float dust
        raise ValueError('sample_bilinear takes unrotated warps (scale and shift only)')
    H, W = image.shape[:2]
    img = image.reshape(H, W, -1)
    channels = img.shape[2]

    def axis(scale, shift, n, limit):
        """Index (in an image padded by two zero pixels: neighbours outside it read zeros,
        further out clip onto them) of the first of the two neighbours, and the second's
        weight, per output pixel along one axis."""
        pos = scale[:, None] * np.arange(n, dtype=np.float64) + shift[:, None]    # (N, n)
        base = np.floor(pos)
        return np.clip(base, -2, limit).astype(np.int64) + 2, (pos - base).astype(np.float32)

    left, fx = axis(inv[:, 0, 0], inv[:, 0, 2], w, W)
    top, fy = axis(inv[:, 1, 1], inv[:, 1, 2], h, H)
    row = W + 4
    first = top[:, :, None] * row + left[:, None, :]                     # (N, h, w)
    fx, fy = fx[:, None, :], fy[:, :, None]

    def sample(plane):
        padded = np.zeros((H + 4, row), plane.dtype)
        padded[2:-2, 2:-2] = plane
        flat = padded.reshape(-1)
        # the other three neighbours: the same index into the image shifted by 1, row, row+1
        tl, tr, bl, br = (np.take(flat[k:], first).astype(np.float32)
                          for k in (0, 1, row, row + 1))
        tr -= tl
        tr *= fx
        tl += tr             # the top neighbours' row, interpolated along x
        br -= bl
        br *= fx
        bl += br             # the bottom neighbours' row
        bl -= tl
        bl *= fy
        tl += bl
        return tl

    # a grey image in equal channels (as to_uint8_bgr gives it): sample one, same result
    if all(np.array_equal(img[..., 0], img[..., c]) for c in range(1, channels)):
        return np.repeat(sample(img[..., 0])[:, None], channels, axis=1)
    return np.stack([sample(img[..., c]) for c in range(channels)], 1)


def warp_patches(image: np.ndarray, centres: np.ndarray, sides: Sequence[float],
                 angles: Sequence[float], patch_size: Tuple[int, int], exact: bool = False
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """Cut one square patch per (centre (x, y), side in image pixels, rotation in degrees),
    resampled to ``patch_size`` (w, h) the way ``TopdownAffine`` resamples the global crop.

    Returns: the patches (N, C, h, w) (the layout the data preprocessor takes), and each
    patch's image->patch affine matrix (N, 2, 3). The patches are uint8 from
    ``cv2.warpAffine`` (training: small to pass between processes), or, with ``exact``,
    float32 from :func:`sample_bilinear` (prediction: continuous in the centre).
    """
    patch_size = tuple(int(v) for v in patch_size)
    warps = [get_warp_matrix(centre, np.array([side, side], np.float32), float(angle),
                             patch_size)
             for centre, side, angle in zip(np.asarray(centres, np.float32), sides, angles)]
    channels = image.shape[2] if image.ndim == 3 else 1
    if not warps:
        return (np.zeros((0, channels, patch_size[1], patch_size[0]),
                         np.float32 if exact else np.uint8), np.zeros((0, 2, 3), np.float32))
    if exact:
        return sample_bilinear(image, np.stack(warps), patch_size), np.stack(warps)
    patches = np.stack([cv2.warpAffine(image, warp, patch_size, flags=cv2.INTER_LINEAR
                                       ).reshape(patch_size[1], patch_size[0], channels)
                        for warp in warps])
    return patches.transpose(0, 3, 1, 2).copy(), np.stack(warps)


def apply_affine(warp: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points mapped by an affine matrix.

    Args:
        warp (np.ndarray): the affine matrix, shape (2, 3).
        points (np.ndarray): (x, y) coordinates, shape (N, 2).

    Returns:
        np.ndarray: the mapped points, shape (N, 2).
    """
    return points @ warp[:, :2].T + warp[:, 2]


def to_image(warp: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Patch coordinates back to image coordinates (the inverse of ``warp``).

    Args:
        warp (np.ndarray): the image->patch affine matrix, shape (2, 3).
        points (np.ndarray): (x, y) in patch pixels, shape (N, 2).

    Returns:
        np.ndarray: (x, y) in image pixels, shape (N, 2).
    """
    return apply_affine(cv2.invertAffineTransform(warp), points)
