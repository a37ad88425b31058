from .backbones import S2DHRNet
from .heads import DepthToSpaceHeatmapHead

__all__ = ['S2DHRNet', 'DepthToSpaceHeatmapHead']
