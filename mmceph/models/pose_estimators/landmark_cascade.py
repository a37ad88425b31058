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
"""
import cv2
import numpy as np
import torch
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.structures.bbox import get_warp_matrix


@MODELS.register_module()
class LandmarkCascade(TopdownPoseEstimator):
    """Args (besides ``TopdownPoseEstimator``'s, which describe the global model):
        refiner: model config of the local model (``type='TopdownPoseEstimator'``).
        patch_fraction: patch side as a fraction of the global crop's width.
        patches_per_image: landmarks sampled per image per training step.
        jitter: std of the patch-centre offset, as a fraction of the patch side.
        rotate: max random rotation (degrees); scale_range: random patch scale.
        refine_steps: re-centred refinement rounds at prediction time.
        test_shifts: patch-centre offsets (fractions of the side) whose refined positions
            are averaged at prediction time (test-time augmentation); default: one patch.
        max_shift: trust region, as a fraction of the patch side: a refined landmark that
            moved further than this from the global estimate keeps the global estimate
            (the patch then most likely locked onto a look-alike structure). None: off.
        freeze_coarse: train only the refiner (global weights from ``load_from``).
    """

    def __init__(self, refiner, patch_fraction=0.135, patches_per_image=8, jitter=0.12,
                 rotate=15.0, scale_range=(0.85, 1.15), refine_steps=2, test_shifts=((0, 0), ),
                 max_shift=None, freeze_coarse=True, **kwargs):
        super().__init__(**kwargs)
        self.refiner = MODELS.build(refiner)
        self.patch_fraction = float(patch_fraction)
        self.patches_per_image = int(patches_per_image)
        self.jitter = float(jitter)
        self.rotate = float(rotate)
        self.scale_range = tuple(scale_range)
        self.refine_steps = int(refine_steps)
        self.max_shift = None if max_shift is None else float(max_shift)
        self.test_shifts = np.asarray(test_shifts, np.float32).reshape(-1, 2)
        self.freeze_coarse = bool(freeze_coarse)
        self.codec = self.refiner.head.decoder
        self.patch_size = tuple(int(v) for v in self.codec.input_size)
        # drawn from numpy's global state, so MMEngine's `randomness=dict(seed=...)` fixes it
        self._rng = np.random.default_rng(np.random.randint(2 ** 31))

    # ----------------------------------------------------------------- patches --------
    def _full_image(self, data_sample):
        if 'full_image' not in data_sample:
            raise KeyError(
                "LandmarkCascade needs the full-resolution image: add dict(type='KeepFullImage') "
                "before TopdownAffine and 'full_image' to PackPoseInputs' meta_keys (see "
                "configs/isbi2015/*cascade*.py)")
        return data_sample.full_image

    def _patch_side(self, data_sample):
        return self.patch_fraction * float(np.asarray(data_sample.input_scale).reshape(-1)[0])

    def _cut(self, image, centres, sides, angles):
        """Warp square patches (centre, side px, rotation deg) to the refiner's input size;
        returns the normalised batch and each patch's image->patch affine matrix."""
        patches, warps = [], []
        for centre, side, angle in zip(centres, sides, angles):
            warp = get_warp_matrix(np.asarray(centre, np.float32), np.array([side, side], np.float32),
                                   float(angle), self.patch_size)
            patches.append(cv2.warpAffine(image, warp, self.patch_size, flags=cv2.INTER_LINEAR))
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
            side = self._patch_side(sample) * self._rng.uniform(*self.scale_range, n)
            centres = kpts[picked, :2] + self._rng.normal(0, self.jitter, (n, 2)) * side[:, None]
            angles = self._rng.uniform(-self.rotate, self.rotate, n)
            batch, warps = self._cut(image, centres, side, angles)
            patches.append(batch)
            for warp in warps:
                enc = self.codec.encode(self._affine(warp, kpts[:, :2])[None], visible[None])
                targets.append(enc['heatmaps'])
                weights.append(enc['keypoint_weights'][0])
        if not patches:
            zero = sum(p.sum() * 0 for p in self.refiner.parameters())
            losses['loss_refine'] = zero
            return losses
        device = patches[0].device
        pred = self.refiner.head.forward(self.refiner.extract_feat(torch.cat(patches)))
        target = torch.from_numpy(np.stack(targets)).to(device)
        weight = torch.from_numpy(np.stack(weights)).to(device)
        losses['loss_refine'] = self.refiner.head.loss_module(pred, target, weight)
        return losses

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
            side = self._patch_side(sample)
            coarse, coarse_scores = kpts[0].copy(), scores[0].copy()
            for _ in range(self.refine_steps):
                kpts[0], scores[0] = self.refine(image, kpts[0], side)
            if self.max_shift is not None:
                far = np.linalg.norm(kpts[0] - coarse, axis=1) > self.max_shift * side
                kpts[0, far], scores[0, far] = coarse[far], coarse_scores[far]
            sample.pred_instances.keypoints = kpts
            sample.pred_instances.keypoint_scores = scores
            sample.pop('full_image')    # a large array nobody downstream needs
        return results

    @torch.no_grad()
    def refine(self, image, kpts, side):
        """One refinement round: for each of the K landmarks (K, 2), one patch per test
        shift centred near it; returns the mean refined positions (K, 2) and scores."""
        K, S = len(kpts), len(self.test_shifts)
        centres = (kpts[None] + self.test_shifts[:, None] * side).reshape(-1, 2)   # (S*K, 2)
        batch, warps = self._cut(image, centres, np.full(S * K, side), np.zeros(S * K))
        heatmaps = self.refiner.head.forward(self.refiner.extract_feat(batch))
        channel = np.tile(np.arange(K), S)              # patch i is read in its landmark's channel
        own = heatmaps[torch.arange(S * K), torch.from_numpy(channel)].cpu().numpy()
        local, scores = self.codec.decode(own)          # (1, S*K, 2) in patch pixels
        out = np.stack([self._affine(cv2.invertAffineTransform(w), p[None])[0]
                        for w, p in zip(warps, local[0])])
        return out.reshape(S, K, 2).mean(0), scores[0].reshape(S, K).mean(0)
