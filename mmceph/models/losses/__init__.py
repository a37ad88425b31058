from .heatmap_l1 import KeypointL1Loss

__all__ = ['KeypointL1Loss']
