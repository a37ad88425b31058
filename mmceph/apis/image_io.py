"""Read the images clinics actually have: 8/16-bit, grey or colour, BMP/PNG/JPEG/TIFF.

Returns an 8-bit BGR array (what MMPose pipelines expect) and, when the file states it,
the pixel spacing. 16-bit images are windowed to their own 0.5-99.5 percentile range
so faint bone edges are kept rather than crushed by a fixed divide.
"""
import os.path as osp

import cv2
import numpy as np


class ImageReadError(ValueError):
    """A file that is not a readable image; the message names the file."""


def to_uint8_bgr(array):
    """Any grey/colour array of any integer or float depth -> uint8 BGR (H, W, 3)."""
    a = np.asarray(array)
    if a.dtype != np.uint8:
        a = a.astype(np.float32)
        lo, hi = np.percentile(a, (0.5, 99.5))
        a = np.clip((a - lo) / max(hi - lo, 1e-6) * 255.0, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
    elif a.ndim == 3 and a.shape[2] == 4:
        a = cv2.cvtColor(a, cv2.COLOR_BGRA2BGR)
    elif a.ndim == 3 and a.shape[2] == 1:
        a = cv2.cvtColor(a[..., 0], cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(a)


def read_image(path):
    """Return ``(bgr_uint8, pixel_spacing_or_None, spacing_source)``."""
    if not osp.isfile(path):
        raise ImageReadError(f'{path}: no such file')
    with open(path, 'rb') as f:
        head = f.read(132)
    if head[128:132] == b'DICM' or path.lower().endswith(('.dcm', '.dicom')):
        return _read_dicom(path)
    raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if raw is None or raw.size == 0:
        raise ImageReadError(f'{path}: not a readable image (corrupt, truncated or '
                             'unsupported format)')
    return to_uint8_bgr(raw), None, None


def _read_dicom(path):
    try:
        import pydicom
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array
    except Exception as err:  # pydicom raises many types for bad files
        raise ImageReadError(f'{path}: not a readable DICOM file ({err})') from err
    spacing, source = None, None
    for tag in ('PixelSpacing', 'ImagerPixelSpacing'):
        value = getattr(ds, tag, None)
        if value is not None and len(value) == 2:
            row, col = (float(v) for v in value)   # DICOM order: row (y), column (x)
            spacing, source = (col, row), f'DICOM {tag}'
            break
    if getattr(ds, 'PhotometricInterpretation', '') == 'MONOCHROME1':
        pixels = pixels.max() - pixels            # MONOCHROME1: high values are dark
    return to_uint8_bgr(pixels), spacing, source
