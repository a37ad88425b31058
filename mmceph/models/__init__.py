"""Every model mmceph registers into MMPose's ``MODELS``, by kind (the training transform
of the cascade, ``SampleRefinerPatches``, is registered from :mod:`mmceph.datasets`)."""
from .backbones import EfficientNetLite0, S2DHRNet, UNetPlusPlus
from .heads import DepthToSpaceHeatmapHead, PatchVotingHead, TwoStageRegressionHead
from .losses import KeypointL1Loss
from .necks import FinestFPN, SemanticFusionNeck
from .pose_estimators import CephalometricEstimator, LandmarkCascade

__all__ = ['EfficientNetLite0', 'S2DHRNet', 'UNetPlusPlus', 'DepthToSpaceHeatmapHead',
           'PatchVotingHead', 'TwoStageRegressionHead', 'KeypointL1Loss', 'FinestFPN',
           'SemanticFusionNeck', 'CephalometricEstimator', 'LandmarkCascade']
