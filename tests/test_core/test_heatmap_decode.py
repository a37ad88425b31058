"""mmceph.core.heatmap_decode, the decoder both backends use, against values known without
it: Gaussians drawn analytically (their true centre and peak value are known), the grid
map worked by hand, weighted centroids summed by hand, and the fit's window, threshold
and tie rule each checked just inside and just outside."""
import json

import numpy as np
import pytest

from mmceph.core.heatmap_decode import CompensatedHeatmapDecoder


def gaussian(shape, centre, width, amplitude=1.0, cov=None):
    """An analytic Gaussian on the heatmap grid (pixel centres at integer indices):
    ``amplitude * exp(-d^T C^-1 d / 2)``, C = width^2 I unless ``cov`` is given."""
    H, W = shape
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    d = np.stack([xs - centre[0], ys - centre[1]], -1)
    inv = np.linalg.inv(np.asarray(cov, float) if cov is not None else np.eye(2) * width ** 2)
    return amplitude * np.exp(-0.5 * np.einsum('...i,ij,...j->...', d, inv, d))


def test_settings_and_defaults_as_an_export_records_them():
    dec = CompensatedHeatmapDecoder((64, 48), (16, 8))
    assert dec.settings() == dict(input_size=[64, 48], heatmap_size=[16, 8], sigma=2.0,
                                  fit_radius=3, fit_threshold=0.2)
    given = CompensatedHeatmapDecoder([64, 48], (16, 8), 3, 4.0, 1)
    s = given.settings()
    assert s == dict(input_size=[64, 48], heatmap_size=[16, 8], sigma=3.0, fit_radius=4,
                     fit_threshold=1.0)
    assert [type(s[k]) for k in ('sigma', 'fit_radius', 'fit_threshold')] == [float, int, float]
    assert json.loads(json.dumps(s)) == s                 # what an export writes
    assert given.input_size == (64, 48) and given.heatmap_size == (16, 8)


def test_grid_map_by_hand_with_different_strides_in_x_and_y():
    # stride 4 in x, 6 in y: input pixel p lies at heatmap (p + 0.5) / s - 0.5
    dec = CompensatedHeatmapDecoder((64, 48), (16, 8))
    hm = dec.to_heatmap([[0, 0], [7, 11], [63, 47]])
    np.testing.assert_allclose(hm, [[-0.375, -5 / 12], [1.375, 17 / 12], [15.375, 89 / 12]],
                               atol=1e-12)
    assert hm.dtype == np.float64
    # heatmap index i is centred at input s*i + (s-1)/2
    back = dec.to_input(np.array([[[0, 0], [15, 7]]]))
    np.testing.assert_allclose(back, [[[1.5, 2.5], [61.5, 44.5]]], atol=1e-12)
    assert back.dtype == np.float64 and back.shape == (1, 2, 2)


def test_analytic_gaussians_decode_to_their_true_centres_and_peak_values():
    """Isotropic, narrow, anisotropic and tilted (a cross term) Gaussians, one of them with
    its centre half a pixel beyond the border, in a non-square heatmap: each decodes to
    its true centre, and its score is the Gaussian's value at the integer peak."""
    dec = CompensatedHeatmapDecoder((96, 128), (24, 16))      # stride 4 in x, 8 in y
    cases = [((10.3, 7.6), 2.0, 1.0, None),
             ((4.8, 9.2), 1.2, 0.7, None),
             ((15.4, 6.3), None, 2.5, [[1.5 ** 2, 0.0], [0.0, 2.5 ** 2]]),
             ((12.2, 8.7), None, 1.0, [[3.0, 1.2], [1.2, 2.0]]),
             ((-0.45, 3.35), 2.0, 1.0, None)]
    heatmaps = np.stack([gaussian((16, 24), c, w, a, cov) for c, w, a, cov in cases])
    kpts, scores = dec.decode(heatmaps)
    assert kpts.shape == (1, 5, 2) and kpts.dtype == np.float32
    assert scores.shape == (1, 5) and scores.dtype == np.float32
    for k, (c, _, _, _) in enumerate(cases):
        expected = [(c[0] + 0.5) * 4 - 0.5, (c[1] + 0.5) * 8 - 0.5]    # input pixels
        np.testing.assert_allclose(kpts[0, k], expected, atol=2e-3)
    # the last one's integer peak is on column 1: blurred with zeros beyond the border,
    # column 0 (0.45 px from the centre) loses more than column 1 (1.45 px) does
    peaks = [(10, 8), (5, 9), (15, 6), (12, 9), (1, 3)]
    np.testing.assert_allclose(scores[0], [heatmaps[k, y, x] for k, (x, y) in enumerate(peaks)],
                               rtol=1e-6)
    np.testing.assert_allclose(scores[0, 0], np.exp(-(0.3 ** 2 + 0.4 ** 2) / 8), rtol=1e-6)


def test_half_precision_heatmaps_decode_as_single_precision():
    """A float16 network output (OpenCV blurs no float16) gives float32's answer."""
    dec = CompensatedHeatmapDecoder((64, 64), (16, 16))
    hm = gaussian((16, 16), (7.3, 8.6), 2.0)[None]
    half, _ = dec.decode(hm.astype(np.float16))
    single, _ = dec.decode(hm.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(half, single)


def test_nothing_found_gives_score_zero_at_the_integer_maximum():
    """All-negative heatmaps: score 0 (not the negative value), position the integer
    maximum of the smoothed map (not the first pixel): here a 5 x 5 block of -0.01 in a
    field of -1."""
    dec = CompensatedHeatmapDecoder((40, 24), (20, 12))       # stride 2
    hm = np.full((2, 12, 20), -1.0, np.float32)
    hm[0, 3:8, 11:16] = -0.01                                 # centred on (13, 5)
    hm[1, 6:11, 4:9] = -0.01                                  # centred on (6, 8)
    kpts, scores = dec.decode(hm)
    assert scores.tolist() == [[0.0, 0.0]]
    np.testing.assert_array_equal(kpts[0], [[13 * 2 + 0.5, 5 * 2 + 0.5],
                                            [6 * 2 + 0.5, 8 * 2 + 0.5]])


def test_the_integer_peak_is_that_of_the_smoothed_heatmap():
    """The integer peak comes from the heatmap blurred by sigma / 2 (sigma 2: a blur of 1
    px). A Gaussian of amplitude a and width w blurred by b peaks at a w^2 / (w^2 + b^2);
    a lone pixel of 1 at about 1 / (2 pi b^2). Blur 1: the broad peak (w 2, a 0.3: 0.24)
    beats the spike (0.16), though the spike is higher; a blur of 2/3 would let the spike
    win (0.27 < 0.36). And a narrow peak (w 1, a 1: 0.5) beats a wide lower one (w 4,
    a 0.5: 0.47), which a blur of 4 would prefer (0.06 < 0.25)."""
    dec = CompensatedHeatmapDecoder((192, 128), (48, 32))     # stride 4
    spike = gaussian((32, 48), (30.2, 16.4), 2.0, 0.3)
    spike[8, 10] = 1.0
    narrow = gaussian((32, 48), (12.3, 15.6), 1.0) + gaussian((32, 48), (32.4, 16.2), 4.0, 0.5)
    kpts, scores = dec.decode(np.stack([spike, narrow]))
    np.testing.assert_allclose(kpts[0, 0], [30.2 * 4 + 1.5, 16.4 * 4 + 1.5], atol=0.02)
    np.testing.assert_allclose(kpts[0, 1], [12.3 * 4 + 1.5, 15.6 * 4 + 1.5], atol=0.05)
    np.testing.assert_allclose(scores[0], [spike[16, 30], narrow[16, 12]], rtol=1e-6)


@pytest.mark.parametrize('amplitude', [0.5, 4.0])
def test_near_equal_peaks_tie_within_1e_4_of_the_maximum(amplitude):
    """Two peaks of one shape: the later (in row-major order) one higher by 0.5e-4 of the
    maximum is a tie, which the first by position wins; higher by 1.5e-4 it wins."""
    dec = CompensatedHeatmapDecoder((128, 128), (32, 32))
    first, second = (8.0, 10.0), (24.0, 20.0)
    for rel, winner in ((0.5e-4, first), (1.5e-4, second)):
        hm = (gaussian((32, 32), first, 2.0, amplitude)
              + gaussian((32, 32), second, 2.0, amplitude * (1 + rel)))
        kpts, _ = dec.decode(hm[None])
        np.testing.assert_allclose(kpts[0, 0], [winner[0] * 4 + 1.5, winner[1] * 4 + 1.5],
                                   atol=0.01)


def test_pixels_below_the_fit_threshold_are_left_out():
    """A pixel raised to just below 0.2 of the peak does not move the fit; just above, it
    joins the fit and moves it. The same with fit_threshold=0.5."""
    centre = (10.3, 9.6)
    base = gaussian((20, 20), centre, 1.5, 2.0)         # narrower than sigma: no re-fit
    assert base[13, 13] < 0.1 * base[10, 10]
    for threshold in (0.2, 0.5):
        dec = CompensatedHeatmapDecoder((80, 80), (20, 20), fit_threshold=threshold)
        below, above = base.copy(), base.copy()
        peak = base[10, 10]
        below[13, 13] = 0.99 * threshold * peak
        above[13, 13] = 1.01 * threshold * peak
        kpts, _ = dec.decode(np.stack([below, above]))
        truth = np.array(centre) * 4 + 1.5
        np.testing.assert_allclose(kpts[0, 0], truth, atol=2e-3)
        assert np.linalg.norm(kpts[0, 1] - truth) > 0.01


def test_the_fit_window_has_radius_fit_radius():
    """A raised pixel 4 px from the peak (left, right, above or below) is outside the
    default window (radius 3) and moves nothing; with fit_radius=4 it moves the fit."""
    centre = (10.3, 9.6)
    base = gaussian((21, 21), centre, 2.0)
    heatmaps = []
    for dx, dy in ((-4, 0), (4, 0), (0, -4), (0, 4)):
        h = base.copy()
        h[10 + dy, 10 + dx] = 0.6
        heatmaps.append(h)
    truth = np.array(centre) * 4 + 1.5
    kpts, _ = CompensatedHeatmapDecoder((84, 84), (21, 21)).decode(np.stack(heatmaps))
    np.testing.assert_allclose(kpts[0], [truth] * 4, atol=2e-3)
    wider, _ = CompensatedHeatmapDecoder((84, 84), (21, 21), fit_radius=4).decode(
        np.stack(heatmaps))
    assert (np.linalg.norm(wider[0] - truth, axis=1) > 0.01).all()


def test_few_pixels_fall_back_to_the_weighted_centroid():
    """Fewer than 6 pixels above the threshold: the centroid weighted by the values, by
    hand: x = (0.3*9 + 1*10 + 0.6*11) / 1.9, on row 5; and a second one in a column."""
    dec = CompensatedHeatmapDecoder((64, 32), (32, 16))       # stride 2
    hm = np.zeros((2, 16, 32), np.float32)
    hm[0, 5, 9:12] = [0.3, 1.0, 0.6]
    hm[1, 7:11, 20] = [0.5, 1.0, 0.8, 0.25]
    kpts, scores = dec.decode(hm)
    x0 = (0.3 * 9 + 10 + 0.6 * 11) / 1.9
    y1 = (0.5 * 7 + 8 + 0.8 * 9 + 0.25 * 10) / 2.55
    np.testing.assert_allclose(kpts[0], [[x0 * 2 + 0.5, 5 * 2 + 0.5], [20 * 2 + 0.5, y1 * 2 + 0.5]],
                               rtol=1e-6)
    np.testing.assert_allclose(scores[0], [1.0, 1.0])


def test_a_flat_peak_falls_back_to_the_centroid():
    """A plateau (log h flat: no concave quadratic) decodes to its centre."""
    dec = CompensatedHeatmapDecoder((64, 64), (16, 16))
    hm = np.zeros((1, 16, 16), np.float32)
    hm[0, 6:8, 3:7] = 1.0                                     # 2 rows x 4 columns
    kpts, _ = dec.decode(hm)
    np.testing.assert_allclose(kpts[0, 0], [4.5 * 4 + 1.5, 6.5 * 4 + 1.5], atol=1e-6)


def test_a_vertex_beyond_the_window_falls_back_to_the_centroid():
    """A Gaussian (width 1.8) centred 2.9 px beyond the first column is found (its vertex
    is within the radius, 3, of the integer peak, column 0); 3.1 px beyond, the fit is
    refused and the kept pixels' weighted centroid (summed here) is returned. The same at
    the top. (fit_threshold 0.01 keeps the 4 columns a curvature needs.)"""
    dec = CompensatedHeatmapDecoder((96, 96), (24, 24), fit_threshold=0.01)
    for axis in (0, 1):
        for beyond, inside in ((2.9, True), (3.1, False)):
            centre = [12.4, 12.4]
            centre[axis] = -beyond
            hm = gaussian((24, 24), centre, 1.8)
            kpts, _ = dec.decode(hm[None].astype(np.float32))
            got = (kpts[0, 0] + 0.5) / 4 - 0.5                # heatmap pixels
            if inside:
                np.testing.assert_allclose(got, centre, atol=1e-3)
                continue
            peak = [12, 12]
            peak[axis] = 0
            window = np.zeros_like(hm, bool)
            window[max(0, peak[1] - 3):peak[1] + 4, max(0, peak[0] - 3):peak[0] + 4] = True
            keep = window & (hm > 0.01 * hm[peak[1], peak[0]])
            ys, xs = np.nonzero(keep)
            w = hm[keep]
            centroid = [(w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()]
            np.testing.assert_allclose(got, centroid, atol=1e-4)
            assert abs(centroid[axis] + beyond) > 2


@pytest.mark.parametrize('side', ['left', 'right', 'top', 'bottom'])
def test_a_wide_peak_near_the_border_is_not_blurred(side):
    """Width 3.5 > sigma 2 calls for a blur of sqrt(3.5^2 - 2^2); blurred with zeros
    beyond the border, a peak near it would be pulled inwards. Within 1.5 x the blurred
    width (sqrt(3.5^2 + 8.25) = 4.53: 7 px) of the border the first fit is kept: exact."""
    dec = CompensatedHeatmapDecoder((160, 160), (40, 40))
    # integer peaks 6 and 33: one inside the 7-px margin on the left / top, and the first
    # inside it on the right / bottom (40 - 7)
    near = {'left': (6.3, 20.4), 'right': (33.3, 20.4), 'top': (20.4, 6.3),
            'bottom': (20.4, 33.3)}[side]
    kpts, _ = dec.decode(gaussian((40, 40), near, 3.5)[None])
    np.testing.assert_allclose(kpts[0, 0], np.array(near) * 4 + 1.5, atol=2e-3)


def test_a_wide_peak_is_refitted_after_the_matched_blur():
    """Far from the border, a wide peak (width 3.5) with a weaker, narrow neighbour 7 px
    away (outside the first window, inside the second after the blur): the decoder refits
    the blurred map in a window of radius round(4.53) = 5, which the blur of
    sqrt(3.5^2 - 2^2) computed here (scipy's Gaussian filter, zeros beyond the border, and
    a weighted log-quadratic least-squares fit written out) reproduces."""
    from scipy.ndimage import gaussian_filter
    dec = CompensatedHeatmapDecoder((160, 160), (40, 40))
    centre = (19.3, 20.6)
    hm = gaussian((40, 40), centre, 3.5) + gaussian((40, 40), (centre[0] + 7, centre[1]), 1.0,
                                                    0.6)
    kpts, _ = dec.decode(hm[None].astype(np.float32))
    blur = np.sqrt(3.5 ** 2 - 2.0 ** 2)
    smooth = gaussian_filter(hm.astype(np.float32).astype(float), blur, mode='constant')
    px, py, r = 19, 21, 5
    ys, xs = np.mgrid[py - r:py + r + 1, px - r:px + r + 1]
    h = smooth[ys, xs]
    keep = h > 0.2 * h.max()
    h, dx, dy = h[keep], xs[keep] - px, ys[keep] - py
    rows = np.stack([np.ones_like(dx), dx, dy, dx * dx, dy * dy, dx * dy], 1) * (h * h)[:, None]
    _, b, c, d, e, f = np.linalg.lstsq(rows, np.log(h) * h * h, rcond=None)[0]
    vertex = np.linalg.solve([[2 * d, f], [f, 2 * e]], [-b, -c]) + [px, py]
    np.testing.assert_allclose(kpts[0, 0], vertex * 4 + 1.5, atol=0.01)
    assert np.linalg.norm(vertex - centre) > 0.05      # the neighbour matters: not trivial


def test_six_pixels_are_enough_for_the_fit_five_are_not():
    """The quadratic has 6 coefficients: 6 pixels of a tilted Gaussian (the rest 0) fit it
    exactly; with the sixth left out, the 5 give their weighted centroid (by hand)."""
    dec = CompensatedHeatmapDecoder((64, 64), (16, 16))
    full = gaussian((16, 16), (8.2, 7.9), None, cov=[[1.5, 0.4], [0.4, 1.2]])
    six = [(8, 8), (9, 8), (7, 8), (8, 9), (8, 7), (9, 9)]
    hm = np.zeros((2, 16, 16), np.float32)
    for x, y in six:
        hm[0, y, x] = full[y, x]
    for x, y in six[:5]:
        hm[1, y, x] = full[y, x]
    kpts, _ = dec.decode(hm)
    np.testing.assert_allclose(kpts[0, 0], [8.2 * 4 + 1.5, 7.9 * 4 + 1.5], atol=1e-3)
    w = np.array([hm[1, y, x] for x, y in six[:5]], float)
    xs, ys = np.array(six[:5], float).T
    np.testing.assert_allclose(kpts[0, 1], [(w * xs).sum() / w.sum() * 4 + 1.5,
                                            (w * ys).sum() / w.sum() * 4 + 1.5], rtol=1e-6)


def test_a_pixel_exactly_at_the_threshold_is_left_out():
    """fit_threshold 0.25 and a peak of exactly 1: a pixel raised to exactly 0.25 (exact in
    float32) is not above the threshold, so it does not move the fit."""
    dec = CompensatedHeatmapDecoder((80, 80), (20, 20), fit_threshold=0.25)
    hm = gaussian((20, 20), (10.0, 10.0), 1.5)
    hm[10, 10] = 1.0
    hm[13, 12] = 0.25                                         # the Gaussian's value: 0.08
    kpts, _ = dec.decode(hm[None].astype(np.float32))
    np.testing.assert_allclose(kpts[0, 0], [41.5, 41.5], atol=1e-3)
    hm[13, 12] = 0.2501
    moved, _ = dec.decode(hm[None].astype(np.float32))
    assert np.abs(moved[0, 0] - 41.5).max() > 0.01


def test_nothing_positive_left_after_the_blur_gives_the_integer_peak():
    """A wide peak (width 3.5, so it is blurred) ringed by strong negative values 4 to 7
    px away (network heatmaps can be negative): blurred, nothing in the second window is
    above 0, so the decoder keeps the integer peak, (20, 20)."""
    dec = CompensatedHeatmapDecoder((160, 160), (40, 40))
    hm = gaussian((40, 40), (20.3, 19.6), 3.5)
    ys, xs = np.mgrid[0:40, 0:40]
    r = np.hypot(xs - 20, ys - 20)
    hm[(r >= 4) & (r <= 7)] = -5.0
    kpts, scores = dec.decode(hm[None].astype(np.float32))
    np.testing.assert_array_equal(kpts[0, 0], [20 * 4 + 1.5, 20 * 4 + 1.5])
    assert scores[0, 0] == np.float32(hm[20, 20])


def test_a_smoothed_maximum_on_a_dark_pixel_is_reported_there_with_score_0():
    """A pixel of 0 in a ring of 8 bright ones (one brighter: 1.5): blurred by 1 px the
    dark centre is the maximum (0.67 against 0.55 on the brighter pixel), so its value, 0,
    is the score, and the position is that pixel, with nothing fitted to the ring."""
    dec = CompensatedHeatmapDecoder((64, 64), (16, 16))
    hm = np.zeros((1, 16, 16), np.float32)
    hm[0, 6:9, 9:12] = 1.0
    hm[0, 7, 10] = 0.0
    hm[0, 7, 11] = 1.5
    kpts, scores = dec.decode(hm)
    assert scores[0, 0] == 0
    np.testing.assert_array_equal(kpts[0, 0], [10 * 4 + 1.5, 7 * 4 + 1.5])


def test_a_fit_that_is_not_a_peak_falls_back_to_the_centroid():
    """A dim pixel (0.1) in a bright ring (one ring pixel 1.5): the smoothed maximum is the
    dim centre, and the fit (weights h^2: the dim centre weighs little) is flat across, not
    a peak, so the 9 pixels' weighted centroid is returned, by hand: x + 0.5 / 8.6 (columns
    weigh 3, 2.1, 3.5). A saddle (3 rows, the middle one dimmer: a peak along x, a valley
    along y) gives its centroid too: the middle row."""
    dec = CompensatedHeatmapDecoder((64, 64), (16, 16), fit_threshold=0.05)
    hm = np.zeros((2, 16, 16), np.float32)
    hm[0, 6:9, 9:12] = 1.0
    hm[0, 7, 10] = 0.1
    hm[0, 7, 11] = 1.5
    hm[1, 5:8, 4:9] = np.array([1.0, 0.5, 1.0])[:, None] * [0.3, 0.7, 1.0, 0.7, 0.3]
    kpts, _ = dec.decode(hm)
    np.testing.assert_allclose(kpts[0, 0], [(10 + 0.5 / 8.6) * 4 + 1.5, 7 * 4 + 1.5], rtol=1e-6)
    np.testing.assert_allclose(kpts[0, 1], [6 * 4 + 1.5, 6 * 4 + 1.5], rtol=1e-6)
