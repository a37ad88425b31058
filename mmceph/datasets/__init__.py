from .cephalometric import (CephalometricDataset, ISBI2015Dataset, LateralPhotoDataset,
                            WebCeph2kDataset)
from .transforms import ApplyRoiPrior, KeepFullImage

__all__ = ['ApplyRoiPrior', 'KeepFullImage', 'CephalometricDataset', 'ISBI2015Dataset', 'WebCeph2kDataset', 'LateralPhotoDataset']
