from .compensated_heatmap import CompensatedHeatmap
from .patch_voting import PatchVotingLabel

__all__ = ['CompensatedHeatmap', 'PatchVotingLabel']
