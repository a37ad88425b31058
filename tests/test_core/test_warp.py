"""mmceph.core.warp, the crops both backends cut, against matrices built by hand, OpenCV
fed those matrices, and bilinear interpolation written out pixel by pixel."""
import cv2
import numpy as np
import pytest

from mmceph.core.warp import (
    apply_affine,
    crop,
    crop_to_image,
    get_warp_matrix,
    sample_bilinear,
    to_image,
    topdown_box,
    warp_patches,
)


def scaled(center, side, out_w, out_h):
    """The unrotated image->output affine by hand: scale out_w / side about the centre,
    which lands on the output's centre."""
    k = out_w / side
    return np.array([[k, 0, out_w / 2 - k * center[0]], [0, k, out_h / 2 - k * center[1]]])


def bilinear(image, x, y):
    """One bilinear sample of a (H, W) image, zeros outside, written out."""
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    fx, fy = x - x0, y - y0
    H, W = image.shape

    def at(i, j):
        return float(image[j, i]) if 0 <= i < W and 0 <= j < H else 0.0
    top = at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx
    bottom = at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx
    return top * (1 - fy) + bottom * fy


def test_warp_matrix_by_hand_unrotated_and_a_quarter_turn():
    # box centre (50, 30), width 40 -> output 20 x 16: scale 0.5, centre -> (10, 8)
    np.testing.assert_allclose(get_warp_matrix((50, 30), (40, 999), 0.0, (20, 16)),
                               [[0.5, 0, -15], [0, 0.5, -7]], atol=1e-5)
    np.testing.assert_allclose(get_warp_matrix(np.array([50.0, 30.0]), 40.0, 0.0, (20, 16, 3)),
                               [[0.5, 0, -15], [0, 0.5, -7]], atol=1e-5)
    # rot 90: the box's x axis (centre + (-20, 0)) is turned to (0, -20) and lands on the
    # output's left edge centre: image up -> output left, image right -> output up
    m = get_warp_matrix((50, 30), (40, 40), 90.0, (20, 16))
    np.testing.assert_allclose(m, [[0, 0.5, -5], [-0.5, 0, 33]], atol=1e-5)
    np.testing.assert_allclose(apply_affine(m, np.array([[50.0, 30.0], [50.0, 10.0]])),
                               [[10, 8], [0, 8]], atol=1e-4)


def test_topdown_box_by_hand():
    # input 64 x 48 (aspect 4/3); a wide box keeps its width, a tall one its height
    center, scale = topdown_box([10, 20, 110, 60], (64, 48))
    np.testing.assert_allclose(center, [60, 40])
    np.testing.assert_allclose(scale, [100, 75])
    assert center.dtype == scale.dtype == np.float32 and center.shape == scale.shape == (2, )
    center, scale = topdown_box(np.array([[10, 20, 110, 60, 0.9]]), (64, 48), padding=1.25)
    np.testing.assert_allclose(center, [60, 40])
    np.testing.assert_allclose(scale, [125, 93.75])
    center, scale = topdown_box([0, 0, 30, 90], (64, 48))
    np.testing.assert_allclose(center, [15, 45])
    np.testing.assert_allclose(scale, [120, 90])
    _, scale = topdown_box([0, 0, 30, 90], (64, 48), padding=2.0)
    np.testing.assert_allclose(scale, [240, 180])


def test_crop_samples_a_linear_image_where_the_hand_matrix_says():
    """Bilinear sampling of a linear image is exact: crop pixel (u, v) holds the image's
    value at the hand-computed source point (OpenCV's 1/32-px coordinate steps aside)."""
    ys, xs = np.mgrid[0:120, 0:160].astype(np.float32)
    image = 2 * xs + 3 * ys + 10
    center, scale, size = np.array([80.0, 60.0]), np.array([64.0, 48.0]), (32, 24)
    out = crop(image, center, scale, size)
    assert out.shape == (24, 32) and out.dtype == np.float32
    v, u = np.mgrid[0:24, 0:32]
    x, y = (u - 16) * 2 + 80, (v - 12) * 2 + 60          # the inverse of scale 0.5 about the centre
    np.testing.assert_allclose(out, 2 * x + 3 * y + 10, atol=5 / 32)
    colour = np.stack([image, 2 * image, 3 * image], -1)
    assert crop(colour, center, scale, np.array([32.0, 24.0])).shape == (24, 32, 3)


def test_crop_to_image_by_hand():
    # crop 16 x 12 of a 40 x 30 box centred at (50, 30): p / size * scale + centre - scale / 2
    got = crop_to_image([[8, 6], [0, 0], [16, 12], [4, 9]], (50, 30), (40, 30), (16, 12))
    np.testing.assert_allclose(got, [[50, 30], [30, 15], [70, 45], [40, 37.5]])
    assert got.dtype == np.float32


def test_apply_affine_and_its_inverse_by_hand():
    m = np.array([[2.0, 0.0, 5.0], [0.0, 3.0, -1.0]])
    np.testing.assert_allclose(apply_affine(m, np.array([[1.0, 1.0], [0.0, 2.0]])),
                               [[7, 2], [5, 5]])
    np.testing.assert_allclose(to_image(m, np.array([[7.0, 2.0], [5.0, 5.0]])),
                               [[1, 1], [0, 2]])
    turn = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 10.0]])      # (x, y) -> (y, 10 - x)
    np.testing.assert_allclose(apply_affine(turn, np.array([[3.0, 4.0]])), [[4, 7]])
    np.testing.assert_allclose(to_image(turn, np.array([[4.0, 7.0]])), [[3, 4]])


def test_sample_bilinear_is_bilinear_with_zeros_outside():
    """Each sample equals the four-neighbour formula written out, in and across every
    border and far outside, for a grey 2-D image, a colour one and a grey one in equal
    channels; shrinking and enlarging warps; a non-square output."""
    rng = np.random.default_rng(1)
    colour = rng.integers(0, 256, (9, 11, 3)).astype(np.uint8)
    grey = rng.integers(0, 256, (9, 11)).astype(np.uint8)
    warps = np.stack([scaled((5.3, 4.1), 12.0, 7, 5),        # the whole image and its border
                      scaled((0.2, 8.7), 3.0, 7, 5),         # a corner, enlarged
                      scaled((10.9, 0.4), 4.5, 7, 5),        # the opposite corner
                      scaled((40.0, -30.0), 6.0, 7, 5)])     # far outside: zeros
    # grey in 3 equal channels (sampled once), and colour images with one channel pair
    # equal (B = G, B = R, G = R: only all three equal is grey)
    bg, br, gr = colour.copy(), colour.copy(), colour.copy()
    bg[..., 1], br[..., 2], gr[..., 2] = bg[..., 0], br[..., 0], gr[..., 1]
    for image in (grey, colour, np.repeat(grey[..., None], 3, 2), bg, br, gr):
        out = sample_bilinear(image, warps, (7, 5))
        planes = image.reshape(9, 11, -1)
        assert out.dtype == np.float32 and out.shape == (4, planes.shape[2], 5, 7)
        for n, warp in enumerate(warps):
            inv = np.linalg.inv(np.vstack([warp, [0, 0, 1]]))
            for v in range(5):
                for u in range(7):
                    x, y = inv[0, 0] * u + inv[0, 2], inv[1, 1] * v + inv[1, 2]
                    for c in range(planes.shape[2]):
                        assert out[n, c, v, u] == pytest.approx(bilinear(planes[..., c], x, y),
                                                                abs=1e-3)
        assert not out[3].any()


def test_sample_bilinear_takes_scale_and_shift_only():
    """A rotation by 1e-6 / 8 rad (off-diagonal x output side 0.5e-6: float dust) is taken,
    one of 3e-6 / 8 rad (1.5e-6) is refused; so is a quarter turn."""
    image = np.arange(99, dtype=np.float32).reshape(9, 11)
    for angle, refused in ((0.5e-6 / 8, False), (1.5e-6 / 8, True), (np.pi / 2, True)):
        c, s = np.cos(angle), np.sin(angle)
        warp = np.array([[[c, -s, 1.0], [s, c, 2.0]]])
        if refused:
            with pytest.raises(ValueError, match=r'^sample_bilinear takes unrotated warps '
                                                 r'\(scale and shift only\)$'):
                sample_bilinear(image, warp, (8, 6))
        else:
            assert sample_bilinear(image, warp, (8, 6)).shape == (1, 1, 6, 8)


def test_warp_patches_uint8_are_opencv_cuts_through_the_hand_matrices():
    """Square patches of side s around each centre, resampled to 16 x 12 (w x h): scale
    16 / s about the centre (hand matrix), and a quarter turn; each patch is OpenCV's
    bilinear warp through that matrix, in (N, C, h, w) layout."""
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (60, 80, 3)).astype(np.uint8)
    centres = np.array([[30.5, 20.25], [70.0, 50.0], [10.0, 40.0]])
    sides, angles = [32.0, 8.0, 20.0], [0.0, 0.0, 90.0]
    patches, warps = warp_patches(image, centres, sides, angles, (16, 12))
    assert patches.dtype == np.uint8 and patches.shape == (3, 3, 12, 16)
    assert warps.shape == (3, 2, 3)
    np.testing.assert_allclose(warps[0], scaled(centres[0], 32.0, 16, 12), atol=1e-4)
    np.testing.assert_allclose(warps[1], scaled(centres[1], 8.0, 16, 12), atol=1e-4)
    k = 16 / 20.0                                     # a quarter turn (see the matrix test)
    np.testing.assert_allclose(warps[2], [[0, k, 8 - k * 40], [-k, 0, 6 + k * 10]], atol=1e-4)
    for patch, warp in zip(patches, warps):
        want = cv2.warpAffine(image, warp.astype(np.float64), (16, 12), flags=cv2.INTER_LINEAR)
        assert np.array_equal(patch, want.transpose(2, 0, 1))
    grey, _ = warp_patches(image[..., 0], centres, sides, angles, (16, 12))
    assert grey.shape == (3, 1, 12, 16) and np.array_equal(grey[:, 0], patches[:, 0])


def test_warp_patches_exact_are_the_float_samples():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (30, 40)).astype(np.uint8)
    centres = np.array([[12.3, 14.7], [39.5, 0.5]])
    patches, warps = warp_patches(image, centres, [10.0, 6.0], [0.0, 0.0], (8, 6), exact=True)
    assert patches.dtype == np.float32 and patches.shape == (2, 1, 6, 8)
    np.testing.assert_allclose(warps[1], scaled(centres[1], 6.0, 8, 6), atol=1e-5)
    for n, warp in enumerate(warps):
        inv = np.linalg.inv(np.vstack([warp, [0, 0, 1]]))
        for v in range(6):
            for u in range(8):
                x, y = inv[0, 0] * u + inv[0, 2], inv[1, 1] * v + inv[1, 2]
                assert patches[n, 0, v, u] == pytest.approx(bilinear(image, x, y), abs=1e-3)


@pytest.mark.parametrize('exact', [False, True])
def test_no_centres_give_empty_patches_of_the_right_layout(exact):
    for image, channels in ((np.zeros((20, 30), np.uint8), 1),
                            (np.zeros((20, 30, 3), np.uint8), 3)):
        patches, warps = warp_patches(image, np.zeros((0, 2)), [], [], (16, 12), exact=exact)
        assert patches.shape == (0, channels, 12, 16)
        assert patches.dtype == (np.float32 if exact else np.uint8)
        assert warps.shape == (0, 2, 3)
