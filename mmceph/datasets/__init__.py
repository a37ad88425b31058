from .cephalometric import (
    AarizDataset,
    CephalometricDataset,
    CLDetection2023Dataset,
    ISBI2015Dataset,
    LateralPhotoDataset,
    WebCeph2kDataset,
)
from .refiner_patches import SampleRefinerPatches
from .transforms import ApplyRoiPrior, KeepFullImage, PickAnnotator

__all__ = ['ApplyRoiPrior', 'KeepFullImage', 'PickAnnotator', 'SampleRefinerPatches',
           'CephalometricDataset',
           'ISBI2015Dataset', 'WebCeph2kDataset', 'LateralPhotoDataset', 'CLDetection2023Dataset',
           'AarizDataset']
