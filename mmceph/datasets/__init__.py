from .cephalometric import (CephalometricDataset, ISBI2015Dataset, LateralPhotoDataset,
                            WebCeph2kDataset)

__all__ = ['CephalometricDataset', 'ISBI2015Dataset', 'WebCeph2kDataset', 'LateralPhotoDataset']
