"""Inference APIs. ``LandmarkPredictor`` (PyTorch/MMPose) is imported on first use, so the
torch-free modules here (image_io, quality, predictor_base) load without MMPose -- the ONNX
runtime (:mod:`mmceph.runtime`) uses them."""
from .image_io import ImageReadError, read_image

__all__ = ['ImageReadError', 'read_image', 'LandmarkPredictor']


def __getattr__(name):
    if name == 'LandmarkPredictor':
        from .inference import LandmarkPredictor
        return LandmarkPredictor
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
