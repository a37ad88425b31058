"""CompensatedHeatmap: exact round trip, visibility, degenerate and imperfect heatmaps."""
import numpy as np
import pytest
from mmpose.codecs import MSRAHeatmap
from mmpose.registry import KEYPOINT_CODECS

import mmceph  # noqa: F401
from mmceph.codecs import CompensatedHeatmap


@pytest.fixture(params=[(4, 2.0), (16, 2.0), (4, 1.5)], ids=['stride4', 'stride16', 'sigma1.5'])
def codec(request):
    stride, sigma = request.param
    return CompensatedHeatmap((256, 320), (256 // stride, 320 // stride), sigma)


def test_round_trip_is_sub_pixel_exact(codec):
    rng = np.random.default_rng(0)
    kpts = rng.uniform(1, [254, 318], (1, 40, 2))
    decoded, scores = codec.decode(codec.encode(kpts)['heatmaps'])
    assert decoded.shape == (1, 40, 2) and scores.shape == (1, 40)
    assert np.abs(decoded - kpts).max() < 1e-3
    assert (scores > 0.5).all()


def test_grid_matches_space_to_depth_cells():
    codec = CompensatedHeatmap((64, 64), (16, 16), 2.0)
    # input pixels 4j..4j+3 form cell j; the cell's centre 4j+1.5 maps to heatmap index j
    assert np.allclose(codec.to_heatmap([[5 * 4 + 1.5, 0 * 4 + 1.5]]), [[5, 0]])
    assert np.allclose(codec.to_input(codec.to_heatmap([[12.3, 40.7]])), [[12.3, 40.7]])


def test_visibility_and_missing_points_are_carried():
    codec = CompensatedHeatmap((128, 128), (32, 32), 2.0)
    kpts = np.array([[[10.0, 20.0], [50.0, 60.0], [500.0, 5.0]]])   # the third is outside
    enc = codec.encode(kpts, np.array([[1.0, 0.0, 1.0]]))
    assert enc['keypoint_weights'].tolist() == [[1.0, 0.0, 0.0]]
    assert enc['heatmaps'][1].max() == 0 and enc['heatmaps'][2].max() == 0
    assert enc['heatmaps'][0].max() > 0.9


def test_all_zero_heatmap_gives_zero_score_not_a_crash():
    codec = CompensatedHeatmap((128, 128), (32, 32), 2.0)
    kpts, scores = codec.decode(np.zeros((3, 32, 32), np.float32))
    assert kpts.shape == (1, 3, 2) and np.isfinite(kpts).all()
    assert (scores == 0).all()


def render(codec, xy, width, noise_std=0.0, second=None, seed=0):
    W, H = codec.heatmap_size
    ys, xs = np.mgrid[0:H, 0:W]
    mu = codec.to_heatmap(np.asarray(xy, float))
    h = np.exp(-((xs - mu[0]) ** 2 + (ys - mu[1]) ** 2) / (2 * width ** 2))
    if second is not None:
        m2 = mu + second
        h += 0.6 * np.exp(-((xs - m2[0]) ** 2 + (ys - m2[1]) ** 2) / (2 * 2.0 ** 2))
    h += np.random.default_rng(seed).normal(0, noise_std, h.shape)
    return h.astype(np.float32)[None]


@pytest.mark.parametrize('width', [1.0, 2.0, 3.5])
def test_unbiased_for_wider_or_narrower_peaks(width):
    codec = CompensatedHeatmap((256, 256), (64, 64), 2.0)
    xy = [101.3, 77.9]
    pred, _ = codec.decode(render(codec, xy, width))
    assert np.linalg.norm(pred[0, 0] - xy) < 0.05


def test_border_peak_beats_dark():
    ours = CompensatedHeatmap((256, 256), (64, 64), 2.0)
    dark = MSRAHeatmap((256, 256), (64, 64), 2.0, unbiased=True)
    xy = np.array([1.2, 130.4])
    err_ours = np.linalg.norm(ours.decode(render(ours, xy, 2.0))[0][0, 0] - xy)
    ys, xs = np.mgrid[0:64, 0:64]   # the same peak drawn in DARK's own grid (x / stride)
    h_dark = np.exp(-((xs - xy[0] / 4) ** 2 + (ys - xy[1] / 4) ** 2) / 8).astype(np.float32)[None]
    err_dark = np.linalg.norm(dark.decode(h_dark)[0][0, 0] - xy)
    assert err_ours < 0.05 < err_dark


def test_second_weaker_peak_and_noise_do_not_drag_far():
    codec = CompensatedHeatmap((256, 256), (64, 64), 2.0)
    xy = [120.0, 90.0]
    pred, _ = codec.decode(render(codec, xy, 2.0, noise_std=0.03, second=np.array([8.0, 0.0])))
    assert np.linalg.norm(pred[0, 0] - xy) < 1.0     # input px; the second peak is 32 px away


def test_builds_from_registry():
    codec = KEYPOINT_CODECS.build(dict(type='CompensatedHeatmap', input_size=(64, 64),
                                       heatmap_size=(16, 16), sigma=2))
    assert isinstance(codec, CompensatedHeatmap)
