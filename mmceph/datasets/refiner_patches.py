"""``SampleRefinerPatches``: the training patches of ``LandmarkCascade``'s refiners.

Why a pipeline transform: sampling, warping and target encoding are per-image numpy/cv2
work. In the transform they run in the dataloader workers, in parallel with the model's
step, from the annotation the pipeline already parsed -- the model no longer needs the
full-resolution image in training, nor to dig ground truth out of ``raw_ann_info``. What
reaches the model (``refiner_patches`` meta key) is small: per refiner, N uint8 patches,
their encoded heatmaps and keypoint weights.

Geometry (as before the move): for each refiner, ``patches_per_image`` visible landmarks
(without replacement); patch side = ``patch_fraction`` x the width of the global crop that
``TopdownAffine`` will cut (after ``RandomBBoxTransform``'s jitter and the aspect-ratio fix
to ``input_size``) x U(``scale_range``) x ``landmark_patch_scales[k]`` for landmark ``k``
(default 1; prediction must use the same factors: give ``LandmarkCascade`` the same config
value); centre = landmark + N(0, ``jitter`` x side) per
axis; rotation U(-``rotate``, ``rotate``). Put it after ``RandomBBoxTransform`` and before
``TopdownAffine``.

Randomness: each call seeds a generator from numpy's global state. MMEngine seeds that
state per run (``randomness=dict(seed=...)``) and per dataloader worker and rank
(``worker_init_fn``), so the patches are reproducible under a seed and differ between
workers -- a generator made once in ``__init__`` would be copied into every worker.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import KEYPOINT_CODECS, TRANSFORMS

from ..core.cascade import landmark_scales
from ..core.warp import apply_affine, warp_patches
from ..utils.per_refiner import per_refiner


@TRANSFORMS.register_module()
class SampleRefinerPatches(BaseTransform):
    """Sample, warp and encode training patches for each refiner of a ``LandmarkCascade``.

    Args:
        codecs (dict | list[dict]): the refiners' codec configs (the ``decoder`` of each
            refiner's head, in the model's refiner order); ``input_size`` is the patch size.
        input_size (tuple[int, int]): the global model's input size (w, h), as given to
            ``TopdownAffine``: patch sides are fractions of that crop's width.
        patch_fraction (float | list[float]): patch side / global crop width. This and
            ``jitter``/``rotate``/``scale_range``: one value, or one per refiner.
        patches_per_image (int): landmarks sampled per image and refiner.
        jitter (float | list[float]): std of the patch-centre offset, a fraction of the side.
        rotate (float | list[float]): max random rotation, degrees.
        scale_range (tuple | list[tuple]): range of the random patch-side factor.
        landmark_patch_scales (list[float], optional): one patch-side factor per landmark,
            for every refiner (larger: more context for ill-defined landmarks).

    Required keys: img (full resolution), keypoints, keypoints_visible, bbox_scale.
    Added key: refiner_patches -- one dict per refiner with ``inputs`` (N, C, h, w) uint8,
    ``heatmaps`` (N, K, H, W) float32 and ``keypoint_weights`` (N, K) float32.
    """

    def __init__(self, codecs: Union[dict, List[dict]], input_size: Tuple[int, int],
                 patch_fraction: Union[float, Sequence[float]] = 0.135,
                 patches_per_image: int = 8, jitter: Union[float, Sequence[float]] = 0.12,
                 rotate: Union[float, Sequence[float]] = 15.0,
                 scale_range: Union[tuple, Sequence[tuple]] = (0.85, 1.15),
                 landmark_patch_scales: Optional[Sequence[float]] = None):
        super().__init__()
        codecs = list(codecs) if isinstance(codecs, (list, tuple)) else [codecs]
        self.codecs = [KEYPOINT_CODECS.build(c) for c in codecs]
        n = len(self.codecs)
        self.input_size = tuple(int(v) for v in input_size)
        self.patch_fraction = per_refiner(patch_fraction, n, 'patch_fraction', float)
        self.jitter = per_refiner(jitter, n, 'jitter', float)
        self.rotate = per_refiner(rotate, n, 'rotate', float)
        self.scale_range = per_refiner(scale_range, n, 'scale_range', tuple, pairs=True)
        self.patches_per_image = int(patches_per_image)
        self.landmark_patch_scales = landmark_scales(landmark_patch_scales)

    def crop_width(self, bbox_scale: np.ndarray) -> float:
        """Width of the crop ``TopdownAffine`` cuts for this bbox scale (w, h): the box
        grown to the input's aspect ratio."""
        w, h = np.asarray(bbox_scale, np.float32).reshape(-1, 2)[0]
        return float(max(w, h * self.input_size[0] / self.input_size[1]))

    def transform(self, results: Dict) -> Optional[Dict]:
        rng = np.random.default_rng(np.random.randint(2 ** 31))
        image = results['img']
        kpts = np.asarray(results['keypoints'], np.float32)[0]                   # (K, 2)
        visible = np.asarray(results['keypoints_visible'], np.float32)[0]
        visible = (visible[..., 0] if visible.ndim > 1 else visible) > 0         # (K, )
        width = self.crop_width(results['bbox_scale'])
        choices = np.flatnonzero(visible)
        factors = (None if self.landmark_patch_scales is None      # count: K is known here
                   else landmark_scales(self.landmark_patch_scales, len(kpts)))
        packs = []
        for i, codec in enumerate(self.codecs):
            n = min(self.patches_per_image, choices.size)
            picked = rng.choice(choices, n, replace=False) if n else choices[:0]
            side = self.patch_fraction[i] * width * rng.uniform(*self.scale_range[i], n)
            if factors is not None:
                side = side * factors[picked]
            centres = kpts[picked] + rng.normal(0, self.jitter[i], (n, 2)) * side[:, None]
            angles = rng.uniform(-self.rotate[i], self.rotate[i], n)
            patches, warps = warp_patches(image, centres, side, angles, codec.input_size)
            heatmaps, weights = [], []
            for warp in warps:
                enc = codec.encode(apply_affine(warp, kpts)[None], visible[None])
                heatmaps.append(enc['heatmaps'])
                weights.append(enc['keypoint_weights'][0])
            w, h = codec.heatmap_size
            packs.append(dict(
                inputs=patches,
                heatmaps=np.asarray(heatmaps, np.float32).reshape(n, len(kpts), h, w),
                keypoint_weights=np.asarray(weights, np.float32).reshape(n, len(kpts))))
        results['refiner_patches'] = packs
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(refiners={len(self.codecs)}, '
                f'input_size={self.input_size}, patch_fraction={self.patch_fraction}, '
                f'patches_per_image={self.patches_per_image}, jitter={self.jitter}, '
                f'rotate={self.rotate}, scale_range={self.scale_range}, '
                f'landmark_patch_scales={self.landmark_patch_scales})')
