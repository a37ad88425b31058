from .efficientnet_lite import EfficientNetLite0, EfficientNetLite1, EfficientNetLite2
from .s2d_hrnet import S2DHRNet
from .unetpp import UNetPlusPlus

__all__ = ['EfficientNetLite0', 'EfficientNetLite1', 'EfficientNetLite2', 'S2DHRNet',
           'UNetPlusPlus']
