"""Read the images clinics actually have: 8/16-bit, grey or colour, BMP/PNG/JPEG/TIFF.

Returns an 8-bit BGR array (what MMPose pipelines expect) and, when the file states it,
the pixel spacing. 16-bit images are windowed to their own 0.5-99.5 percentile range
so faint bone edges are kept rather than crushed by a fixed divide.
"""
import os
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
    """Return ``(bgr_uint8, pixel_spacing_or_None, spacing_source)``.

    Anything that is not a readable image (no file, garbage, truncated, an unsupported
    layout such as a multi-frame DICOM, a DICOM spacing that is not two positive numbers)
    raises :class:`ImageReadError` naming the file.
    """
    path = os.fspath(path)      # str or pathlib.Path
    if not osp.isfile(path):
        raise ImageReadError(f'{path}: no such file')
    try:
        with open(path, 'rb') as f:
            head = f.read(132)
    except OSError as err:
        raise ImageReadError(f'{path}: cannot read the file ({err.strerror})') from None
    if head[128:132] == b'DICM' or path.lower().endswith(('.dcm', '.dicom')):
        pixels, spacing, source = _read_dicom(path)
    else:
        try:
            pixels = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        except cv2.error:              # OpenCV raises for some corrupt headers
            pixels = None
        if pixels is None or pixels.size == 0:
            raise ImageReadError(f'{path}: not a readable image (corrupt, truncated or '
                                 'unsupported format)')
        spacing = source = None
    image = to_uint8_bgr(pixels)
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise ImageReadError(f'{path}: unsupported pixel layout {tuple(pixels.shape)} '
                             '(expected grey, BGR or BGRA)')
    return image, spacing, source


def _read_dicom(path):
    try:
        import pydicom
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array
        frames = int(getattr(ds, 'NumberOfFrames', 1) or 1)
    except Exception as err:  # pydicom raises many types for bad files
        raise ImageReadError(f'{path}: not a readable DICOM file ({err})') from err
    if frames > 1:
        raise ImageReadError(f'{path}: a multi-frame DICOM ({frames} frames); save the one '
                             'radiograph as its own file')
    if pixels.size == 0:
        raise ImageReadError(f'{path}: the DICOM file has no pixels')
    spacing, source = None, None
    for tag in ('PixelSpacing', 'ImagerPixelSpacing'):
        if tag not in ds:
            continue
        shown, value = '(unreadable)', None
        try:
            shown = repr(str(ds[tag].value))[:60]
            value = [float(v) for v in ds[tag].value]     # DICOM order: row (y), column (x)
        except Exception:             # noqa: S110 - a single value, text, ...: refused below
            pass
        if value is None or len(value) != 2 or not all(np.isfinite(v) and v > 0
                                                        for v in value):
            raise ImageReadError(f'{path}: DICOM {tag} {shown} is not two positive numbers '
                                 '(mm per pixel)')
        spacing, source = (value[1], value[0]), f'DICOM {tag}'
        break
    if getattr(ds, 'PhotometricInterpretation', '') == 'MONOCHROME1':
        pixels = pixels.max() - pixels            # MONOCHROME1: high values are dark
    return pixels, spacing, source
