"""The ONNX runtime's pre-processing (mmceph.runtime.onnx_predictor.Normaliser) against
values computed by hand: channel order first, then (x - mean) / std per channel, float32,
contiguous. Fast and export-free: the mutation tests' runner (docs/mutation.md)."""
import numpy as np
import pytest

from mmceph.runtime.onnx_predictor import Normaliser

MEAN, STD = (10.0, 20.0, 30.0), (1.0, 2.0, 4.0)


def bgr_pixel(b, g, r):
    """A (1, 3, 1, 2) batch: two pixels, the second twice the first."""
    return np.array([[[[b, 2 * b]], [[g, 2 * g]], [[r, 2 * r]]]], np.uint8)


def test_colour_is_turned_to_rgb_then_normalised_per_channel():
    out = Normaliser(MEAN, STD, bgr_to_rgb=True)(bgr_pixel(50, 60, 100))
    # R, G, B = 100, 60, 50 -> ((100-10)/1, (60-20)/2, (50-30)/4) = (90, 20, 5)
    np.testing.assert_array_equal(out[0, :, 0, 0], [90.0, 20.0, 5.0])
    # second pixel (200, 120, 100): (190, 50, 17.5)
    np.testing.assert_array_equal(out[0, :, 0, 1], [190.0, 50.0, 17.5])
    assert out.dtype == np.float32 and out.shape == (1, 3, 1, 2)
    assert out.flags['C_CONTIGUOUS']               # ONNX Runtime needs a dense buffer


def test_without_the_flag_the_channel_order_is_kept():
    out = Normaliser(MEAN, STD, bgr_to_rgb=False)(bgr_pixel(50, 60, 100))
    # B, G, R = 50, 60, 100 -> (40, 20, 17.5)
    np.testing.assert_array_equal(out[0, :, 0, 0], [40.0, 20.0, 17.5])


def test_uint8_does_not_wrap_below_the_mean():
    """0 - mean is negative: computed in float, not uint8 (which would wrap to 246)."""
    out = Normaliser(MEAN, STD, bgr_to_rgb=True)(bgr_pixel(0, 0, 0))
    np.testing.assert_array_equal(out[0, :, 0, 0], [-10.0, -10.0, -7.5])


def test_float_patches_keep_their_fraction():
    batch = np.full((2, 3, 1, 1), 10.5, np.float32)
    out = Normaliser(MEAN, STD, bgr_to_rgb=True)(batch)
    np.testing.assert_array_equal(out[:, :, 0, 0], [[0.5, -4.75, -4.875]] * 2)


def test_a_single_channel_is_never_reordered():
    out = Normaliser([100.0], [50.0], bgr_to_rgb=True)(np.array([[[[200, 0]]]], np.uint8))
    np.testing.assert_array_equal(out, [[[[2.0, -2.0]]]])
    assert out.dtype == np.float32


@pytest.mark.parametrize('flag', [1, 'yes'])
def test_a_truthy_flag_is_a_bool(flag):
    assert Normaliser(MEAN, STD, flag).bgr_to_rgb is True


def test_computed_in_float32_as_the_exported_network_expects():
    """Float64 patches and mean/std given as Python floats: cast to float32 first, then
    (x - mean) / std in float32 -- bit for bit what the PyTorch preprocessor feeds."""
    batch = np.array([10.1, 200.3, 77.7, 0.9, 33.3, 128.45]).reshape(1, 3, 1, 2)
    mean, std = [0.1, 0.2, 0.3], [0.7, 0.11, 0.13]
    out = Normaliser(mean, std, bgr_to_rgb=True)(batch)
    x = batch.astype(np.float32)[:, ::-1]
    expected = (x - np.float32(mean).reshape(1, 3, 1, 1)) / np.float32(std).reshape(1, 3, 1, 1)
    assert expected.dtype == np.float32
    np.testing.assert_array_equal(out, expected)
