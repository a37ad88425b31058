"""Fuzz helpers for ``read_image`` of tools/infer.py: image templates (PNG, JPEG, TIFF,
DICOM) and mutations."""
import contextlib
import io

import numpy as np
from fuzz_common import mutate_bytes
from hypothesis import strategies as st


# --------------------------------------------------------------------------- images
def dicom_bytes(pixels, spacing=('0.1', '0.1'), photometric='MONOCHROME2',
                spacing_tag='PixelSpacing', frames=None):
    """A small uncompressed DICOM file (16-bit grey) with the given spacing strings."""
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = '1.2.3.4'
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset('x.dcm', {}, file_meta=meta, preamble=b'\0' * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, '1.2.3.4'
    ds.Rows, ds.Columns = pixels.shape[-2:]
    if frames:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    placeholder = '1.23456789\\1.2345678'         # replaced below: pydicom refuses bad DS
    if spacing is not None:
        ds.add_new(pydicom.tag.Tag(spacing_tag), 'DS', placeholder)
    ds.PixelData = pixels.astype('<u2').tobytes()
    buf = io.BytesIO()
    with warnings_ignored():
        ds.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    if spacing is not None:
        value = '\\'.join(spacing).ljust(len(placeholder)).encode()
        assert data.count(placeholder.encode()) == 1 and len(value) == len(placeholder)
        data = data.replace(placeholder.encode(), value)
    return data


@contextlib.contextmanager
def warnings_ignored():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        yield


def image_templates():
    """``{name: (bytes, expected)}``: expected ``(h, w, spacing)`` of a valid file."""
    import cv2
    rng = np.random.default_rng(5)
    grey = rng.integers(0, 255, (12, 16), dtype=np.uint8)
    colour = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
    rgba = rng.integers(0, 255, (12, 16, 4), dtype=np.uint8)
    grey16 = rng.integers(0, 65535, (12, 16), dtype=np.uint16)
    flat16 = np.full((12, 16), 1000, np.uint16)
    out = {}
    for ext, arrays in (('.png', dict(grey=grey, colour=colour, rgba=rgba, grey16=grey16,
                                      flat16=flat16)),
                        ('.jpg', dict(grey=grey, colour=colour)),
                        ('.bmp', dict(grey=grey, colour=colour)),
                        ('.tif', dict(grey=grey, colour=colour, grey16=grey16,
                                      float32=grey16.astype(np.float32) / 7))):
        for name, arr in arrays.items():
            out[f'{name}{ext}'] = (cv2.imencode(ext, arr)[1].tobytes(), (12, 16, None))
    out['mono2.dcm'] = (dicom_bytes(grey16), (12, 16, [0.1, 0.1]))
    out['mono1.dcm'] = (dicom_bytes(grey16, ('0.2', '0.1'), 'MONOCHROME1'), (12, 16, [0.1, 0.2]))
    out['imager.dcm'] = (dicom_bytes(grey16, ('0.15', '0.15'), spacing_tag='ImagerPixelSpacing'),
                         (12, 16, [0.15, 0.15]))
    out['nospacing.dcm'] = (dicom_bytes(grey16, None), (12, 16, None))
    for name, spacing in (('zero', ('0', '0.1')), ('negative', ('-0.1', '0.1')),
                          ('nan', ('nan', '0.1')), ('one', ('0.1',)), ('three', ('0.1',) * 3),
                          ('text', ('abc', 'def')), ('inf', ('inf', 'inf'))):
        # readable; the invalid spacing is reported (a --pixel-spacing can rescue the file)
        out[f'spacing-{name}.dcm'] = (dicom_bytes(grey16, spacing), (12, 16, None))
    out['multiframe.dcm'] = (dicom_bytes(np.stack([grey16] * 3), frames=3), (12, 16, [0.1, 0.1]))
    out['constant.dcm'] = (dicom_bytes(np.zeros((12, 16), np.uint16)), (12, 16, [0.1, 0.1]))
    return out


IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.dcm', '.dicom', '.PNG', '']


@st.composite
def image_file(draw, templates):
    """``(bytes, extension, expected)``: expected ``(h, w, spacing)`` for an undamaged
    file whose extension matches its content (or is an image extension OpenCV ignores),
    ``None`` where the reader may refuse it; ``'invalid'`` where it must."""
    name = draw(st.sampled_from(sorted(templates)))
    data, expected = templates[name]
    ext = name[name.rindex('.'):]
    kind = draw(st.sampled_from(['intact', 'intact', 'extension', 'truncate', 'zero', 'random',
                                 'garbage_tail', 'flip_data', 'dicom_garbage', 'bytes']))
    if kind == 'intact':
        return data, ext, expected if expected is not None else 'invalid'
    if kind == 'extension':
        return data, draw(st.sampled_from(IMAGE_EXTENSIONS)), None
    if kind == 'truncate':
        return data[:draw(st.integers(0, max(0, len(data) - 1)))], ext, None
    if kind == 'zero':
        return b'', draw(st.sampled_from(IMAGE_EXTENSIONS)), 'invalid'
    if kind == 'random':
        return draw(st.binary(max_size=400)), draw(st.sampled_from(IMAGE_EXTENSIONS)), None
    if kind == 'garbage_tail':
        keep = draw(st.integers(0, len(data)))
        return data[:keep] + draw(st.binary(max_size=200)), ext, None
    if kind == 'flip_data':                          # damage pixel data, keep the header
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(min(len(out) - 1, len(out) // 2), len(out) - 1))
            out[i] = draw(st.integers(0, 255))
        return bytes(out), ext, None
    if kind == 'dicom_garbage':
        return (b'\0' * 128 + b'DICM' + draw(st.binary(max_size=300)),
                draw(st.sampled_from(IMAGE_EXTENSIONS)), None)
    return mutate_bytes(draw, data), ext, None
