"""Semantic fusion neck: FPN-style top-down fusion of multi-scale backbone features.

Two-stage landmark regression needs two things from the backbone: a *fine* map rich in
semantics to crop landmark neighbourhoods from (stage 2), and the *deepest* features to
regress the global layout from (stage 1). The fine branch of a multi-scale backbone is
precise but semantically shallow, so the deeper levels are added into it top-down:
1x1 lateral convs bring every level to a common width, then, from the deepest level,
each map is resized to the next finer level's exact size and added (sizes need not be
powers of two apart), and a 3x3 conv smooths the upsampling seams of the finest sum.
"""
from typing import Optional, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class SemanticFusionNeck(BaseModule):
    """Fuse multi-scale features top-down into the finest level.

    Args:
        in_channels (Sequence[int]): channels of each input level, finest first (as HRNet returns
            them).
        out_channels (int): width of the fused map.
        upsample_mode (str): ``F.interpolate`` mode for the top-down path.
        init_cfg (dict, optional): MMEngine initialisation config.

    Returns (``forward``): a tuple ``(fused, deepest)``:
        - ``fused``: (B, out_channels, H0, W0), the fused map at the finest level's size;
        - ``deepest``: the last input level, unchanged (B, in_channels[-1], Hn, Wn).
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int = 64,
                 upsample_mode: str = 'bilinear', init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.in_channels = tuple(in_channels)
        self.upsample_mode = upsample_mode
        self.align_corners = None if upsample_mode == 'nearest' else False
        self.laterals = nn.ModuleList(nn.Conv2d(c, out_channels, 1) for c in in_channels)
        self.smooth = nn.Sequential(
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))

    def forward(self, feats: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        if len(feats) != len(self.laterals):
            raise ValueError(f'SemanticFusionNeck expects {len(self.laterals)} feature levels '
                             f'(in_channels={self.in_channels}), got {len(feats)}')
        fused = self.laterals[-1](feats[-1])
        for lateral, x in zip(self.laterals[-2::-1], feats[-2::-1]):
            up = F.interpolate(fused, size=x.shape[-2:], mode=self.upsample_mode,
                               align_corners=self.align_corners)
            fused = lateral(x) + up
        return self.smooth(fused), feats[-1]
