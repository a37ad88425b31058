"""PatchVotingHead: the global stage of patch voting (Noothout et al. 2020, IEEE TMI).

Every cell of a stride-``s`` feature map is one ``s x s`` patch of the input. Per
landmark the head predicts a presence logit (does this patch hold the landmark?) and a
log-scaled displacement from the patch centre to the landmark; ``PatchVotingLabel``
turns the sigmoid probabilities and displacements into the probability-weighted mean of
the patches' votes, in input pixels, so ``TopdownPoseEstimator`` maps them back to the
original image like any MMPose head's output.

Loss: BCE on presence (per landmark, weighted by ``keypoint_weights``) + L1 / SmoothL1 on
the log-scaled displacements, only at patches with target presence > 0: far patches
cannot know where the landmark is, and their votes get ~0 weight at decoding anyway.

The paper's optional local stage (a second network on small patches around the global
estimate) is ``LandmarkCascade`` with this head as its global model
(configs/isbi2015/td-vote-cascade_*.py). Flip test is not supported (cephalograms are
never flipped).
"""
import math
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList, Predictions
from torch import Tensor, nn


@MODELS.register_module()
class PatchVotingHead(BaseHead):
    """Presence logits (B, K, H/s, W/s) and log-scaled displacements (B, 2K, H/s, W/s).

    Args:
        in_channels (int): channels of the last feature map (stride s = the codec's patch size).
        out_channels (int): number of landmarks K.
        conv_out_channels / conv_kernel_sizes: shared Conv-BN-ReLU layers before the two
            1x1 output convs (default one 3x3 conv of 256 channels).
        displacement_loss (str): 'l1' (default) or 'smooth_l1'.
        presence_loss_weight / displacement_loss_weight: loss term weights.
        decoder (dict, optional): a ``PatchVotingLabel`` config (needed by ``predict``).
    """

    def __init__(self, in_channels: int, out_channels: int,
                 conv_out_channels: Sequence[int] = (256, ),
                 conv_kernel_sizes: Sequence[int] = (3, ),
                 displacement_loss: str = 'l1', presence_loss_weight: float = 1.0,
                 displacement_loss_weight: float = 1.0, decoder: OptConfigType = None,
                 init_cfg: OptConfigType = None):
        if init_cfg is None:
            init_cfg = [dict(type='Normal', layer='Conv2d', std=0.001),
                        dict(type='Constant', layer='BatchNorm2d', val=1)]
        super().__init__(init_cfg)
        if displacement_loss not in ('l1', 'smooth_l1'):
            raise ValueError("displacement_loss must be 'l1' or 'smooth_l1', "
                             f'got {displacement_loss!r}')
        if len(conv_out_channels) != len(conv_kernel_sizes):
            raise ValueError('conv_out_channels and conv_kernel_sizes differ in length')
        self.in_channels, self.out_channels = in_channels, out_channels
        self.displacement_loss = displacement_loss
        self.presence_loss_weight = presence_loss_weight
        self.displacement_loss_weight = displacement_loss_weight
        self.decoder = KEYPOINT_CODECS.build(decoder) if decoder is not None else None

        layers, c = [], in_channels
        for oc, k in zip(conv_out_channels, conv_kernel_sizes):
            layers += [nn.Conv2d(c, oc, k, padding=(k - 1) // 2), nn.BatchNorm2d(oc),
                       nn.ReLU(inplace=True)]
            c = oc
        self.conv_layers = nn.Sequential(*layers)
        self.presence_layer = nn.Conv2d(c, out_channels, 1)
        self.displacement_layer = nn.Conv2d(c, 2 * out_channels, 1)
        self._init_presence_bias()

    def _init_presence_bias(self):
        # Start at a low presence probability (one positive among ~1000 patches) so the
        # first steps are not spent pushing every patch down from p = 0.5.
        nn.init.constant_(self.presence_layer.bias, -math.log(99.0))

    def init_weights(self):
        super().init_weights()
        self._init_presence_bias()

    def forward(self, feats: Tuple[Tensor]) -> Tuple[Tensor, Tensor]:
        """Returns (presence logits (B, K, h, w), log-scaled displacements (B, 2K, h, w))."""
        x = self.conv_layers(feats[-1])
        return self.presence_layer(x), self.displacement_layer(x)

    def predict(self, feats, batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}) -> Predictions:
        """Keypoints (1, K, 2) in input pixels and scores (1, K) per sample; with
        ``test_cfg['output_heatmaps']`` also the presence probabilities as heatmaps."""
        if test_cfg.get('flip_test', False):
            raise NotImplementedError('PatchVotingHead does not support flip_test')
        logits, displacements = self.forward(feats)
        self._check_grid(logits)
        probs = logits.sigmoid()
        preds = self.decode((probs, displacements))
        if test_cfg.get('output_heatmaps', False):
            return preds, [PixelData(heatmaps=p) for p in probs.detach()]
        return preds

    def loss(self, feats: Tuple[Tensor], batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> dict:
        logits, displacements = self.forward(feats)
        presence = torch.stack([d.gt_fields.presence for d in batch_data_samples])
        target = torch.stack([d.gt_fields.displacements for d in batch_data_samples])
        weights = torch.cat([d.gt_instance_labels.keypoint_weights for d in batch_data_samples])
        if presence.shape != logits.shape:
            raise ValueError(f'target grid {tuple(presence.shape[-2:])} != predicted grid '
                             f'{tuple(logits.shape[-2:])}: the feature stride must equal the '
                             "codec's patch_size")
        B, K, h, w = logits.shape

        bce = F.binary_cross_entropy_with_logits(logits, presence, reduction='none')
        loss_presence = (bce.mean((2, 3)) * weights).sum() / weights.sum().clamp(min=1e-6)

        mask = (presence > 0) * weights[:, :, None, None]                 # (B, K, h, w)
        pred, target = displacements.view(B, K, 2, h, w), target.view(B, K, 2, h, w)
        if self.displacement_loss == 'l1':
            err = F.l1_loss(pred, target, reduction='none')
        else:
            err = F.smooth_l1_loss(pred, target, reduction='none')
        loss_disp = (err.sum(2) * mask).sum() / mask.sum().clamp(min=1e-6)

        return dict(loss_presence=self.presence_loss_weight * loss_presence,
                    loss_displacement=self.displacement_loss_weight * loss_disp)

    def _check_grid(self, logits: Tensor):
        if self.decoder is not None:
            grid = tuple(logits.shape[-2:][::-1])
            if grid != self.decoder.grid_size:
                raise ValueError(f'predicted grid (w, h) {grid} != codec grid '
                                 f'{self.decoder.grid_size}: the feature stride must equal '
                                 "the codec's patch_size")
