from .image_io import ImageReadError, read_image
from .inference import LandmarkPredictor

__all__ = ['ImageReadError', 'read_image', 'LandmarkPredictor']
