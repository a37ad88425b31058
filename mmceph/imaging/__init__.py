"""Reading a radiograph (BMP/PNG/JPEG/TIFF, 8-16 bit, EXIF orientation, DICOM) completely or
refusing it in one line, and the one intensity mapping to what a model sees
(:func:`~.image_io.to_uint8_bgr`). Torch-free: the datasets' loader, the PyTorch and ONNX
predictors, the review app and the fuzz tests read images through it."""
from .image_io import ImageReadError, read_image, to_uint8_bgr

__all__ = ['ImageReadError', 'read_image', 'to_uint8_bgr']
