"""The prediction half of ``LandmarkCascade`` in numpy: refinement rounds around a global
estimate. The PyTorch model (:class:`mmceph.models.LandmarkCascade`) and the ONNX runtime
(:mod:`mmceph.runtime`) both call :func:`refine_landmarks`; they differ only in the
``heatmaps_of`` function of each refiner (patches in, heatmaps out). The patches are
sampled exactly in float (:func:`mmceph.core.warp.sample_bilinear`), so that the refined
positions are continuous in the global estimate, which the two backends give ~1e-3 px
apart: rounded uint8 patches turned that into 0.15 px (issue 28).

Per round, every refiner looks at one patch per test view (shift x scale) around each of
the K landmarks, reads landmark ``k`` from channel ``k`` of the patch centred on it and
maps it back to the image; the views' positions are combined by mean or median (per
coordinate), the scores by mean. With ``max_shift``, a landmark that moved further than
``max_shift`` x the first refiner's patch side from the global estimate keeps the global
estimate (its patch most likely locked onto a look-alike structure). With ``landmarks``,
only those landmarks are refined (the rest keep the global estimate and cost nothing): the
refiner's cost is per patch, so refining the few landmarks where it pays most buys most
of its accuracy for a fraction of its cost. With a refiner's ``landmark_scales``, landmark
``k``'s patches are ``landmark_scales[k]`` times the nominal side (more context for the
ill-defined points; the refiner must have been trained so, see ``SampleRefinerPatches``).
"""
from typing import Callable, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from .warp import to_image, warp_patches


class Refiner(NamedTuple):
    fraction: float                    # patch side / global crop width
    patch_size: Tuple[int, int]        # refiner input (w, h)
    heatmaps_of: Callable              # float32 (N, C, h, w) 0-255 -> heatmaps (N, K, H, W)
    decoder: object                    # .decode((N, H, W)) -> ((1, N, 2), (1, N)) in patch px
    landmark_scales: Optional[np.ndarray] = None   # (K, ) patch side factor per landmark


def landmark_scales(values, num_landmarks: Optional[int] = None) -> Optional[np.ndarray]:
    """``values`` (one positive patch side factor per landmark, or None) as a float32
    array; one-line ``ValueError`` when they are not positive numbers or, with
    ``num_landmarks``, not one per landmark."""
    if values is None:
        return None
    scales = np.asarray(values, np.float32).reshape(-1)
    if not scales.size or not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise ValueError(f'landmark_patch_scales must be positive numbers, got {list(values)}')
    if num_landmarks is not None and scales.size != num_landmarks:
        raise ValueError(f'landmark_patch_scales has {scales.size} values, the model has '
                         f'{num_landmarks} landmarks')
    return scales


def refine_views(refiner: Refiner, image, kpts, side, shifts, scales, channels=None):
    """One refiner's test views of every landmark: a patch per (view, landmark), decoded.

    Args:
        refiner (Refiner): the network, its patch size and decoder.
        image (np.ndarray): the full image, uint8 BGR.
        kpts (np.ndarray): the current estimate in image pixels.
        side (float): patch side in image pixels (before a view's scale and the
            refiner's ``landmark_scales``).
        shifts (np.ndarray): view centre shifts, fractions of ``side``.
        scales (np.ndarray): view side factors.
        channels (np.ndarray, optional): the landmark (heatmap channel) of each row of
            ``kpts``. Default: 0..K-1.

    Returns:
        tuple:
        - positions (np.ndarray): refined positions in image pixels
        - scores (np.ndarray): their heatmap peaks

    Note:
        - image: (H, W, C)
        - kpts: (K, 2); shifts: (S1, 2); scales: (S2, ); S = S1 * S2 views
        - positions: (S, K, 2); scores: (S, K)
    """
    K, S = len(kpts), len(shifts) * len(scales)
    channels = np.arange(K) if channels is None else np.asarray(channels)
    shift = np.repeat(shifts, len(scales), axis=0)                        # (S, 2)
    own_side = np.full(K, side, np.float32)                                # (K, )
    if refiner.landmark_scales is not None:
        own_side = own_side * np.asarray(refiner.landmark_scales, np.float32)[channels]
    sides = np.tile(scales, len(shifts))[:, None] * own_side[None]         # (S, K)
    centres = (kpts[None] + shift[:, None] * own_side[None, :, None]).reshape(-1, 2)
    patches, warps = warp_patches(image, centres, sides.reshape(-1), np.zeros(S * K),
                                  refiner.patch_size, exact=True)
    heatmaps = np.asarray(refiner.heatmaps_of(patches))
    own = heatmaps[np.arange(S * K), np.tile(channels, S)]       # patch i: its landmark
    local, scores = refiner.decoder.decode(own)                  # (1, S*K, 2) patch px
    out = np.stack([to_image(w, p[None])[0] for w, p in zip(warps, local[0])])
    return out.reshape(S, K, 2), scores[0].reshape(S, K)


def refine_round(refiners: Sequence[Refiner], image, kpts, crop_width, shifts, scales,
                 reduce: str = 'mean', channels=None):
    """One refinement round: every refiner's views, combined.

    Args:
        refiners (Sequence[Refiner]): the cascade's refiners (an ensemble when several).
        image (np.ndarray): the full image, uint8 BGR, shape (H, W, C).
        kpts (np.ndarray): the current estimate in image pixels, shape (K, 2).
        crop_width (float): width of the global crop in image pixels.
        shifts (np.ndarray): view centre shifts, shape (S1, 2).
        scales (np.ndarray): view side factors, shape (S2, ).
        reduce (str): ``'mean'`` or ``'median'`` over the views. Default: ``'mean'``.
        channels (np.ndarray, optional): the landmark of each row of ``kpts``.

    Returns:
        tuple:
        - positions (np.ndarray): combined positions, shape (K, 2)
        - scores (np.ndarray): mean heatmap peaks, shape (K, )
    """
    positions, scores = [], []
    for refiner in refiners:
        p, s = refine_views(refiner, image, kpts, refiner.fraction * crop_width, shifts,
                            scales, channels)
        positions.append(p)
        scores.append(s)
    views = np.concatenate(positions)                 # (views, K, 2)
    combined = np.median(views, 0) if reduce == 'median' else views.mean(0)
    return combined, np.concatenate(scores).mean(0)


def refine_landmarks(refiners: Sequence[Refiner], image, kpts, scores, crop_width,
                     refine_steps: int, shifts, scales, reduce: str = 'mean',
                     max_shift=None, landmarks=None):
    """``refine_steps`` rounds from the global estimate (what ``LandmarkCascade`` predicts).

    Args:
        refiners (Sequence[Refiner]): the cascade's refiners.
        image (np.ndarray): the full image, uint8 BGR.
        kpts (np.ndarray): the global model's landmarks in image pixels.
        scores (np.ndarray): their heatmap peaks.
        crop_width (float): width of the global crop in image pixels.
        refine_steps (int): refinement rounds (0: the global estimate).
        shifts (np.ndarray): view centre shifts, fractions of the patch side.
        scales (np.ndarray): view side factors.
        reduce (str): ``'mean'`` or ``'median'`` over the views. Default: ``'mean'``.
        max_shift (float, optional): trust region: a landmark moved further than this
            fraction of the patch side keeps its global estimate. Default: None.
        landmarks (Sequence[int], optional): indices of the landmarks to refine
            (``refine_only``). Default: all.

    Returns:
        tuple:
        - kpts (np.ndarray): float32 landmarks in image pixels
        - scores (np.ndarray): float32 scores

    Note:
        - image: (H, W, C)
        - kpts: (K, 2); scores: (K, )
        - shifts: (S1, 2); scales: (S2, )
    """
    shifts = np.asarray(shifts, np.float32).reshape(-1, 2)
    scales = np.asarray(scales, np.float32).reshape(-1)
    coarse = np.asarray(kpts, np.float32).copy()
    coarse_scores = np.asarray(scores, np.float32).copy()
    picked = np.arange(len(coarse)) if landmarks is None else np.asarray(landmarks, int)
    moved, moved_scores = coarse[picked], coarse_scores[picked]
    for _ in range(int(refine_steps)):
        moved, moved_scores = refine_round(refiners, image, moved, crop_width, shifts, scales,
                                           reduce, picked)
    kpts, scores = coarse.copy(), coarse_scores.copy()
    kpts[picked], scores[picked] = moved, moved_scores
    if max_shift is not None:
        side = refiners[0].fraction * crop_width
        far = np.linalg.norm(kpts - coarse, axis=1) > max_shift * side
        kpts[far], scores[far] = coarse[far], coarse_scores[far]
    return kpts, scores
