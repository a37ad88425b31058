"""UNet++ (Zhou et al. 2018, "UNet++: A Nested U-Net Architecture") as an MMPose backbone.

Node X^{i,j} (level i = number of 2x down-samplings, j = position along the skip path):
- X^{i,0} = block(maxpool(X^{i-1,0})), the encoder (X^{0,0} = block(stem(image)));
- X^{i,j} = block(concat(X^{i,0}, ..., X^{i,j-1}, up(X^{i+1,j-1}))) for j >= 1, the
  nested dense skip paths that bridge the semantic gap between encoder and decoder;
where ``block`` is two 3x3 conv + BN + ReLU (VGG style) and ``up`` is 2x bilinear.
The output is the top node X^{0,depth}, the decoder's full-resolution end.

Heatmap codecs work at a stride (1/4 of the input for ``CompensatedHeatmap``), so the
nested U-Net runs at 1/output_stride of the input behind a free space-to-depth stem
(``PixelUnshuffle(output_stride)``, as in ``S2DHRNet``): no pixel is dropped before the
first conv, the cost falls by output_stride^2, and each output pixel covers exactly the
input cell that ``CompensatedHeatmap``'s area-aligned grid assigns to it (centre at
s*i + (s-1)/2); 2x2 max-pooling and bilinear (align_corners=False) up-sampling keep that
alignment at every level. ``HeatmapHead(deconv_out_channels=None)`` (a 1x1 conv) then
gives the heatmaps.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmpose.registry import MODELS


def conv_block(in_channels, out_channels, conv_cfg, norm_cfg):
    """Two 3x3 conv + norm + ReLU, as in VGG and in the UNet++ paper."""
    return nn.Sequential(
        ConvModule(in_channels, out_channels, 3, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg),
        ConvModule(out_channels, out_channels, 3, padding=1, conv_cfg=conv_cfg, norm_cfg=norm_cfg))


@MODELS.register_module()
class UNetPlusPlus(BaseModule):   # not BaseBackbone: its train() returns None
    """UNet++ behind a space-to-depth stem; returns the top node(s) at 1/output_stride of the input.

    Args:
        in_channels (int): image channels.
        depth (int): number of 2x down-samplings inside the nested U-Net (levels 0..depth).
        base_channels (int): width of level 0; level i has ``base_channels * width_mult**i``.
        width_mult (float): width multiplier per level (2 in the paper).
        widths (Sequence[int], optional): explicit widths per level (depth + 1 ints); overrides the
            two above.
        output_stride (int): 1, 2 or 4 (default 4); the space-to-depth factor of the stem.
        deep_supervision (bool): if True, return every top node (X^{0,1}, ..., X^{0,depth}),
            all ``widths[0]`` channels at the same size, for a head or neck that uses them
            all (e.g. ``FeatureMapProcessor(concat=True)``); by default only X^{0,depth}.
            ``HeatmapHead`` reads the last one either way.
        conv_cfg (dict, optional): ``ConvModule`` conv config (None: Conv2d).
        norm_cfg (dict): ``ConvModule`` norm config.
        init_cfg (dict, optional): MMEngine initialisation config.
    Input height and width must be divisible by ``output_stride * 2**depth`` (64 with the
    defaults); other sizes raise a ValueError that names the nearest valid size.
    """

    def __init__(self, in_channels: int = 3, depth: int = 4, base_channels: int = 32,
                 width_mult: float = 2.0, widths: Optional[Sequence[int]] = None,
                 output_stride: int = 4, deep_supervision: bool = False,
                 conv_cfg: Optional[dict] = None, norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)     # ConvModule inits its own conv and norm
        if not (isinstance(output_stride, int) and output_stride >= 1):
            raise ValueError(f'output_stride must be a positive int (1, 2, 4), got {output_stride}')
        if depth < 1:
            raise ValueError(f'depth must be >= 1, got {depth}')
        if widths is None:
            widths = [int(round(base_channels * width_mult ** i)) for i in range(depth + 1)]
        if len(widths) != depth + 1:
            raise ValueError(f'widths needs depth + 1 = {depth + 1} entries, got {widths}')
        self.depth, self.widths = depth, tuple(widths)
        self.output_stride, self.deep_supervision = output_stride, deep_supervision

        self.stem = nn.PixelUnshuffle(output_stride)         # identity for output_stride 1
        c = in_channels * output_stride ** 2
        # nodes[f'{i}_{j}'] is X^{i,j}; level i exists for j = 0 .. depth - i
        self.nodes = nn.ModuleDict()
        for i in range(depth + 1):
            self.nodes[f'{i}_0'] = conv_block(c if i == 0 else widths[i - 1], widths[i],
                                              conv_cfg, norm_cfg)
        for j in range(1, depth + 1):
            for i in range(depth + 1 - j):
                self.nodes[f'{i}_{j}'] = conv_block(j * widths[i] + widths[i + 1], widths[i],
                                                    conv_cfg, norm_cfg)

    def forward(self, x):
        h, w = x.shape[-2:]
        step = self.output_stride * 2 ** self.depth
        if h % step or w % step:
            raise ValueError(
                f'UNetPlusPlus(depth={self.depth}, output_stride={self.output_stride}) needs '
                f'input height and width divisible by {step} (got height {h}, width {w}); '
                f'choose input_size accordingly, e.g. input_size=({-(-w // step) * step}, '
                f'{-(-h // step) * step})')
        X = {}
        for i in range(self.depth + 1):
            x = self.nodes[f'{i}_0'](self.stem(x) if i == 0 else F.max_pool2d(x, 2))
            X[i, 0] = x
        for j in range(1, self.depth + 1):
            for i in range(self.depth + 1 - j):
                up = F.interpolate(X[i + 1, j - 1], scale_factor=2, mode='bilinear',
                                   align_corners=False)
                X[i, j] = self.nodes[f'{i}_{j}'](torch.cat([X[i, k] for k in range(j)] + [up], 1))
        if self.deep_supervision:
            return tuple(X[0, j] for j in range(1, self.depth + 1))
        return (X[0, self.depth], )
