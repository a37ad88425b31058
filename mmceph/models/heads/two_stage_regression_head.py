"""Two-stage coordinate regression with per-landmark refinement (CEPHMark-Net style).

Stage 1 sees the whole crop: global pooling of the deepest features and an MLP regress
all K landmarks at once, so the estimate is anatomically consistent but coarse. Stage 2
looks closely: for each landmark, ``roi_align`` cuts a window of the fused fine feature
map (``SemanticFusionNeck``) centred on the stage-1 estimate, and one refinement head
shared by all landmarks (told which landmark it sees by a learned embedding) predicts a
residual offset. Prediction = stage 1 + residual.

Coordinates are normalised to [0, 1] of the input, as MMPose's ``RegressionLabel`` codec
encodes them (x / w, y / h, pixel centres at integer indices), so that codec decodes
them back to input pixels and ``TopdownPoseEstimator`` maps them to the image.

Residuals are predicted in units of half the crop size (a residual of 1 reaches the
crop's edge), which keeps the refinement output O(1) whatever the crop size.
"""
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmpose.evaluation.functional import keypoint_pck_accuracy
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.tensor_utils import to_numpy
from torch import Tensor
from torchvision.ops import roi_align


def _pair(x) -> Tuple[float, float]:
    return (x, x) if isinstance(x, (int, float)) else tuple(x)


@MODELS.register_module()
class TwoStageRegressionHead(BaseHead):
    """Global regression + ROI-aligned residual refinement of K landmarks.

    Args:
        in_channels (Sequence[int]): ``(fine_channels, deep_channels)``, the channels of the two
            maps of ``feats = (fused_fine, deepest)`` as ``SemanticFusionNeck`` returns them.
        num_joints (int): K, the number of landmarks.
        crop_ratio (float | Sequence[float]): refinement window as a fraction of the input (w, h),
            or one float for both (default 1/8).
        roi_size (int): ``roi_align`` output size (cells per side of each crop).
        pool_size (int): stage 1 pools the deepest map to ``pool_size`` cells (1 = global
            average pool) before the MLP.
        hidden_channels (int): width of the stage-1 MLP and of the refinement head.
        refine_channels (int): channels of the refinement head's convs.
        loss (dict): stage-1 (detection) loss on normalised coordinates, an MMPose
            coordinate loss built with ``use_target_weight=True``.
        refine_loss (dict): per-landmark refinement loss; the head sums it over landmarks.
        decoder (dict, optional): the codec, ``RegressionLabel`` with the model's input size.
        init_cfg (dict, optional): MMEngine initialisation config.

    ``forward`` returns the refined normalised coordinates (B, K, 2); ``loss`` returns
    ``loss_det``, ``loss_refine`` and ``acc_pose`` (PCK@0.05 of the refined points);
    ``predict`` returns keypoints in input pixels with a score per landmark:
    ``1 - max(|residual|)`` in half-crop units, clipped to [0, 1] -- 1 where the
    refinement agrees with stage 1, 0 where it moved the point out of the window it saw
    (a heuristic, not a calibrated probability).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 num_joints: int,
                 crop_ratio: Union[float, Sequence[float]] = 0.125,
                 roi_size: int = 7,
                 pool_size: int = 1,
                 hidden_channels: int = 256,
                 refine_channels: int = 64,
                 loss: dict = dict(type='L1Loss', use_target_weight=True),
                 refine_loss: dict = dict(type='L1Loss', use_target_weight=True),
                 decoder: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        fine_channels, deep_channels = in_channels
        self.in_channels = tuple(in_channels)
        self.num_joints = num_joints
        self.crop_ratio = _pair(crop_ratio)
        self.roi_size = roi_size
        self.loss_module = MODELS.build(loss)
        self.refine_loss_module = MODELS.build(refine_loss)
        self.decoder = KEYPOINT_CODECS.build(decoder) if decoder is not None else None

        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.stage1 = nn.Sequential(
            nn.Flatten(), nn.Linear(deep_channels * pool_size ** 2, hidden_channels),
            nn.ReLU(inplace=True), nn.Linear(hidden_channels, num_joints * 2))

        self.refine_convs = nn.Sequential(
            nn.Conv2d(fine_channels, refine_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(refine_channels), nn.ReLU(inplace=True),
            nn.Conv2d(refine_channels, refine_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(refine_channels), nn.ReLU(inplace=True), nn.Flatten())
        self.refine_fc = nn.Linear(refine_channels * roi_size ** 2, hidden_channels)
        self.landmark_embed = nn.Embedding(num_joints, hidden_channels)
        self.refine_out = nn.Linear(hidden_channels, 2)
        # Start both stages as "no opinion": stage 1 at the crop centre (see forward),
        # stage 2 with no residual; hidden layers keep PyTorch's default init.
        for last in (self.stage1[-1], self.refine_out):
            nn.init.normal_(last.weight, std=1e-3)
            nn.init.zeros_(last.bias)

    def forward_stages(self, feats: Tuple[Tensor, Tensor]) -> Tuple[Tensor, Tensor]:
        """Return stage-1 coordinates and the residuals in half-crop units, both (B, K, 2).

        The windows are placed at the *detached* stage-1 estimate: stage 1 learns from
        its own loss only, and stage 2 learns to correct whatever stage 1 gives it.
        """
        fine, deep = feats[0], feats[-1]
        batch, k = deep.shape[0], self.num_joints
        coarse = 0.5 + self.stage1(self.pool(deep)).view(batch, k, 2)

        # Boxes in fine-map cells: normalised u maps to u * size (half an input pixel
        # from the exact pixel centre, the same in training and testing).
        h, w = fine.shape[-2:]
        size = fine.new_tensor([w, h])
        half = fine.new_tensor(self.crop_ratio) * size / 2
        centre = coarse.detach() * size
        boxes = torch.cat([centre - half, centre + half], dim=-1).view(-1, 4)
        index = torch.arange(batch, device=fine.device, dtype=fine.dtype)
        boxes = torch.cat([index.repeat_interleave(k)[:, None], boxes], dim=1)
        crops = roi_align(fine, boxes, self.roi_size, spatial_scale=1.0,
                          sampling_ratio=2, aligned=True)            # (B*K, C, S, S)

        hidden = self.refine_fc(self.refine_convs(crops)).view(batch, k, -1)
        hidden = torch.relu(hidden + self.landmark_embed.weight)
        return coarse, self.refine_out(hidden)

    def _to_normalised(self, residual: Tensor) -> Tensor:
        return residual * residual.new_tensor(self.crop_ratio) / 2

    def forward(self, feats: Tuple[Tensor, Tensor]) -> Tensor:
        """Refined landmark coordinates, normalised to the input: (B, K, 2)."""
        coarse, residual = self.forward_stages(feats)
        return coarse + self._to_normalised(residual)

    def predict(self, feats, batch_data_samples, test_cfg={}):
        """Decode to input pixels through the codec, as MMPose's ``RegressionHead``."""
        if test_cfg.get('flip_test', False):
            raise NotImplementedError('TwoStageRegressionHead has no flip test (a lateral '
                                      'cephalogram has no left/right pairs to swap)')
        coarse, residual = self.forward_stages(feats)
        coords = coarse + self._to_normalised(residual)
        preds = self.decode(coords.unsqueeze(1))                    # (B, N=1, K, 2)
        scores = (1 - residual.abs().amax(dim=-1)).clamp(0, 1)      # (B, K)
        for pred, score in zip(preds, to_numpy(scores)):
            pred.keypoint_scores = score[None].astype(np.float32)
        return preds

    def loss(self, feats, batch_data_samples, train_cfg={}) -> dict:
        """``loss_det`` on stage 1 plus ``loss_refine``, the per-landmark refinement
        losses summed over landmarks; landmarks of weight 0 contribute nothing."""
        coarse, residual = self.forward_stages(feats)
        refined = coarse.detach() + self._to_normalised(residual)
        labels = torch.cat([d.gt_instance_labels.keypoint_labels for d in batch_data_samples])
        weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in batch_data_samples])
        weights = weights.unsqueeze(-1)                             # (B, K, 1)

        loss_refine = sum(self.refine_loss_module(refined[:, k], labels[:, k], weights[:, k])
                          for k in range(self.num_joints))
        _, acc, _ = keypoint_pck_accuracy(
            pred=to_numpy(refined), gt=to_numpy(labels), mask=to_numpy(weights[..., 0]) > 0,
            thr=0.05, norm_factor=np.ones((refined.shape[0], 2), dtype=np.float32))
        return dict(loss_det=self.loss_module(coarse, labels, weights),
                    loss_refine=loss_refine,
                    acc_pose=torch.tensor(acc, device=labels.device))
