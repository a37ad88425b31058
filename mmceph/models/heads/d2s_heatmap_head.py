"""Depth-to-space heatmap head: heatmaps at r x the feature resolution, cheaply.

After optional 3x3 convs at the backbone's (low) resolution, a 1x1 conv predicts
K * r^2 channels and ``PixelShuffle(r)`` rearranges them into K heatmaps r times larger.
Output pixel ``r*j + a`` comes from feature cell ``j``: the same area-aligned grid that
``CompensatedHeatmap`` encodes on. Everything else (losses, flip test, ``predict``,
decoding through the codec) is MMPose's ``HeatmapHead``.

Why ``final_layer`` is the bare 1x1 conv (state-dict version 3): up to version 2 it was
``Sequential(Conv2d, PixelShuffle)`` (keys ``final_layer.0.*``), exactly the layout that
``HeatmapHead``'s hook for MMPose 0.x checkpoints renames to ``conv_layers.0.*`` whenever
a state dict carries no version metadata -- an error, or, when shapes happened to match,
a silently wrong head. Now the shuffle is a parameter-free module applied in ``forward``,
and this head's own hook maps the old keys back by their layout, with or without metadata.
"""
from typing import Optional, Sequence, Tuple

import torch.nn as nn
from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class DepthToSpaceHeatmapHead(HeatmapHead):
    """``HeatmapHead`` without deconvolutions, upsampling by depth-to-space.

    Args:
        in_channels (int): channels of the (last) input feature map.
        out_channels (int): number of landmarks K.
        upscale (int): r, the factor between heatmap and feature resolution.
        conv_out_channels (Sequence[int], optional): channels of the convs before the
            final 1x1 conv, as in ``HeatmapHead``.
        conv_kernel_sizes (Sequence[int], optional): their kernel sizes.
        **kwargs: the other ``HeatmapHead`` arguments (``loss``, ``decoder``, ``init_cfg``);
            ``deconv_out_channels`` and ``final_layer`` are ignored.
    """

    _version = 3    # 3: final_layer is the Conv2d itself (2: Sequential(Conv2d, PixelShuffle))

    def __init__(self, in_channels: int, out_channels: int, upscale: int = 4,
                 conv_out_channels: Optional[Sequence[int]] = None,
                 conv_kernel_sizes: Optional[Sequence[int]] = None, **kwargs):
        kwargs.pop('deconv_out_channels', None)
        kwargs.pop('final_layer', None)
        super().__init__(in_channels, out_channels, deconv_out_channels=None,
                         conv_out_channels=conv_out_channels, conv_kernel_sizes=conv_kernel_sizes,
                         final_layer=None, **kwargs)
        self.upscale = upscale
        features = conv_out_channels[-1] if conv_out_channels else in_channels
        self.final_layer = nn.Conv2d(features, out_channels * upscale ** 2, kernel_size=1)
        self.pixel_shuffle = nn.PixelShuffle(upscale)

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        """Heatmaps (N, K, r*h, r*w) from the features' last map (N, C, h, w)."""
        return self.pixel_shuffle(super().forward(feats))

    def _load_state_dict_pre_hook(self, state_dict, prefix, local_meta, *args, **kwargs):
        """Replaces ``HeatmapHead``'s hook (registered under this name in its ``__init__``).

        This head never had an MMPose 0.x layout, so the only old layout to convert is
        version 2's ``final_layer.0.*``; it is recognised by its keys rather than by the
        version, because a state dict without ``_metadata`` (copied by hand, exported, or
        rebuilt key by key) has no version at all.
        """
        old = prefix + 'final_layer.0.'
        for key in [k for k in state_dict if k.startswith(old)]:
            state_dict[prefix + 'final_layer.' + key[len(old):]] = state_dict.pop(key)
