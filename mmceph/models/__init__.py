from .backbones import S2DHRNet, UNetPlusPlus
from .heads import DepthToSpaceHeatmapHead, PatchVotingHead
from .losses import KeypointL1Loss

__all__ = ['S2DHRNet', 'UNetPlusPlus', 'DepthToSpaceHeatmapHead', 'PatchVotingHead',
           'KeypointL1Loss']
