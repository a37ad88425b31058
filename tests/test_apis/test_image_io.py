"""Image reading and the one intensity mapping (mmceph.imaging.image_io), against values
computed by hand: colour order, bit depths, windows, DICOM spacing order and bounds, the
pixel limit at its exact value. Model-free: the mutation tests' runner (docs/mutation.md);
tests/test_tools/test_infer_guarantees.py checks the same promises through infer.py."""
import os

import cv2
import numpy as np
import pytest
from dicom_files import write_dicom
from PIL import Image

from mmceph.imaging.image_io import (
    ImageReadError,
    LoadedImage,
    _percentile_window,
    check_spacing,
    read_image,
    to_uint8_bgr,
)


# --------------------------------------------------------------------- check_spacing
def test_check_spacing_one_or_two_numbers_x_then_y():
    assert check_spacing(['0.1'], 'x') == (0.1, 0.1)
    assert check_spacing([0.1, 0.2], 'x') == (0.1, 0.2)
    assert check_spacing([0.01, 5], 'x') == (0.01, 5.0)              # bounds included


@pytest.mark.parametrize('values', [[], [0.1, 0.1, 0.1], ['a'], None, [0.0099], [5.01]])
def test_check_spacing_refuses_naming_what(values):
    with pytest.raises(ValueError) as info:
        check_spacing(values, '--pixel-spacing')
    assert str(info.value) == ('--pixel-spacing must be one or two numbers of mm per pixel '
                               'between 0.01 and 5')


# ---------------------------------------------------------------------- to_uint8_bgr
def test_uint8_grey_is_kept_and_made_bgr():
    grey = np.array([[0, 7], [128, 255]], np.uint8)
    out = to_uint8_bgr(grey)
    assert out.dtype == np.uint8 and out.shape == (2, 2, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)
    assert out.flags['C_CONTIGUOUS']


def test_alpha_and_single_channel_axes_are_dropped():
    bgra = np.zeros((1, 2, 4), np.uint8)
    bgra[..., 0], bgra[..., 1], bgra[..., 2], bgra[..., 3] = 10, 20, 30, 0
    np.testing.assert_array_equal(to_uint8_bgr(bgra), [[[10, 20, 30]] * 2])
    one = np.array([[[5], [6]]], np.uint8)
    np.testing.assert_array_equal(to_uint8_bgr(one)[..., 2], [[5, 6]])


def test_8_bit_stored_in_16_is_the_8_bit_image_again():
    grey = np.arange(0, 256, 17, dtype=np.uint8).reshape(2, 8)
    np.testing.assert_array_equal(to_uint8_bgr(grey.astype(np.uint16) * 257)[..., 0], grey)


@pytest.mark.parametrize('top, depth', [(255, 8), (256, 10), (1023, 10), (1024, 12),
                                        (4095, 12), (4096, 14), (16384, 16), (65535, 16)])
def test_integers_scale_from_the_smallest_standard_depth_holding_the_max(top, depth):
    a = np.array([[0, top]], np.uint16)
    out = to_uint8_bgr(a)[..., 0]
    assert out[0, 0] == 0
    assert out[0, 1] == round(top / (2 ** depth - 1) * 255)


def test_integers_beyond_16_bits_use_their_own_bit_length():
    a = np.array([[0, 2 ** 17 - 1, 2 ** 16]], np.int64)
    # 17 bits: (2**16) / (2**17 - 1) * 255 = 127.5... -> 128
    np.testing.assert_array_equal(to_uint8_bgr(a)[0, :, 0], [0, 255, 128])


def test_an_all_zero_integer_image_stays_black():
    np.testing.assert_array_equal(to_uint8_bgr(np.zeros((2, 2), np.uint16)), 0)


def test_a_bool_free_uint16_of_ones_is_one_over_255():
    # top 1 < 2**8: the 8-bit range, so 1 -> 1
    assert to_uint8_bgr(np.ones((1, 1), np.uint16))[0, 0, 0] == 1


def test_float_and_signed_images_are_windowed_to_their_percentiles():
    values = np.linspace(-1000.0, 1000.0, 201).reshape(1, -1)      # -1000, -990, ... 1000
    lo, hi = np.percentile(values, (0.5, 99.5))                    # -990, 990
    assert (lo, hi) == pytest.approx((-990.0, 990.0))
    out = to_uint8_bgr(values.astype(np.float32))[0, :, 0]
    expected = np.round(np.clip((values[0] - lo) / (hi - lo) * 255, 0, 255))
    np.testing.assert_array_equal(out, expected)
    assert out[0] == 0 and out[-1] == 255 and out[100] == 128           # 0 -> 127.5 -> 128
    signed = to_uint8_bgr(values.astype(np.int16))[0, :, 0]
    np.testing.assert_array_equal(signed, expected)


def test_non_finite_values_are_ignored_by_the_window_and_made_black():
    a = np.array([[0.0, 1.0, np.nan, np.inf, -np.inf]] * 40).reshape(8, 25)
    out = to_uint8_bgr(a)[..., 0]
    assert out[np.isnan(a)].max() == 0
    assert _percentile_window(np.array([np.nan, np.inf])) == (0.0, 1.0)
    assert _percentile_window(np.array([2.0, 2.0])) == (2.0, 2.0)
    np.testing.assert_array_equal(to_uint8_bgr(np.full((2, 2), 2.0)), 0)   # no window: 0


# ----------------------------------------------------------------------- read_image
def test_missing_and_empty_files_are_named(tmp_path):
    with pytest.raises(ImageReadError, match=f'^{tmp_path / "none.png"}: no such file$'):
        read_image(tmp_path / 'none.png')
    (tmp_path / 'empty.png').write_bytes(b'')
    with pytest.raises(ImageReadError, match='empty.png: the file is empty$'):
        read_image(str(tmp_path / 'empty.png'))
    (tmp_path / 'junk.png').write_bytes(b'not an image at all')
    with pytest.raises(ImageReadError, match='junk.png: not a readable image'):
        read_image(tmp_path / 'junk.png')


def test_colour_comes_back_bgr_and_grey_stays_grey(tmp_path):
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50         # R, G, B
    Image.fromarray(rgb, 'RGB').save(tmp_path / 'c.png')
    loaded = read_image(tmp_path / 'c.png')
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.shape == (3, 4, 3)
    np.testing.assert_array_equal(loaded.pixels[0, 0], [50, 100, 200])   # B, G, R
    assert loaded.pixels.flags['C_CONTIGUOUS']
    rgba = np.dstack([rgb, np.full((3, 4), 9, np.uint8)])
    Image.fromarray(rgba, 'RGBA').save(tmp_path / 'a.png')
    np.testing.assert_array_equal(read_image(tmp_path / 'a.png').pixels[0, 0], [50, 100, 200, 9])
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    cv2.imwrite(str(tmp_path / 'g.png'), grey)
    loaded = read_image(tmp_path / 'g.png')
    np.testing.assert_array_equal(loaded.pixels, grey)
    assert (loaded.spacing, loaded.frames, loaded.exif_orientation) == (None, 1, 1)
    assert loaded.coordinate_frame == 'pixels of the stored image'


def test_16_bit_keeps_its_depth_and_palette_images_become_colour(tmp_path):
    deep = np.array([[0, 1000], [4095, 65535]], np.uint16)
    cv2.imwrite(str(tmp_path / 'd.png'), deep)
    loaded = read_image(tmp_path / 'd.png')
    assert loaded.pixels.dtype == np.uint16
    np.testing.assert_array_equal(loaded.pixels, deep)
    pal = Image.new('P', (2, 1))
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)                 # 0: red, 1: blue
    pal.putpixel((1, 0), 1)
    pal.save(tmp_path / 'p.png')
    np.testing.assert_array_equal(read_image(tmp_path / 'p.png').pixels,
                                  [[[0, 0, 255], [255, 0, 0]]])        # BGR red, blue
    Image.new('1', (2, 2), 1).save(tmp_path / 'b.png')
    bits = read_image(tmp_path / 'b.png').pixels
    assert bits.shape == (2, 2) and bits.dtype == np.uint8 and (bits == 255).all()


def test_the_pixel_limit_is_inclusive(tmp_path):
    cv2.imwrite(str(tmp_path / 'x.png'), np.zeros((20, 30), np.uint8))
    assert read_image(tmp_path / 'x.png', max_pixels=600).pixels.shape == (20, 30)
    with pytest.raises(ImageReadError) as info:
        read_image(tmp_path / 'x.png', max_pixels=599)
    assert str(info.value) == (f'{tmp_path / "x.png"}: 30x20 = 0.0 million pixels, more than '
                               'the limit of 0.000599 million (a decompression bomb?); raise '
                               'it with --max-pixels if the image is genuine')


def test_exif_orientation_and_frames(tmp_path):
    upright = np.zeros((4, 6), np.uint8)
    upright[0, 0] = 255                                       # top left when displayed
    stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(tmp_path / 'e.png', exif=exif)
    loaded = read_image(tmp_path / 'e.png')
    assert loaded.exif_orientation == 6 and loaded.pixels.shape == (4, 6)
    np.testing.assert_array_equal(loaded.pixels, upright)
    assert loaded.coordinate_frame == ('pixels of the image as displayed (EXIF orientation 6 '
                                       'applied to the stored pixels)')
    frames = [Image.fromarray(np.full((2, 2), v, np.uint8)) for v in (10, 20, 30)]
    frames[0].save(tmp_path / 'f.tif', save_all=True, append_images=frames[1:])
    loaded = read_image(tmp_path / 'f.tif')
    assert (loaded.frame, loaded.frames) == (0, 3) and (loaded.pixels == 10).all()


def test_dicom_spacing_is_row_column_turned_to_x_y(tmp_path):
    write_dicom(tmp_path / 'a.dcm', np.arange(6).reshape(2, 3) * 100, (0.2, 0.15))
    loaded = read_image(tmp_path / 'a.dcm')
    assert loaded.spacing == (0.15, 0.2) and loaded.spacing_source == 'DICOM PixelSpacing'
    assert loaded.spacing_error is None and loaded.pixels.dtype == np.uint16
    np.testing.assert_array_equal(loaded.pixels, np.arange(6).reshape(2, 3) * 100)


@pytest.mark.parametrize('spacing, shown', [((50, 50), "'[50, 50]'"),
                                            ((0.1,), "'0.1'")])
def test_a_dicom_spacing_out_of_bounds_is_reported_not_raised(tmp_path, spacing, shown):
    write_dicom(tmp_path / 'w.dcm', np.ones((2, 2)), spacing)
    loaded = read_image(tmp_path / 'w.dcm')
    assert loaded.spacing is None and loaded.spacing_source is None
    assert loaded.spacing_error == (f'DICOM PixelSpacing {shown} is not two numbers of mm '
                                    'per pixel between 0.01 and 5')


def _dicom(tmp_path, pixels, **tags):
    import pydicom
    write_dicom(tmp_path / 'x.dcm', pixels, (0.1, 0.1))
    ds = pydicom.dcmread(tmp_path / 'x.dcm')
    del ds.PixelSpacing
    for k, v in tags.items():
        setattr(ds, k, v)
    ds.save_as(tmp_path / 'x.dcm', enforce_file_format=True)
    return read_image(tmp_path / 'x.dcm')


def test_dicom_imager_spacing_window_and_monochrome1(tmp_path):
    pixels = np.array([[0, 100, 200, 300]])
    loaded = _dicom(tmp_path, pixels, ImagerPixelSpacing=['0.3', '0.4'])
    assert loaded.spacing == (0.4, 0.3) and loaded.spacing_source == 'DICOM ImagerPixelSpacing'
    np.testing.assert_array_equal(loaded.pixels, pixels)            # no window: as stored
    # window 100..500 (centre 300, width 400) after slope 2, intercept -100:
    # values -100, 100, 300, 500 -> 0, 0, 127.5 -> 128, 255
    loaded = _dicom(tmp_path, pixels, WindowCenter='300', WindowWidth='400',
                    RescaleSlope='2', RescaleIntercept='-100')
    assert loaded.pixels.dtype == np.uint8
    np.testing.assert_array_equal(loaded.pixels, [[0, 0, 128, 255]])
    loaded = _dicom(tmp_path, pixels, WindowCenter='300', WindowWidth='400',
                    RescaleSlope='2', RescaleIntercept='-100',
                    PhotometricInterpretation='MONOCHROME1')
    np.testing.assert_array_equal(loaded.pixels, [[255, 255, 128, 0]])     # 127.5: even
    loaded = _dicom(tmp_path, pixels, PhotometricInterpretation='MONOCHROME1')
    np.testing.assert_array_equal(loaded.pixels, [[300, 200, 100, 0]])
    loaded = _dicom(tmp_path, pixels, WindowCenter='200', WindowWidth='0.5')   # < 1: no window
    np.testing.assert_array_equal(loaded.pixels, pixels)


def test_dicom_without_pixels_is_named(tmp_path):
    import pydicom
    write_dicom(tmp_path / 'x.dcm', np.ones((2, 2)), (0.1, 0.1))
    ds = pydicom.dcmread(tmp_path / 'x.dcm')
    del ds.PixelData
    ds.save_as(tmp_path / 'x.dcm', enforce_file_format=True)
    with pytest.raises(ImageReadError, match='x.dcm: not a readable DICOM file'):
        read_image(tmp_path / 'x.dcm')
    (tmp_path / 'y.dcm').write_bytes(b'\0' * 200)
    with pytest.raises(ImageReadError, match='y.dcm: not a readable DICOM file'):
        read_image(tmp_path / 'y.dcm')


def test_loaded_image_defaults():
    image = LoadedImage(np.zeros((1, 1), np.uint8))
    assert (image.spacing, image.spacing_source, image.spacing_error, image.frame,
            image.frames, image.exif_orientation) == (None, None, None, 0, 1, 1)


# ------------------------------------------- what mutation testing found unguarded
def _rewrite(path, **tags):
    """Re-save the DICOM ``path`` with ``tags`` set (a value of None deletes the tag)."""
    import pydicom
    ds = pydicom.dcmread(path)
    for k, v in tags.items():
        if v is None:
            delattr(ds, k)
        else:
            setattr(ds, k, v)
    ds.save_as(path, enforce_file_format=True)
    return path


def _reason(err, prefix):
    """What the library said, as quoted in our one-line error after ``prefix``."""
    message = str(err)
    assert message.startswith(prefix) and message.endswith(')')
    return message[len(prefix):-1]


def test_a_dicom_is_recognised_by_its_preamble_or_its_extension(tmp_path):
    pixels = np.array([[1, 2, 3]])
    write_dicom(tmp_path / 'scan', pixels, (0.1, 0.1))           # no extension: 'DICM'
    np.testing.assert_array_equal(read_image(tmp_path / 'scan').pixels, pixels)
    # without the preamble, the extension (any case) still sends it to the DICOM reader,
    # whose message tells the user what is wrong
    for name in ('JUNK.DCM', 'junk.dicom', 'junk.dcm'):
        (tmp_path / name).write_bytes(b'\0' * 200)
        with pytest.raises(ImageReadError) as info:
            read_image(tmp_path / name)
        reason = _reason(info.value, f'{tmp_path / name}: not a readable DICOM file (')
        # pydicom's reason, cut at 120 characters so the line stays readable
        assert reason == ("File is missing DICOM File Meta Information header or the 'DICM' "
                          "prefix is missing from the header. Use force=True to fo")
        assert len(reason) == 120
    (tmp_path / 'junk.img').write_bytes(b'\0' * 200)
    with pytest.raises(ImageReadError, match='junk.img: not a readable image'):
        read_image(tmp_path / 'junk.img')


def test_an_undecodable_dicom_names_the_file_and_the_reason_cut_at_120(tmp_path):
    path = tmp_path / 'short.dcm'
    write_dicom(path, np.ones((2, 3)), (0.1, 0.1))
    _rewrite(path, PixelData=b'\0' * 4)                          # 12 bytes expected
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    reason = _reason(info.value, f'{path}: not a readable DICOM file (')
    assert len(reason) == 120
    assert reason.startswith('The number of bytes of pixel data is less than expected '
                             '(4 vs 12 bytes)')


def test_a_pil_reason_is_cut_at_120_characters(tmp_path):
    path = tmp_path / ('n' * 150 + '.png')
    path.write_bytes(b'not an image')
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    reason = _reason(info.value, f'{path}: not a readable image (corrupt, truncated or '
                                 'unsupported format: ')
    assert reason == f"cannot identify image file {str(path)!r}"[:120]


def test_a_dicom_pixel_limit_counts_columns_by_rows(tmp_path):
    write_dicom(tmp_path / 'x.dcm', np.zeros((2, 3)), (0.1, 0.1))
    assert read_image(tmp_path / 'x.dcm', max_pixels=6).pixels.shape == (2, 3)
    with pytest.raises(ImageReadError) as info:
        read_image(tmp_path / 'x.dcm', max_pixels=5)
    assert str(info.value) == (f'{tmp_path / "x.dcm"}: 3x2 = 0.0 million pixels, more than '
                               'the limit of 5e-06 million (a decompression bomb?); raise '
                               'it with --max-pixels if the image is genuine')


def test_a_multi_frame_dicom_gives_its_first_frame_and_says_so(tmp_path):
    stack = np.stack([np.full((2, 3), 10), np.full((2, 3), 20)])
    write_dicom(tmp_path / 'm.dcm', stack[0], (0.1, 0.1))
    _rewrite(tmp_path / 'm.dcm', NumberOfFrames=2, PixelData=stack.astype('<u2').tobytes())
    loaded = read_image(tmp_path / 'm.dcm')
    assert (loaded.frame, loaded.frames) == (0, 2)
    np.testing.assert_array_equal(loaded.pixels, stack[0])
    # NumberOfFrames 0 (seen in the wild): one frame, as pydicom decodes it
    write_dicom(tmp_path / 'z.dcm', stack[1], (0.1, 0.1))
    _rewrite(tmp_path / 'z.dcm', NumberOfFrames=0)
    loaded = read_image(tmp_path / 'z.dcm')
    assert loaded.frames == 1
    np.testing.assert_array_equal(loaded.pixels, stack[1])


def test_a_one_pixel_dicom_and_png_are_read(tmp_path):
    write_dicom(tmp_path / 'one.dcm', np.array([[7]]), (0.1, 0.1))
    np.testing.assert_array_equal(read_image(tmp_path / 'one.dcm').pixels, [[7]])
    cv2.imwrite(str(tmp_path / 'one.png'), np.array([[9]], np.uint8))
    np.testing.assert_array_equal(read_image(tmp_path / 'one.png').pixels, [[9]])


def test_a_colour_dicom_comes_back_bgr_without_a_grey_window(tmp_path):
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 50           # R, G, B
    rgb[1, 2] = (1, 2, 3)
    write_dicom(tmp_path / 'c.dcm', np.zeros((2, 3)), (0.1, 0.2))
    # a window on a colour file is not applied (grey only): the pixels stay as stored
    _rewrite(tmp_path / 'c.dcm', SamplesPerPixel=3, PhotometricInterpretation='RGB',
             PlanarConfiguration=0, BitsAllocated=8, BitsStored=8, HighBit=7,
             WindowCenter='100', WindowWidth='10', PixelData=rgb.tobytes())
    loaded = read_image(tmp_path / 'c.dcm')
    assert loaded.pixels.shape == (2, 3, 3) and loaded.pixels.dtype == np.uint8
    np.testing.assert_array_equal(loaded.pixels, rgb[..., ::-1])     # B, G, R
    assert loaded.pixels.flags['C_CONTIGUOUS']
    assert loaded.spacing == (0.2, 0.1) and loaded.frames == 1
    # two colour frames: the first, (H, W, 3)
    second = np.full_like(rgb, 90)
    _rewrite(tmp_path / 'c.dcm', NumberOfFrames=2,
             PixelData=np.stack([rgb, second]).tobytes())
    loaded = read_image(tmp_path / 'c.dcm')
    assert (loaded.frame, loaded.frames) == (0, 2)
    np.testing.assert_array_equal(loaded.pixels, rgb[..., ::-1])


def test_the_first_spacing_tag_present_decides_even_when_invalid(tmp_path):
    write_dicom(tmp_path / 's.dcm', np.ones((2, 2)), (0.2, 0.3))
    _rewrite(tmp_path / 's.dcm', ImagerPixelSpacing=['0.4', '0.5'])
    loaded = read_image(tmp_path / 's.dcm')
    assert loaded.spacing == (0.3, 0.2) and loaded.spacing_source == 'DICOM PixelSpacing'
    # an invalid PixelSpacing is reported, not silently replaced by the detector's
    _rewrite(tmp_path / 's.dcm', PixelSpacing=['0.1', '0.1', '0.1'])
    loaded = read_image(tmp_path / 's.dcm')
    assert (loaded.spacing, loaded.spacing_source) == (None, None)
    assert loaded.spacing_error == ("DICOM PixelSpacing '[0.1, 0.1, 0.1]' is not two numbers "
                                    'of mm per pixel between 0.01 and 5')


def test_a_long_spacing_value_is_shown_cut_at_60_characters(tmp_path):
    write_dicom(tmp_path / 's.dcm', np.ones((2, 2)), ['0.123456789012345'] * 4)
    value = "'[0.123456789012345, 0.123456789012345, 0.123456789012345, 0.123456789012345]'"
    shown = value[:60]
    assert shown.endswith(', 0')
    assert read_image(tmp_path / 's.dcm').spacing_error == (
        f'DICOM PixelSpacing {shown} is not two numbers of mm per pixel between 0.01 and 5')


def test_dicom_window_defaults_and_its_smallest_width(tmp_path):
    pixels = np.array([[0, 100, 200, 300]])
    # no RescaleSlope/Intercept: slope 1, intercept 0; window 0..400
    loaded = _dicom(tmp_path, pixels, WindowCenter='200', WindowWidth='400')
    np.testing.assert_array_equal(loaded.pixels, [[0, 64, 128, 191]])   # 63.75, 127.5, 191.25
    # empty RescaleSlope/Intercept read as 1 and 0 too
    loaded = _dicom(tmp_path, pixels, WindowCenter='200', WindowWidth='400',
                    RescaleSlope='', RescaleIntercept='')
    np.testing.assert_array_equal(loaded.pixels, [[0, 64, 128, 191]])
    # width exactly 1 is a window: 99.5..100.5, so 100 -> 127.5 -> 128
    loaded = _dicom(tmp_path, pixels, WindowCenter='100', WindowWidth='1')
    assert loaded.pixels.dtype == np.uint8
    np.testing.assert_array_equal(loaded.pixels, [[0, 128, 255, 255]])
    # several windows: the first is used
    loaded = _dicom(tmp_path, pixels, WindowCenter=['200', '0'], WindowWidth=['400', '2'])
    np.testing.assert_array_equal(loaded.pixels, [[0, 64, 128, 191]])


def test_pil_modes_with_alpha_and_transparency_keep_it(tmp_path):
    Image.fromarray(np.array([[[10, 0], [20, 255]]], np.uint8), 'LA').save(tmp_path / 'la.png')
    np.testing.assert_array_equal(read_image(tmp_path / 'la.png').pixels,
                                  [[[10, 10, 10, 0], [20, 20, 20, 255]]])
    pal = Image.new('P', (2, 1))
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)                 # 0: red, 1: blue
    pal.putpixel((1, 0), 1)
    pal.save(tmp_path / 'pt.png', transparency=0)                      # red is transparent
    np.testing.assert_array_equal(read_image(tmp_path / 'pt.png').pixels,
                                  [[[0, 0, 255, 0], [255, 0, 0, 255]]])   # BGRA


def test_big_endian_16_bit_tiff_comes_back_native_uint16(tmp_path):
    Image.fromarray(np.array([[1, 258]], '>u2')).save(tmp_path / 'be.tif')
    assert Image.open(tmp_path / 'be.tif').mode == 'I;16B'
    pixels = read_image(tmp_path / 'be.tif').pixels
    assert pixels.dtype == np.dtype('=u2') and pixels.dtype.isnative
    np.testing.assert_array_equal(pixels, [[1, 258]])
    assert to_uint8_bgr(pixels)[0, 1, 0] == round(258 / 1023 * 255)     # 10-bit range


def test_single_frame_formats_without_frame_count_say_one_frame(tmp_path):
    for name in ('a.bmp', 'a.jpg'):
        Image.new('L', (3, 2), 128).save(tmp_path / name)
        loaded = read_image(tmp_path / name)
        assert (loaded.frame, loaded.frames, loaded.exif_orientation) == (0, 1, 1)
        assert loaded.pixels.shape == (2, 3)


@pytest.mark.parametrize('orientation', [0, 2, 8, 9])
def test_exif_orientation_at_the_ends_of_its_range(tmp_path, orientation):
    stored = np.zeros((2, 3), np.uint8)
    stored[0, 0] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(tmp_path / 'o.png', exif=exif)
    loaded = read_image(tmp_path / 'o.png')
    if orientation == 2:            # shown mirrored left-right
        assert loaded.exif_orientation == 2
        np.testing.assert_array_equal(loaded.pixels, np.fliplr(stored))
    elif orientation == 8:          # shown turned 90 degrees counter-clockwise
        assert loaded.exif_orientation == 8
        np.testing.assert_array_equal(loaded.pixels, np.rot90(stored))
    else:                           # 0 and 9 are not orientations: stored as displayed
        assert loaded.exif_orientation == 1
        np.testing.assert_array_equal(loaded.pixels, stored)


def test_our_pixel_limit_replaces_pils_and_pils_is_restored(tmp_path):
    cv2.imwrite(str(tmp_path / 'x.png'), np.zeros((20, 30), np.uint8))
    before = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = 10          # PIL would refuse 600 pixels (> 2 x 10)
        assert read_image(tmp_path / 'x.png', max_pixels=600).pixels.shape == (20, 30)
        assert Image.MAX_IMAGE_PIXELS == 10
        with pytest.raises(ImageReadError):
            read_image(tmp_path / 'x.png', max_pixels=599)
        assert Image.MAX_IMAGE_PIXELS == 10
    finally:
        Image.MAX_IMAGE_PIXELS = before


def test_8_bit_values_in_a_wider_integer_are_not_stretched():
    # max 255 < 2**8: the 8-bit range 0..255, so every value maps to itself
    values = np.arange(256, dtype=np.uint16).reshape(16, 16)
    np.testing.assert_array_equal(to_uint8_bgr(values)[..., 0], values)
    np.testing.assert_array_equal(to_uint8_bgr(values.astype(np.int32))[..., 0], values)


def test_a_float_image_in_0_to_1_uses_the_full_range():
    values = np.linspace(0.0, 1.0, 201).reshape(1, -1)
    lo, hi = 0.005, 0.995                                       # the 0.5/99.5 percentiles
    expected = np.round(np.clip((values[0] - lo) / (hi - lo) * 255, 0, 255))
    out = to_uint8_bgr(values)[0, :, 0]
    np.testing.assert_array_equal(out, expected)
    assert out[1] == 0 and out[100] == 128 and out[-2] == 255


def test_a_double_float_dicom_keeps_its_values(tmp_path):
    values = np.array([[0.5, 1.0, 2.0], [3.0, 4.0, 5.0]])
    write_dicom(tmp_path / 'f.dcm', np.zeros((2, 3)), (0.1, 0.1))
    _rewrite(tmp_path / 'f.dcm', PixelData=None, BitsStored=None, HighBit=None,
             PixelRepresentation=None, BitsAllocated=64,
             DoubleFloatPixelData=values.astype('<f8').tobytes())
    pixels = read_image(tmp_path / 'f.dcm').pixels
    assert pixels.dtype == np.float64
    np.testing.assert_array_equal(pixels, values)


def test_a_dicom_spacing_that_is_text_is_reported_and_the_image_still_read(tmp_path):
    write_dicom(tmp_path / 'x.dcm', np.ones((2, 3)), (0.1, 0.1))
    data = (tmp_path / 'x.dcm').read_bytes()
    assert data.count(b'0.1\\0.1 ') == 1
    (tmp_path / 't.dcm').write_bytes(data.replace(b'0.1\\0.1 ', b'abc\\def '))
    loaded = read_image(tmp_path / 't.dcm')
    assert loaded.pixels.shape == (2, 3) and loaded.spacing is None
    assert loaded.spacing_error == ('''DICOM PixelSpacing "['abc', 'def']" is not two '''
                                    'numbers of mm per pixel between 0.01 and 5')


def test_the_refused_pixel_count_is_rounded_to_a_tenth_of_a_million(tmp_path):
    # read from the header, before any pixel is decoded: 3457 x 593 = 2 050 001 -> 2.1
    write_dicom(tmp_path / 'big.dcm', np.zeros((2, 2)), (0.1, 0.1))
    _rewrite(tmp_path / 'big.dcm', Rows=593, Columns=3457)
    with pytest.raises(ImageReadError) as info:
        read_image(tmp_path / 'big.dcm', max_pixels=2_000_000)
    assert str(info.value) == (f'{tmp_path / "big.dcm"}: 3457x593 = 2.1 million pixels, more '
                               'than the limit of 2 million (a decompression bomb?); raise '
                               'it with --max-pixels if the image is genuine')


@pytest.mark.skipif(not os.path.isfile('/proc/self/mem'), reason='Linux /proc only')
def test_a_file_that_cannot_be_read_is_named_with_the_system_reason():
    # /proc/self/mem is a file whose first bytes (address 0) cannot be read (EIO on Linux)
    try:
        with open('/proc/self/mem', 'rb') as f:
            f.read(132)
        pytest.skip('this kernel lets address 0 be read')
    except OSError as err:
        reason = err.strerror
    with pytest.raises(ImageReadError) as info:
        read_image('/proc/self/mem')
    assert str(info.value) == f'/proc/self/mem: cannot read the file ({reason})'
