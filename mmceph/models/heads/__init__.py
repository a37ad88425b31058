from .d2s_heatmap_head import DepthToSpaceHeatmapHead

__all__ = ['DepthToSpaceHeatmapHead']
