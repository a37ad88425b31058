from .cephalometric import (CephalometricDataset, ISBI2015Dataset, LateralPhotoDataset,
                            WebCeph2kDataset)
from .transforms import ApplyRoiPrior

__all__ = ['ApplyRoiPrior', 'CephalometricDataset', 'ISBI2015Dataset', 'WebCeph2kDataset', 'LateralPhotoDataset']
