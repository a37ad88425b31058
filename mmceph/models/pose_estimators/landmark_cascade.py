"""LandmarkCascade: a global model, then a small local model on patches around each landmark.

Why: the global model sees the whole skull at ~0.3 mm per input pixel, so its heatmaps
are coarse (1.2 mm cells) and it has few examples to learn from (one per image). The
local refiner sees a small patch at ~0.15 mm per pixel around the first estimate, and
every image gives it 19 patches with random offsets, rotations and scales -- cheap
(a 128x128 patch costs ~1/20 of the global pass) and it is where the last millimetre
is won (the local stage of Noothout et al. 2020, Zhong et al. 2019).

How it fits MMPose: a ``TopdownPoseEstimator`` whose ``backbone``/``neck``/``head`` are
the global model (so a stage-1 checkpoint loads with ``load_from``), plus ``refiner``,
any MMPose top-down model config whose head decodes heatmaps of all K landmarks. Patch
size is a fraction of the global crop's width, so it follows the ROI prior on images of
any size without needing the pixel spacing.

One owner per step: the training patches (random landmarks, offsets, rotations, scales,
encoded targets) come from the ``SampleRefinerPatches`` pipeline transform, in the
dataloader workers, as the ``refiner_patches`` meta key; this model only normalises them
through its data preprocessor, runs the refiners and computes their losses. Cutting
patches is ``warp_patches`` (mmceph.core.warp), shared with prediction, where the
full-resolution image arrives through ``KeepFullImage`` and the ``full_image`` meta key.

Training (``freeze_coarse=True``, the default): only the refiner learns, on patches
centred on the ground truth plus Gaussian noise -- the global model is a loaded,
frozen stage-1 checkpoint. With ``freeze_coarse=False`` both learn end to end.
Prediction: global estimate, then ``refine_steps`` rounds of re-centred patches; the
refined landmark ``k`` is read from channel ``k`` of the patch centred on it; with
``max_shift``, a refinement that moved too far is undone.

Site adaptation: a ``CephalometricEstimator``, so per-landmark site offsets
(``tools/adapt.py``) are added after refinement, at the very end of prediction.

Ensembles: ``refiner`` may be a list of model configs (weights ``refiner.0.*``, ...), each
with its own patch size and rotation range (``patch_fraction`` here and the sampling
settings of ``SampleRefinerPatches`` take one value or one per refiner). Their errors are
partly independent, so averaging them is the cheapest accuracy left on the table once one
refiner has converged (ISBI: two refiners of 33 and 38 CPU-minutes, 1.53 mm each, 1.48 mm
together).
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.model import ModuleList
from mmpose.registry import MODELS
from torch import Tensor

from ...core.cascade import Refiner, landmark_scales, refine_landmarks, refine_round, refine_views
from ...core.warp import warp_patches
from ...utils.per_refiner import per_refiner
from .cephalometric_estimator import CephalometricEstimator


@MODELS.register_module()
class LandmarkCascade(CephalometricEstimator):
    """A global top-down model plus local refiners on full-resolution patches.

    Args (besides ``TopdownPoseEstimator``'s, which describe the global model):
        refiner (dict | list[dict]): model config of the local model
            (``type='TopdownPoseEstimator'``), or a list of them (an ensemble whose refined
            positions are averaged).
        patch_fraction (float | list[float]): patch side as a fraction of the global crop's
            width at prediction time, one value or one per refiner; give the training
            transform ``SampleRefinerPatches`` the same config value.
        refine_steps (int): re-centred refinement rounds at prediction time.
        test_shifts (sequence of (dx, dy)): patch-centre offsets (fractions of the side)
            whose refined positions are combined at prediction time (test-time
            augmentation); default: one patch.
        test_scales (sequence of float): patch-side factors, each combined with every
            shift (default: 1.0).
        test_reduce (str): 'mean' or 'median' (per coordinate) of the views' refined
            positions; the median ignores a single view that locked onto a look-alike.
        max_shift (float, optional): trust region, as a fraction of the (first refiner's)
            patch side: a refined landmark that moved further than this from the global
            estimate keeps the global estimate (the patch then most likely locked onto a
            look-alike structure). None: off.
        freeze_coarse (bool): train only the refiner (global weights from ``load_from``).
        refine_only (sequence of int, optional): indices of the landmarks refined at
            prediction time (the others keep the global estimate); None: all. Training
            is unchanged (every landmark's patches).
        landmark_patch_scales (sequence of float, optional): one patch-side factor per
            landmark (all refiners), as ``SampleRefinerPatches`` trained with (give both
            the same config value); None: 1 for every landmark.
    """

    def __init__(self, refiner: Union[dict, List[dict]],
                 patch_fraction: Union[float, Sequence[float]] = 0.135, refine_steps: int = 2,
                 test_shifts: Sequence[Sequence[float]] = ((0, 0), ),
                 test_scales: Sequence[float] = (1.0, ), test_reduce: str = 'mean',
                 max_shift: Optional[float] = None, freeze_coarse: bool = True,
                 refine_only: Optional[Sequence[int]] = None,
                 landmark_patch_scales: Optional[Sequence[float]] = None, **kwargs):
        moved = sorted(set(kwargs) & {'patches_per_image', 'jitter', 'rotate', 'scale_range'})
        if moved:
            raise TypeError(f"LandmarkCascade: {', '.join(moved)} moved to the train pipeline's "
                            "SampleRefinerPatches (see configs/isbi2015/*cascade*.py)")
        super().__init__(**kwargs)
        ensemble = isinstance(refiner, (list, tuple))
        # MMEngine's ModuleList, not torch's: init_weights() must reach every refiner (with
        # torch's, the heads keep PyTorch's default init and train ~2x worse)
        self.refiner = (ModuleList(MODELS.build(r) for r in refiner) if ensemble
                        else MODELS.build(refiner))
        self.patch_fraction = per_refiner(patch_fraction, len(self.refiners), 'patch_fraction',
                                          float)
        self.refine_steps = int(refine_steps)
        self.max_shift = None if max_shift is None else float(max_shift)
        self.test_shifts = np.asarray(test_shifts, np.float32).reshape(-1, 2)
        self.test_scales = np.asarray(test_scales, np.float32).reshape(-1)
        if test_reduce not in ('mean', 'median'):
            raise ValueError(f"test_reduce must be 'mean' or 'median', got {test_reduce!r}")
        self.test_reduce = test_reduce
        self.freeze_coarse = bool(freeze_coarse)
        self.refine_only = None if refine_only is None else [int(k) for k in refine_only]
        num_landmarks = self.head.out_channels
        if self.refine_only is not None and (
                not self.refine_only or len(set(self.refine_only)) != len(self.refine_only)
                or not all(0 <= k < num_landmarks for k in self.refine_only)):
            raise ValueError(f'refine_only must list distinct landmark indices 0-'
                             f'{num_landmarks - 1}, got {refine_only}')
        self.landmark_patch_scales = landmark_scales(landmark_patch_scales, num_landmarks)

    @property
    def refiners(self) -> list:
        """The refiner models as a list (one entry unless ``refiner`` was a list)."""
        return list(self.refiner) if isinstance(self.refiner, ModuleList) else [self.refiner]

    # ----------------------------------------------------------------- patches --------
    def _full_image(self, data_sample):
        if 'full_image' not in data_sample:
            raise KeyError(
                "LandmarkCascade needs the full-resolution image: add dict(type='KeepFullImage') "
                "before TopdownAffine and 'full_image' to PackPoseInputs' meta_keys (see "
                "configs/isbi2015/*cascade*.py)")
        return data_sample.full_image

    @staticmethod
    def _crop_width(data_sample) -> float:
        """Width (pixels) of the global crop: patch sides are fractions of it."""
        return float(np.asarray(data_sample.input_scale).reshape(-1)[0])

    @staticmethod
    def _patch_size(refiner) -> Tuple[int, int]:
        return tuple(int(v) for v in refiner.head.decoder.input_size)

    def _normalise(self, patches: np.ndarray) -> Tensor:
        """0-255 patches (N, C, h, w), uint8 or float32 -> refiner input, by this model's
        data preprocessor (channel order, mean/std, device): the same mapping the global
        model's input gets."""
        data = self.data_preprocessor(dict(inputs=torch.from_numpy(patches), data_samples=[]),
                                      training=False)
        return data['inputs']

    def _cut(self, image: np.ndarray, centres: np.ndarray, sides, angles,
             patch_size: Tuple[int, int]) -> Tuple[Tensor, np.ndarray]:
        """Warp square patches (centre, side px, rotation deg) to the refiner's input size;
        returns the normalised batch and each patch's image->patch affine matrix."""
        patches, warps = warp_patches(image, centres, sides, angles, patch_size)
        return self._normalise(patches), warps

    # ----------------------------------------------------------------- training -------
    def loss(self, inputs: Tensor, data_samples: list) -> Dict[str, Tensor]:
        losses = {}
        if not self.freeze_coarse:
            losses.update(super().loss(inputs, data_samples))
        for i, refiner in enumerate(self.refiners):
            name = 'loss_refine' if len(self.refiners) == 1 else f'loss_refine{i}'
            losses[name] = self._refiner_loss(i, refiner, data_samples)
        return losses

    def _refiner_loss(self, i: int, refiner, data_samples: list) -> Tensor:
        """Refiner ``i``'s heatmap loss on the patches ``SampleRefinerPatches`` cut."""
        packs = []
        for sample in data_samples:
            if 'refiner_patches' not in sample:
                raise KeyError(
                    "LandmarkCascade trains its refiners on the pipeline's patches: add "
                    "dict(type='SampleRefinerPatches', ...) before TopdownAffine in the train "
                    "pipeline and 'refiner_patches' to PackPoseInputs' meta_keys (see "
                    "configs/isbi2015/*cascade*.py)")
            if len(sample.refiner_patches) != len(self.refiners):
                raise ValueError(f'SampleRefinerPatches cut patches for '
                                 f'{len(sample.refiner_patches)} refiners, the model has '
                                 f'{len(self.refiners)}')
            pack = sample.refiner_patches[i]
            if len(pack['inputs']):
                packs.append(pack)
        if not packs:
            return sum(p.sum() * 0 for p in refiner.parameters())
        batch = self._normalise(np.concatenate([p['inputs'] for p in packs]))
        pred = refiner.head.forward(refiner.extract_feat(batch))
        target, weight = (torch.from_numpy(np.concatenate([p[key] for p in packs])).to(batch.device)
                          for key in ('heatmaps', 'keypoint_weights'))
        return refiner.head.loss_module(pred, target, weight)

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and self.freeze_coarse:    # frozen global model: keep its BN statistics
            for name in ('backbone', 'neck', 'head'):
                module = getattr(self, name, None)
                if module is not None:
                    module.eval()
        return self

    # ----------------------------------------------------------------- prediction -----
    # The rounds themselves are mmceph.core.cascade (numpy, shared with mmceph.runtime);
    # this model supplies each refiner's heatmaps (preprocessor + refiner, in PyTorch).
    # Site offsets (CephalometricEstimator.predict) come after all of this: the refiners
    # re-centre on the unadapted global estimate.
    def predict_unadapted(self, inputs, data_samples):
        for sample in data_samples:       # fail before the global pass, not after
            self._full_image(sample)
        results = super().predict_unadapted(inputs, data_samples)
        for sample in results:
            kpts = np.asarray(sample.pred_instances.keypoints, np.float32).copy()   # (1, K, 2)
            scores = np.asarray(sample.pred_instances.keypoint_scores, np.float32).copy()
            kpts[0], scores[0] = refine_landmarks(
                self.core_refiners(), self._full_image(sample), kpts[0], scores[0],
                self._crop_width(sample), self.refine_steps, self.test_shifts,
                self.test_scales, self.test_reduce, self.max_shift, self.refine_only)
            sample.pred_instances.keypoints = kpts
            sample.pred_instances.keypoint_scores = scores
            sample.pop('full_image')    # a large array nobody downstream needs
        return results

    @property
    def views_per_landmark(self):
        """Patches each refiner sees per landmark and refinement round at prediction time."""
        return len(self.test_shifts) * len(self.test_scales)

    @property
    def refined_landmarks(self) -> int:
        """How many landmarks the refiners look at per round (``refine_only`` or all)."""
        return len(self.refine_only) if self.refine_only is not None else self.head.out_channels

    def core_refiners(self) -> List[Refiner]:
        """The refiners as :mod:`mmceph.core.cascade` takes them."""
        return [Refiner(self.patch_fraction[i], self._patch_size(r), self._heatmaps_of(r),
                        r.head.decoder, self.landmark_patch_scales)
                for i, r in enumerate(self.refiners)]

    def _heatmaps_of(self, refiner):
        @torch.no_grad()
        def heatmaps_of(patches: np.ndarray) -> np.ndarray:
            return refiner.head.forward(refiner.extract_feat(self._normalise(patches))
                                        ).cpu().numpy()
        return heatmaps_of

    def refine(self, image, kpts, crop_width):
        """One refinement round: for each of the K landmarks (K, 2), every refiner looks at
        one patch per test view (shift x scale) near it; returns the combined refined
        positions (K, 2) and the mean scores."""
        return refine_round(self.core_refiners(), image, kpts, crop_width, self.test_shifts,
                            self.test_scales, self.test_reduce)

    def _refine_views(self, refiner, image, kpts, side):
        """Refined positions (S, K, 2) and scores (S, K) of one refiner's S test views."""
        spec = self.core_refiners()[self.refiners.index(refiner)]
        return refine_views(spec, image, kpts, side, self.test_shifts, self.test_scales)
