from .backbones import S2DHRNet, UNetPlusPlus
from .heads import DepthToSpaceHeatmapHead, PatchVotingHead, TwoStageRegressionHead
from .losses import KeypointL1Loss
from .necks import SemanticFusionNeck
from .pose_estimators import LandmarkCascade, SampleRefinerPatches

__all__ = ['S2DHRNet', 'UNetPlusPlus', 'DepthToSpaceHeatmapHead', 'PatchVotingHead',
           'TwoStageRegressionHead', 'KeypointL1Loss', 'SemanticFusionNeck',
           'LandmarkCascade', 'SampleRefinerPatches']
