"""Inference APIs, the top floor: ``LandmarkPredictor`` (PyTorch/MMPose, imported on first
use, so ``import mmceph.apis`` stays light), the folder run of ``tools/infer.py``, the
overlay, site adaptation and the ONNX export. Nothing below imports from here: the
torch-free foundation it builds on is :mod:`mmceph.imaging` (reading, intensity mapping)
and :mod:`mmceph.predictor` (the predictor base and the quality gate), which the ONNX
runtime (:mod:`mmceph.runtime`) uses too."""
from ..imaging.image_io import ImageReadError, read_image

__all__ = ['ImageReadError', 'read_image', 'LandmarkPredictor']


def __getattr__(name):
    if name == 'LandmarkPredictor':
        from .inference import LandmarkPredictor
        return LandmarkPredictor
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
