"""Depth-to-space heatmap head: heatmaps at r x the feature resolution, cheaply.

After optional 3x3 convs at the backbone's (low) resolution, a 1x1 conv predicts
K * r^2 channels and ``PixelShuffle(r)`` rearranges them into K heatmaps r times larger.
Output pixel ``r*j + a`` comes from feature cell ``j``: the same area-aligned grid that
``CompensatedHeatmap`` encodes on. Everything else (losses, flip test, ``predict``,
decoding through the codec) is MMPose's ``HeatmapHead``.
"""
import torch.nn as nn
from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS


@MODELS.register_module()
class DepthToSpaceHeatmapHead(HeatmapHead):
    """Args: as ``HeatmapHead`` (without deconvolutions), plus ``upscale`` (r)."""

    def __init__(self, in_channels, out_channels, upscale=4, conv_out_channels=None,
                 conv_kernel_sizes=None, **kwargs):
        kwargs.pop('deconv_out_channels', None)
        kwargs.pop('final_layer', None)
        super().__init__(in_channels, out_channels, deconv_out_channels=None,
                         conv_out_channels=conv_out_channels, conv_kernel_sizes=conv_kernel_sizes,
                         final_layer=None, **kwargs)
        self.upscale = upscale
        features = conv_out_channels[-1] if conv_out_channels else in_channels
        self.final_layer = nn.Sequential(
            nn.Conv2d(features, out_channels * upscale ** 2, kernel_size=1),
            nn.PixelShuffle(upscale))
