"""Space-to-depth HRNet(V2): the whole network at 1/(4r) of the input instead of 1/4.

``PixelUnshuffle(r)`` folds each r x r block of the input into channels before a
standard HRNet stem, so every layer runs on r^2 fewer positions: at 800x800 and r=4 the
backbone costs roughly what stock HRNet costs at 200x200. Pair it with
``DepthToSpaceHeatmapHead`` to get heatmaps back at 1/4 of the input.

Two changes to MMPose's HRNet, both by subclassing:
- branch fusion resizes to the *target branch's size* instead of upsampling by a fixed
  factor, so inputs need only be divisible by 4r (e.g. 800 with r=4), not by 32r;
- ``load_compatible`` / ``init_cfg=dict(type='Pretrained', ...)`` load stock HRNet
  weights into every layer whose shape still fits (all but the stem's first conv, which
  now sees 3r^2 channels) and log the keys it skipped.
"""
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
from mmengine.logging import MMLogger
from mmengine.runner import CheckpointLoader
from mmpose.models.backbones.hrnet import HRModule, HRNet
from mmpose.registry import MODELS


class SizeMatchedHRModule(HRModule):
    """HRModule whose fusion upsamples each branch to the exact size of the target."""

    def forward(self, x):
        if self.num_branches == 1:
            return [self.branches[0](x[0])]
        x = [branch(xi) for branch, xi in zip(self.branches, x)]
        fused = []
        for i, layers in enumerate(self.fuse_layers):
            y = 0
            for j, xj in enumerate(x):
                if i == j:
                    y = y + xj
                elif j > i:       # conv + norm, then resize (instead of nn.Upsample)
                    up = layers[j][-1]
                    y = y + F.interpolate(layers[j][:-1](xj), size=x[i].shape[-2:],
                                          mode=up.mode, align_corners=up.align_corners)
                else:
                    y = y + layers[j](xj)
            fused.append(self.relu(y))
        return fused


@MODELS.register_module()
class S2DHRNet(HRNet):
    """HRNet with a space-to-depth front.

    Args:
        extra (dict): HRNet stage config, as for MMPose's ``HRNet``.
        in_channels (int): image channels (before space-to-depth).
        downscale (int): r, the space-to-depth factor (default 4).
        init_cfg (dict, optional): ``dict(type='Pretrained', checkpoint=PATH, prefix='backbone.')``
            loads compatible stock HRNet weights (see ``load_compatible``).
        **kwargs: further ``HRNet`` arguments (``norm_cfg``, ``norm_eval``, ...).
    Input height and width must be divisible by 4r.
    """

    def __init__(self, extra: dict, in_channels: int = 3, downscale: int = 4,
                 init_cfg: Optional[dict] = None, **kwargs):
        is_pretrained = isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained'
        pretrained = init_cfg if is_pretrained else None
        super().__init__(extra, in_channels=in_channels * downscale ** 2,
                         init_cfg=None if pretrained else init_cfg, **kwargs)
        self.pretrained = pretrained
        self.downscale = downscale
        self.space_to_depth = nn.PixelUnshuffle(downscale)
        for module in self.modules():
            if type(module) is HRModule:
                module.__class__ = SizeMatchedHRModule

    def forward(self, x):
        h, w = x.shape[-2:]
        step = 4 * self.downscale
        if h % step or w % step:
            raise ValueError(
                f'S2DHRNet(downscale={self.downscale}) needs input height and width divisible '
                f'by {step} (got {h}x{w}); choose input_size accordingly, e.g. '
                f'{-(-w // step) * step}x{-(-h // step) * step}')
        return super().forward(self.space_to_depth(x))

    def init_weights(self):
        super().init_weights()
        if self.pretrained:
            ckpt = CheckpointLoader.load_checkpoint(self.pretrained['checkpoint'],
                                                    map_location='cpu')
            state = ckpt.get('state_dict', ckpt)
            prefix = self.pretrained.get('prefix', '')
            if prefix:
                state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            self.load_compatible(state)

    def load_compatible(self, state_dict):
        """Load every tensor whose name and shape match; return (loaded, skipped) keys."""
        own = self.state_dict()
        fits = {k: v for k, v in state_dict.items() if k in own and own[k].shape == v.shape}
        skipped = sorted(set(state_dict) - set(fits))
        self.load_state_dict(fits, strict=False)
        untouched = sorted(set(own) - set(fits))
        MMLogger.get_current_instance().info(
            f'S2DHRNet: loaded {len(fits)} of {len(own)} tensors from stock HRNet weights; '
            f'skipped (shape or name mismatch): {skipped}; left at init: {untouched}')
        return sorted(fits), skipped
