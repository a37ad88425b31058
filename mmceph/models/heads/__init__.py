from .d2s_heatmap_head import DepthToSpaceHeatmapHead
from .patch_voting_head import PatchVotingHead
from .two_stage_regression_head import TwoStageRegressionHead

__all__ = ['DepthToSpaceHeatmapHead', 'PatchVotingHead', 'TwoStageRegressionHead']
