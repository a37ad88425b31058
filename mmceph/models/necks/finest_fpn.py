"""FPN that returns only its finest level: one high-resolution map for a heatmap head.

Why: MMPose's ``FPN`` computes a 3x3 output conv on every level, and ``HeatmapHead``
reads the last (coarsest) map it is given. A landmark heatmap wants the opposite: the
top-down sum at the finest level, where the coarse levels contribute context. This
subclass keeps FPN's lateral convs and top-down pathway, builds only the finest output
conv (no unused parameters, which distributed training would reject) and returns that
one map, so no other level's output conv is paid for.
"""
from typing import Sequence, Tuple

import torch.nn.functional as F
from mmpose.models.necks import FPN
from mmpose.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class FinestFPN(FPN):
    """``FPN(in_channels, out_channels, num_outs=len(in_channels), **kwargs)``, finest out.

    Args:
        in_channels (Sequence[int]): channels of the backbone's maps, finest first.
        out_channels (int): channels of the returned map.
        **kwargs: ``FPN``'s ``norm_cfg``, ``act_cfg``, ``upsample_cfg``, ...
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int, **kwargs):
        kwargs.setdefault('num_outs', len(in_channels))
        super().__init__(list(in_channels), out_channels, **kwargs)
        if self.start_level != 0 or self.add_extra_convs:
            raise ValueError('FinestFPN takes start_level=0 and no extra convs')
        del self.fpn_convs[1:]

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor]:
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'FinestFPN expects {len(self.in_channels)} feature maps, '
                             f'got {len(inputs)}')
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, inputs)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(
                laterals[i], size=laterals[i - 1].shape[2:], **self.upsample_cfg)
        return (self.fpn_convs[0](laterals[0]), )
