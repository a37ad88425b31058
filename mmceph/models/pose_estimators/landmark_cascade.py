"""LandmarkCascade: a global model, then a small local model on patches around each landmark.

Why: the global model sees the whole skull at ~0.3 mm per input pixel, so its heatmaps
are coarse (1.2 mm cells) and it has few examples to learn from (one per image). The
local refiner sees a small patch at ~0.15 mm per pixel around the first estimate, and
every image gives it 19 patches with random offsets, rotations and scales -- cheap
(a 128x128 patch costs ~1/20 of the global pass) and it is where the last millimetre
is won (the local stage of Noothout et al. 2020, Zhong et al. 2019).

How it fits MMPose: a ``TopdownPoseEstimator`` whose ``backbone``/``neck``/``head`` are
the global model (so a stage-1 checkpoint loads with ``load_from``), plus ``refiner``,
any MMPose top-down model config whose head decodes heatmaps of all K landmarks. The
full-resolution image reaches the model through ``KeepFullImage`` (pipeline) and the
``full_image`` meta key. Patch size is a fraction of the global crop's width, so it
follows the ROI prior on images of any size without needing the pixel spacing.

Training (``freeze_coarse=True``, the default): only the refiner learns, on patches
centred on the ground truth plus Gaussian noise -- the global model is a loaded,
frozen stage-1 checkpoint. With ``freeze_coarse=False`` both learn end to end.
Prediction: global estimate, then ``refine_steps`` rounds of re-centred patches; the
refined landmark ``k`` is read from channel ``k`` of the patch centred on it; with
``max_shift``, a refinement that moved too far is undone.

Ensembles: ``refiner`` may be a list of model configs (weights ``refiner.0.*``, ...), each
with its own patch size and rotation range (``patch_fraction``/``rotate``/... take one value
or one per refiner). Their errors are partly independent, so averaging them is the
cheapest accuracy left on the table once one refiner has converged (ISBI: two refiners
of 33 and 38 CPU-minutes, 1.53 mm each, 1.48 mm together).
"""
import cv2
import numpy as np
import torch
from mmengine.model import ModuleList
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.structures.bbox import get_warp_matrix


@MODELS.register_module()
class LandmarkCascade(TopdownPoseEstimator):
    """Args (besides ``TopdownPoseEstimator``'s, which describe the global model):
        refiner: model config of the local model (``type='TopdownPoseEstimator'``), or a
            list of them (an ensemble whose refined positions are averaged).
        patch_fraction: patch side as a fraction of the global crop's width.
            This and ``jitter``/``rotate``/``scale_range``: one value, or one per refiner.
        patches_per_image: landmarks sampled per image per training step.
        jitter: std of the patch-centre offset, as a fraction of the patch side.
        rotate: max random rotation (degrees); scale_range: random patch scale.
        refine_steps: re-centred refinement rounds at prediction time.
        test_shifts: patch-centre offsets (fractions of the side) whose refined positions
            are combined at prediction time (test-time augmentation); default: one patch.
        test_scales: patch-side factors, each combined with every shift (default: 1.0).
        test_reduce: 'mean' or 'median' (per coordinate) of the views' refined positions;
            the median ignores a single view that locked onto a look-alike structure.
        max_shift: trust region, as a fraction of the (first refiner's) patch side: a refined
            landmark that moved further than this from the global estimate keeps the global
            estimate (the patch then most likely locked onto a look-alike structure). None: off.
        freeze_coarse: train only the refiner (global weights from ``load_from``).
    """

    def __init__(self, refiner, patch_fraction=0.135, patches_per_image=8, jitter=0.12,
                 rotate=15.0, scale_range=(0.85, 1.15), refine_steps=2, test_shifts=((0, 0), ),
                 test_scales=(1.0, ), test_reduce='mean', max_shift=None, freeze_coarse=True,
                 **kwargs):
        super().__init__(**kwargs)
        ensemble = isinstance(refiner, (list, tuple))
        # MMEngine's ModuleList, not torch's: init_weights() must reach every refiner (with
        # torch's, the heads keep PyTorch's default init and train ~2x worse)
        self.refiner = (ModuleList(MODELS.build(r) for r in refiner) if ensemble
                        else MODELS.build(refiner))
        n = len(self.refiners)
        self.patch_fraction = _per_refiner(patch_fraction, n, 'patch_fraction', float)
        self.jitter = _per_refiner(jitter, n, 'jitter', float)
        self.rotate = _per_refiner(rotate, n, 'rotate', float)
        self.scale_range = _per_refiner(scale_range, n, 'scale_range', tuple, pairs=True)
        self.patches_per_image = int(patches_per_image)
        self.refine_steps = int(refine_steps)
        self.max_shift = None if max_shift is None else float(max_shift)
        self.test_shifts = np.asarray(test_shifts, np.float32).reshape(-1, 2)
        self.test_scales = np.asarray(test_scales, np.float32).reshape(-1)
        if test_reduce not in ('mean', 'median'):
            raise ValueError(f"test_reduce must be 'mean' or 'median', got {test_reduce!r}")
        self.test_reduce = test_reduce
        self.freeze_coarse = bool(freeze_coarse)
        # drawn from numpy's global state, so MMEngine's `randomness=dict(seed=...)` fixes it
        self._rng = np.random.default_rng(np.random.randint(2 ** 31))

    @property
    def refiners(self):
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
    def _crop_width(data_sample):
        """Width (pixels) of the global crop: patch sides are fractions of it."""
        return float(np.asarray(data_sample.input_scale).reshape(-1)[0])

    @staticmethod
    def _patch_size(refiner):
        return tuple(int(v) for v in refiner.head.decoder.input_size)

    def _cut(self, image, centres, sides, angles, patch_size):
        """Warp square patches (centre, side px, rotation deg) to the refiner's input size;
        returns the normalised batch and each patch's image->patch affine matrix."""
        patches, warps = [], []
        for centre, side, angle in zip(centres, sides, angles):
            warp = get_warp_matrix(np.asarray(centre, np.float32), np.array([side, side], np.float32),
                                   float(angle), patch_size)
            patches.append(cv2.warpAffine(image, warp, patch_size, flags=cv2.INTER_LINEAR))
            warps.append(warp)
        batch = torch.from_numpy(np.stack(patches)).to(self.data_preprocessor.mean.device)
        batch = batch.permute(0, 3, 1, 2).float()
        if getattr(self.data_preprocessor, '_channel_conversion', False):
            batch = batch[:, [2, 1, 0]]
        batch = (batch - self.data_preprocessor.mean) / self.data_preprocessor.std
        return batch, np.stack(warps)

    @staticmethod
    def _affine(warp, points):
        return points @ warp[:, :2].T + warp[:, 2]

    # ----------------------------------------------------------------- training -------
    def loss(self, inputs, data_samples):
        losses = {}
        if not self.freeze_coarse:
            losses.update(super().loss(inputs, data_samples))
        for i, refiner in enumerate(self.refiners):
            name = 'loss_refine' if len(self.refiners) == 1 else f'loss_refine{i}'
            losses[name] = self._refiner_loss(i, refiner, data_samples)
        return losses

    def _refiner_loss(self, i, refiner, data_samples):
        """Refiner ``i``'s heatmap loss on random patches around the ground truth."""
        codec, patch_size = refiner.head.decoder, self._patch_size(refiner)
        patches, targets, weights = [], [], []
        for sample in data_samples:
            image = self._full_image(sample)
            ann = sample.raw_ann_info
            kpts = np.asarray(ann['keypoints'], np.float32).reshape(-1, 3)
            visible = kpts[:, 2] > 0
            choices = np.flatnonzero(visible)
            if choices.size == 0:
                continue
            picked = self._rng.choice(choices, min(self.patches_per_image, choices.size),
                                      replace=False)
            n = len(picked)
            side = (self.patch_fraction[i] * self._crop_width(sample)
                    * self._rng.uniform(*self.scale_range[i], n))
            centres = kpts[picked, :2] + self._rng.normal(0, self.jitter[i], (n, 2)) * side[:, None]
            angles = self._rng.uniform(-self.rotate[i], self.rotate[i], n)
            batch, warps = self._cut(image, centres, side, angles, patch_size)
            patches.append(batch)
            for warp in warps:
                enc = codec.encode(self._affine(warp, kpts[:, :2])[None], visible[None])
                targets.append(enc['heatmaps'])
                weights.append(enc['keypoint_weights'][0])
        if not patches:
            return sum(p.sum() * 0 for p in refiner.parameters())
        device = patches[0].device
        pred = refiner.head.forward(refiner.extract_feat(torch.cat(patches)))
        target = torch.from_numpy(np.stack(targets)).to(device)
        weight = torch.from_numpy(np.stack(weights)).to(device)
        return refiner.head.loss_module(pred, target, weight)

    def train(self, mode=True):
        super().train(mode)
        if mode and self.freeze_coarse:    # frozen global model: keep its BN statistics
            for name in ('backbone', 'neck', 'head'):
                module = getattr(self, name, None)
                if module is not None:
                    module.eval()
        return self

    # ----------------------------------------------------------------- prediction -----
    def predict(self, inputs, data_samples):
        for sample in data_samples:       # fail before the global pass, not after
            self._full_image(sample)
        results = super().predict(inputs, data_samples)
        for sample in results:
            image = self._full_image(sample)
            kpts = np.asarray(sample.pred_instances.keypoints, np.float32).copy()   # (1, K, 2)
            scores = np.asarray(sample.pred_instances.keypoint_scores, np.float32).copy()
            crop_width = self._crop_width(sample)
            coarse, coarse_scores = kpts[0].copy(), scores[0].copy()
            for _ in range(self.refine_steps):
                kpts[0], scores[0] = self.refine(image, kpts[0], crop_width)
            if self.max_shift is not None:
                side = self.patch_fraction[0] * crop_width
                far = np.linalg.norm(kpts[0] - coarse, axis=1) > self.max_shift * side
                kpts[0, far], scores[0, far] = coarse[far], coarse_scores[far]
            sample.pred_instances.keypoints = kpts
            sample.pred_instances.keypoint_scores = scores
            sample.pop('full_image')    # a large array nobody downstream needs
        return results

    @property
    def views_per_landmark(self):
        """Patches each refiner sees per landmark and refinement round at prediction time."""
        return len(self.test_shifts) * len(self.test_scales)

    def refine(self, image, kpts, crop_width):
        """One refinement round: for each of the K landmarks (K, 2), every refiner looks at
        one patch per test view (shift x scale) near it; returns the combined refined
        positions (K, 2) and the mean scores."""
        positions, scores = [], []
        for i, refiner in enumerate(self.refiners):
            p, s = self._refine_views(refiner, image, kpts, self.patch_fraction[i] * crop_width)
            positions.append(p)
            scores.append(s)
        views = np.concatenate(positions)                 # (views, K, 2)
        combined = np.median(views, 0) if self.test_reduce == 'median' else views.mean(0)
        return combined, np.concatenate(scores).mean(0)

    @torch.no_grad()
    def _refine_views(self, refiner, image, kpts, side):
        """Refined positions (S, K, 2) and scores (S, K) of one refiner's S test views."""
        K, S = len(kpts), self.views_per_landmark
        shifts = np.repeat(self.test_shifts, len(self.test_scales), axis=0)        # (S, 2)
        sides = side * np.tile(self.test_scales, len(self.test_shifts))            # (S, )
        centres = (kpts[None] + shifts[:, None] * side).reshape(-1, 2)             # (S*K, 2)
        batch, warps = self._cut(image, centres, np.repeat(sides, K), np.zeros(S * K),
                                 self._patch_size(refiner))
        heatmaps = refiner.head.forward(refiner.extract_feat(batch))
        channel = np.tile(np.arange(K), S)              # patch i is read in its landmark's channel
        own = heatmaps[torch.arange(S * K), torch.from_numpy(channel)].cpu().numpy()
        local, scores = refiner.head.decoder.decode(own)   # (1, S*K, 2) in patch pixels
        out = np.stack([self._affine(cv2.invertAffineTransform(w), p[None])[0]
                        for w, p in zip(warps, local[0])])
        return out.reshape(S, K, 2), scores[0].reshape(S, K)


def _per_refiner(value, n, name, cast, pairs=False):
    """One value per refiner: a shared value is repeated, a list must have one per refiner."""
    values = [value] if (not isinstance(value, (list, tuple))
                         or (pairs and not isinstance(value[0], (list, tuple)))) else list(value)
    if len(values) == 1:
        values = values * n
    if len(values) != n:
        raise ValueError(f'{name}: {len(values)} values for {n} refiners')
    return [cast(v) for v in values]
