from .s2d_hrnet import S2DHRNet
from .unetpp import UNetPlusPlus

__all__ = ['S2DHRNet', 'UNetPlusPlus']
