"""Read the images clinics actually have, and map them to what the model sees.

Two concepts, one owner each:

- :func:`read_image` decodes a file *completely or not at all*: BMP/PNG/JPEG/TIFF through
  PIL (which, unlike OpenCV, refuses a truncated file instead of returning half a skull,
  and knows the EXIF orientation) and DICOM through pydicom. The pixel count is checked
  from the header before anything is decoded (decompression bombs), multi-frame files
  give their first frame and say so, EXIF orientation is applied (the coordinates are
  then in the frame the image is *displayed* in) and a DICOM's spacing is checked
  against the same bounds as a spacing typed on the command line.
- :func:`to_uint8_bgr` is the one intensity mapping, used in training
  (``LoadCephalogram``), by ``tools/infer.py`` and by ``MMPoseInferencer``: 8-bit images
  are kept as they are (what every published model was trained on); wider integers are
  scaled from the smallest standard depth that holds their maximum (8, 10, 12, 14 or 16
  bits) to 0..255, so an 8-bit radiograph stored in 16 bits (x257) becomes exactly the
  8-bit image again and a 12-bit detector image uses the full range; floating-point
  (and signed integer) images are windowed to their own 0.5-99.5 percentile range. A DICOM
  with a VOI window (WindowCenter/WindowWidth) is shown through that window first, as a
  viewer would.

This module imports only numpy, OpenCV, PIL and pydicom, so it can be loaded on its own.
"""
import os
import os.path as osp
import struct
import warnings
from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np
from PIL import Image, ImageOps

from ..formats.images import READABLE_EXTENSIONS  # noqa: F401  (re-exported: what it reads)
from ..formats.spacing import SPACING_RANGE_MM
from ..utils.errors import UserError

DEFAULT_MAX_PIXELS = 64_000_000     # a 43x43 cm detector at 0.05 mm/px is 74 MP
WINDOW_PERCENTILES = (0.5, 99.5)    # floating-point images only
STANDARD_DEPTHS = (8, 10, 12, 14, 16)
# SPACING_RANGE_MM: the mm per pixel accepted from a file or the command line, the one
# range the converters and the schema use too (mmceph.formats.spacing says why).


class ImageReadError(UserError):
    """A file that is not a readable image; the message names the file."""


@dataclass
class LoadedImage:
    """A decoded image and what the file said about it.

    ``pixels`` keep the file's own depth (uint8, uint16, int32, float32...), grey (H, W)
    or BGR/BGRA (H, W, 3|4); pass them through :func:`to_uint8_bgr` for the network.
    """
    pixels: np.ndarray
    spacing: Optional[Tuple[float, float]] = None   # (x, y) mm per pixel, when valid
    spacing_source: Optional[str] = None             # e.g. 'DICOM PixelSpacing'
    spacing_error: Optional[str] = None              # the file's spacing, when invalid
    frame: int = 0                                   # frame used of a multi-frame file
    frames: int = 1
    exif_orientation: int = 1                        # 1 = stored as displayed

    @property
    def coordinate_frame(self) -> str:
        if self.exif_orientation == 1:
            return 'pixels of the stored image'
        return (f'pixels of the image as displayed (EXIF orientation {self.exif_orientation} '
                'applied to the stored pixels)')


def check_spacing(values, what: str) -> Tuple[float, float]:
    """``(sx, sy)`` from one or two numbers, each within :data:`SPACING_RANGE_MM`;
    anything else raises ``ValueError`` naming ``what``."""
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        values = []
    lo, hi = SPACING_RANGE_MM
    if len(values) not in (1, 2) or not all(lo <= v <= hi for v in values):
        raise ValueError(f'{what} must be one or two numbers of mm per pixel between '
                         f'{lo:g} and {hi:g}')
    return (values[0], values[-1])


def to_uint8_bgr(array: np.ndarray) -> np.ndarray:
    """Any grey/colour array of any depth -> uint8 BGR (H, W, 3) (see the module
    docstring for the mapping)."""
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 4:
        a = a[..., :3]                      # alpha carries no anatomy
    elif a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.dtype != np.uint8:
        if a.dtype.kind in 'ui' and a.size and a.min() >= 0:
            top = max(int(a.max()), 1)
            depth = next((b for b in STANDARD_DEPTHS if top < 2 ** b), int(top).bit_length())
            lo, hi = 0.0, float(2 ** depth - 1)
        else:
            lo, hi = _percentile_window(a)
        scaled = (a.astype(np.float64) - lo) / max(hi - lo, 1e-12) * 255.0
        a = np.round(np.clip(np.nan_to_num(scaled), 0, 255)).astype(np.uint8)
    if a.ndim == 2:
        a = cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(a)


def _percentile_window(a):
    """The 0.5 and 99.5 percentiles of the finite values (floating-point or signed)."""
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, WINDOW_PERCENTILES)
    return float(lo), float(hi)


def read_image(path, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode ``path`` completely (see the module docstring).

    Raises :class:`ImageReadError` naming the file for anything that is not a complete,
    readable image: no file, garbage, truncated, too many pixels, an unsupported layout.
    A DICOM spacing outside :data:`SPACING_RANGE_MM` is not an error here: it is reported
    in ``spacing_error``, so a spacing given by the user can still rescue the file.
    """
    path = os.fspath(path)      # str or pathlib.Path
    if not osp.isfile(path):
        raise ImageReadError(f'{path}: no such file')
    try:
        with open(path, 'rb') as f:
            head = f.read(132)
    except OSError as err:
        raise ImageReadError(f'{path}: cannot read the file ({err.strerror})') from None
    if not head:
        raise ImageReadError(f'{path}: the file is empty')
    if head[128:132] == b'DICM' or path.lower().endswith(('.dcm', '.dicom')):
        image = _read_dicom(path, max_pixels)
    else:
        image = _read_pil(path, max_pixels)
    p = image.pixels
    if p.ndim not in (2, 3) or (p.ndim == 3 and p.shape[2] not in (1, 3, 4)) or p.size == 0:
        raise ImageReadError(f'{path}: unsupported pixel layout {tuple(p.shape)} '
                             '(expected grey, colour or colour with alpha)')
    if p.dtype.kind not in 'uif' or p.dtype.itemsize > 8:
        raise ImageReadError(f'{path}: unsupported pixel type {p.dtype}')
    return image


def _too_many(path, width, height, max_pixels):
    if width * height > max_pixels:
        raise ImageReadError(f'{path}: {width}x{height} = {width * height / 1e6:.1f} million '
                             f'pixels, more than the limit of {max_pixels / 1e6:g} million '
                             '(a decompression bomb?); raise it with --max-pixels if the '
                             'image is genuine')


# PIL modes -> numpy, keeping the depth: 16-bit greys stay 16-bit.
_PIL_KEEP = {'L', 'I;16', 'I;16L', 'I;16B', 'I', 'F', 'RGB', 'RGBA'}


def _read_pil(path, max_pixels):
    limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None       # our own, clearer limit is checked below
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            with Image.open(path) as img:
                _too_many(path, *img.size, max_pixels)
                frames = int(getattr(img, 'n_frames', 1) or 1)
                img.seek(0)
                img.load()                   # raises on a truncated or corrupt file
                orientation = int(img.getexif().get(0x0112, 1) or 1)
                shown = ImageOps.exif_transpose(img) if orientation != 1 else img
                pixels = _pil_to_numpy(shown)
    except ImageReadError:
        raise
    except (OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError, EOFError,
            struct.error, Image.DecompressionBombError, MemoryError) as err:
        raise ImageReadError(f'{path}: not a readable image (corrupt, truncated or '
                             f'unsupported format: {str(err)[:120]})') from None
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    return LoadedImage(pixels, frame=0, frames=frames,
                       exif_orientation=orientation if orientation in range(1, 9) else 1)


def _pil_to_numpy(img):
    mode = img.mode
    if mode not in _PIL_KEEP:
        img = img.convert('RGBA' if 'A' in mode or 'transparency' in img.info else
                          'L' if mode in ('1', 'LA', 'La') else 'RGB')
        mode = img.mode
    a = np.asarray(img)
    if mode.startswith('I;16'):
        a = a.astype(np.uint16)
    if a.ndim == 3 and a.shape[2] == 3:
        a = a[..., ::-1]                     # RGB -> BGR, as OpenCV and MMPose use
    elif a.ndim == 3 and a.shape[2] == 4:
        a = a[..., [2, 1, 0, 3]]
    return np.ascontiguousarray(a)


def _read_dicom(path, max_pixels):
    try:
        import pydicom
        ds = pydicom.dcmread(path)
        rows, cols = int(ds.Rows), int(ds.Columns)
        frames = int(getattr(ds, 'NumberOfFrames', 1) or 1)
    except Exception as err:  # pydicom raises many types for bad files
        raise ImageReadError(f'{path}: not a readable DICOM file ({str(err)[:120]})') from None
    _too_many(path, cols, rows, max_pixels)
    try:
        pixels = ds.pixel_array
    except Exception as err:  # blind except: missing pixel data, unsupported transfer syntax...
        raise ImageReadError(f'{path}: not a readable DICOM file ({str(err)[:120]})') from None
    if frames > 1:
        pixels = pixels[0]
    samples = int(getattr(ds, 'SamplesPerPixel', 1) or 1)
    if pixels.size == 0 or pixels.ndim != (2 if samples == 1 else 3):
        raise ImageReadError(f'{path}: the DICOM file has no usable pixels '
                             f'(shape {tuple(pixels.shape)})')
    if samples == 3:
        pixels = np.ascontiguousarray(pixels[..., ::-1])        # RGB -> BGR
    image = LoadedImage(pixels, frame=0, frames=frames)
    for tag in ('PixelSpacing', 'ImagerPixelSpacing'):
        if tag not in ds:
            continue
        shown = '(unreadable)'
        try:
            shown = repr(str(ds[tag].value))[:60]
            row_col = [float(v) for v in ds[tag].value]     # DICOM order: row (y), column (x)
            if len(row_col) != 2:
                raise ValueError
            image.spacing = check_spacing((row_col[1], row_col[0]), f'DICOM {tag}')
            image.spacing_source = f'DICOM {tag}'
        except Exception:             # blind except: one value, text, out of range...
            lo, hi = SPACING_RANGE_MM
            image.spacing_error = (f'DICOM {tag} {shown} is not two numbers of mm per pixel '
                                   f'between {lo:g} and {hi:g}')
        break
    if samples == 1:
        image.pixels = _dicom_display(ds, pixels)
    return image


def _dicom_display(ds, pixels):
    """Grey DICOM pixels as a viewer shows them: through the file's VOI window when it has
    one (then uint8), MONOCHROME1 inverted (high values are dark there)."""
    monochrome1 = getattr(ds, 'PhotometricInterpretation', '') == 'MONOCHROME1'
    try:
        centre = float(np.ravel([ds.WindowCenter])[0])
        width = float(np.ravel([ds.WindowWidth])[0])
    except (AttributeError, TypeError, ValueError, IndexError):
        centre = width = None
    if centre is not None and np.isfinite(centre) and np.isfinite(width) and width >= 1:
        slope = float(getattr(ds, 'RescaleSlope', 1) or 1)
        intercept = float(getattr(ds, 'RescaleIntercept', 0) or 0)
        values = pixels.astype(np.float64) * slope + intercept
        grey = np.clip((values - (centre - width / 2)) / width * 255.0, 0, 255)
        grey = np.round(255 - grey if monochrome1 else grey).astype(np.uint8)
        return grey
    if monochrome1:
        return pixels.max() - pixels
    return pixels
