"""Per-landmark patch sides (``landmark_patch_scales``): the prediction patches of
:func:`mmceph.core.cascade.refine_views` and the training patches of
``SampleRefinerPatches`` are that many times wider for those landmarks only, and a
refined position maps back through the wider patch. Expected values from a gradient
image (a patch's grey span is its side) and by hand."""
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpose.registry import TRANSFORMS

import mmceph  # noqa: F401
from mmceph.core.cascade import Refiner, landmark_scales, refine_views
from mmceph.core.heatmap_decode import CompensatedHeatmapDecoder

PATCH = 32


def gradient_image(h=240, w=192):
    """Channel 0 = x, channel 1 = y, channel 2 = 0 (uint8): a patch's channel-0 values
    span its side in x, its centre's channel-1 value is its centre's y."""
    ys, xs = np.mgrid[0:h, 0:w]
    return np.dstack([xs, ys, np.zeros_like(xs)]).astype(np.uint8)


def span(patch):
    """Grey span of channel 0 across the patch's middle row: side x (P - 1) / P in x."""
    row = patch[0, PATCH // 2].astype(float)
    return row[-1] - row[0]


def fake_refiner(seen, peak_xy, scales=None):
    """A refiner whose every heatmap peaks at heatmap pixel ``peak_xy`` (decoded with the
    real decoder); ``seen`` collects the patches it was given."""
    decoder = CompensatedHeatmapDecoder((PATCH, PATCH), (PATCH // 4, PATCH // 4))

    def heatmaps_of(patches):
        seen.append(np.asarray(patches))
        ys, xs = np.mgrid[0:PATCH // 4, 0:PATCH // 4]
        hm = np.exp(-((xs - peak_xy[0]) ** 2 + (ys - peak_xy[1]) ** 2) / (2 * 2.0 ** 2))
        return np.broadcast_to(hm, (len(patches), 3) + hm.shape).astype(np.float32)
    return Refiner(0.3, (PATCH, PATCH), heatmaps_of, decoder, scales)


def test_prediction_patches_and_positions_scale_with_the_landmark_factor():
    image = gradient_image()
    kpts = np.array([[96.0, 60.0], [96.0, 120.0], [96.0, 180.0]], np.float32)
    side = 40.0
    seen, plain_seen = [], []
    wide = refine_views(fake_refiner(seen, (5.0, 2.5), [1.0, 2.0, 0.5]), image, kpts, side,
                        np.zeros((1, 2), np.float32), np.ones(1, np.float32))[0][0]
    plain = refine_views(fake_refiner(plain_seen, (5.0, 2.5)), image, kpts, side,
                         np.zeros((1, 2), np.float32), np.ones(1, np.float32))[0][0]
    spans = [span(p) for p in seen[0]]
    # side x (P-1)/P grey levels across the middle row: 38.75, 77.5, 19.375 (+-1 rounding)
    np.testing.assert_allclose(spans, [38.75, 77.5, 19.375], atol=1.0)
    np.testing.assert_allclose([span(p) for p in plain_seen[0]], [38.75] * 3, atol=1.0)
    # each patch is still centred on its own landmark (channel 1 at the centre = its y),
    # to within half a patch pixel (side x factor / P / 2) plus rounding
    centre_y = [p[1, PATCH // 2 - 1:PATCH // 2 + 1, PATCH // 2 - 1:PATCH // 2 + 1].mean()
                for p in seen[0]]
    assert np.all(np.abs(np.subtract(centre_y, kpts[:, 1]))
                  <= side * np.array([1.0, 2.0, 0.5]) / PATCH / 2 + 0.5)
    # the same peak in patch pixels lands factor x as far from the centre in the image
    offset = plain - kpts
    assert np.abs(offset).min() > 3          # the peak is off-centre in both axes
    np.testing.assert_allclose(wide - kpts, offset * np.array([[1.0], [2.0], [0.5]]),
                               rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(wide[0], plain[0], atol=1e-4)   # factor 1: unchanged


def test_views_use_the_landmark_factor_of_the_channel_refined():
    """With ``channels`` (refine_only), row i takes the factor of landmark channels[i]."""
    image = gradient_image()
    kpts = np.array([[96.0, 60.0], [96.0, 180.0]], np.float32)
    seen = []
    refine_views(fake_refiner(seen, (5.0, 2.5), [1.0, 1.0, 2.0]), image, kpts, 40.0,
                 np.array([[0.0, 0.0], [0.1, 0.0]], np.float32), np.ones(1, np.float32),
                 channels=np.array([2, 0]))
    spans = [span(p) for p in seen[0]]
    # views x landmarks, view-major: (no shift: 2x, 1x), (shifted 0.1 side: 2x, 1x)
    np.testing.assert_allclose(spans, [77.5, 38.75, 77.5, 38.75], atol=1.0)
    # the shift is a fraction of the landmark's own (wider) side: 8 px and 4 px further right
    row0 = [p[0, PATCH // 2, 0] for p in seen[0]]
    np.testing.assert_allclose(np.subtract(row0[2:], row0[:2]), [8.0, 4.0], atol=1.0)


def sampler(scales):
    init_default_scope('mmpose')
    codec = dict(type='CompensatedHeatmap', input_size=(PATCH, PATCH),
                 heatmap_size=(PATCH // 4, PATCH // 4), sigma=1.5)
    return TRANSFORMS.build(dict(type='SampleRefinerPatches', codecs=[codec],
                                 input_size=(160, 192), patch_fraction=0.3,
                                 patches_per_image=19, jitter=0.0, rotate=0.0,
                                 scale_range=(1.0, 1.0), landmark_patch_scales=scales))


def training_patches(transform):
    """Landmarks 0 (y 60) and 1 (y 180) visible, the rest not; crop width 192: side 57.6."""
    kpts = np.full((1, 19, 2), 96.0, np.float32)
    kpts[0, 0, 1], kpts[0, 1, 1] = 60.0, 180.0
    visible = np.zeros((1, 19))
    visible[0, :2] = 1
    results = dict(img=gradient_image(), keypoints=kpts, keypoints_visible=visible,
                   bbox_scale=np.array([[192.0, 230.4]], np.float32))
    pack = transform.transform(results)['refiner_patches'][0]
    by_y = sorted(pack['inputs'], key=lambda p: p[1, PATCH // 2, PATCH // 2])
    return [span(p) for p in by_y]


def test_training_patches_are_wider_for_the_scaled_landmarks_only():
    # 57.6 x 31/32 = 55.8 grey levels; landmark 1 at 1.5x: 83.7
    np.testing.assert_allclose(training_patches(sampler([1.0, 1.5] + [1.0] * 17)),
                               [55.8, 83.7], atol=1.0)
    np.testing.assert_allclose(training_patches(sampler(None)), [55.8, 55.8], atol=1.0)


def test_bad_factors_are_refused_in_one_line():
    for bad in ([1.0, 0.0], [1.0, -2.0], [float('nan')], []):
        with pytest.raises(ValueError, match='landmark_patch_scales must be positive numbers'):
            landmark_scales(bad)
    with pytest.raises(ValueError, match='has 2 values, the model has 19 landmarks'):
        landmark_scales([1.0, 2.0], 19)
    assert landmark_scales(None) is None
    np.testing.assert_array_equal(landmark_scales([1, 2.5], 2), [1.0, 2.5])
    with pytest.raises(ValueError, match='has 18 values, the model has 19 landmarks'):
        training_patches(sampler([1.0] * 18))
