from .compensated_heatmap import CompensatedHeatmap

__all__ = ['CompensatedHeatmap']
