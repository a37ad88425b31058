"""L1 (mean absolute error) heatmap loss.

Why L1: the heatmaps are sparse (a few small Gaussians on an empty map). MSE's gradient
shrinks with the residual, so an almost flat map already scores well and the many
background pixels outweigh the few peak pixels: peaks come out low and blurred. L1's
gradient has the same size for every wrong pixel. The authors of the UNet++ cephalometric
method found L1 far better than SmoothL1 or MSE for this task.
"""
import torch.nn.functional as F
from mmpose.models.losses import KeypointMSELoss
from mmpose.registry import MODELS


@MODELS.register_module()
class KeypointL1Loss(KeypointMSELoss):
    """Mean absolute error between predicted and target heatmaps.

    Same arguments and ``forward(output, target, target_weights=None, mask=None)`` as
    MMPose's ``KeypointMSELoss`` and the same masking (its ``_get_mask``): with
    ``use_target_weight`` each keypoint's channel is scaled by its weight (B, K) or
    pixel-wise weight (B, K, H, W), so missing keypoints (weight 0) add nothing; the mean
    runs over all elements, as in ``KeypointMSELoss``. Unlike MMPose 1.3's
    ``KeypointMSELoss``, which applies ``target_weights`` whatever the flag says,
    ``use_target_weight=False`` ignores them.

    Args (``KeypointMSELoss``'s):
        use_target_weight (bool): weight each keypoint's channel by ``target_weights``.
        skip_empty_channel (bool): mask out channels whose target is all zero.
        loss_weight (float): factor applied to the loss.
    """

    def forward(self, output, target, target_weights=None, mask=None):
        mask = self._get_mask(target, target_weights if self.use_target_weight else None, mask)
        loss = F.l1_loss(output, target, reduction='none')
        if mask is not None:
            loss = loss * mask
        return loss.mean() * self.loss_weight
