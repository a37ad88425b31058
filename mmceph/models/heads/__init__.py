from .d2s_heatmap_head import DepthToSpaceHeatmapHead
from .patch_voting_head import PatchVotingHead

__all__ = ['DepthToSpaceHeatmapHead', 'PatchVotingHead']
