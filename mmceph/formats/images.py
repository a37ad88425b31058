"""Image file extensions, listed once.

The converters copy raster images only; inference (``mmceph/imaging/image_io.py``) also
reads DICOM. Both take their list from here.
"""
RASTER_EXTENSIONS = ('.bmp', '.png', '.jpg', '.jpeg', '.tif', '.tiff')
DICOM_EXTENSIONS = ('.dcm', '.dicom')
READABLE_EXTENSIONS = RASTER_EXTENSIONS + DICOM_EXTENSIONS
