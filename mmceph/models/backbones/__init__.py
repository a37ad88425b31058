from .s2d_hrnet import S2DHRNet

__all__ = ['S2DHRNet']
