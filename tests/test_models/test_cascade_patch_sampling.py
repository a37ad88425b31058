"""SampleRefinerPatches: the cascade's training patches, cut in the train pipeline."""
import numpy as np
import pytest
from mmengine.dataset.utils import worker_init_fn
from mmengine.registry import init_default_scope
from mmpose.registry import TRANSFORMS
from test_landmark_cascade import pipeline_results, tiny_sampler

import mmceph  # noqa: F401


def patches(sampler, seed, worker=0, workers=2):
    """Patches of one image as dataloader worker ``worker`` of a run seeded ``seed`` cuts them."""
    worker_init_fn(worker, workers, 0, seed)       # what MMEngine's dataloader runs per worker
    return sampler.transform(pipeline_results(np.random.default_rng(7)))['refiner_patches']


def test_packs_one_set_of_patches_and_targets_per_refiner():
    init_default_scope('mmpose')
    results = pipeline_results(np.random.default_rng(0))
    results['keypoints_visible'][0, [3, 5]] = 0
    packs = tiny_sampler(2, patch_fraction=[0.25, 0.35], patch=32).transform(results)[
        'refiner_patches']
    assert len(packs) == 2
    for pack in packs:
        assert pack['inputs'].dtype == np.uint8 and pack['inputs'].shape == (17, 3, 32, 32)
        assert pack['heatmaps'].shape == (17, 19, 8, 8)
        # unlabelled landmarks are never a target (weight 0), labelled ones inside the patch are
        assert (pack['keypoint_weights'][:, [3, 5]] == 0).all()
        assert pack['keypoint_weights'].max() == 1
    # the full image is not carried on: only the small patches
    assert results['img'].shape == (240, 192, 3)


def test_patch_side_is_a_fraction_of_the_crop_topdownaffine_will_cut():
    init_default_scope('mmpose')
    sampler = tiny_sampler()
    affine = TRANSFORMS.build(dict(type='TopdownAffine', input_size=(160, 192)))
    for scale in ([192.0, 230.4], [100.0, 400.0], [300.0, 100.0]):
        results = dict(img=np.zeros((240, 192, 3), np.uint8),
                       bbox_center=np.array([[96.0, 120.0]], np.float32),
                       bbox_scale=np.array([scale], np.float32), bbox_rotation=np.zeros(1))
        width = sampler.crop_width(results['bbox_scale'])
        assert width == pytest.approx(float(affine.transform(results)['input_scale'][0]))


def test_an_unjittered_patch_is_centred_on_its_landmark():
    init_default_scope('mmpose')
    sampler = tiny_sampler(jitter=0.0, rotate=0.0, scale_range=(1.0, 1.0), patch=32)
    results = pipeline_results(np.random.default_rng(1))
    results['img'][:] = 0
    x, y = results['keypoints'][0].round().astype(int).T
    results['keypoints'][0] = np.c_[x, y]
    results['img'][y, x] = 255
    pack = sampler.transform(results)['refiner_patches'][0]
    for patch, heatmaps in zip(pack['inputs'], pack['heatmaps']):
        # the bright landmark pixel sits at the patch centre, and so does its target peak
        peak = np.unravel_index(patch[0].astype(float).argmax(), patch[0].shape)
        assert np.abs(np.array(peak) - 15.5).max() <= 1.0
        peaks = [np.unravel_index(h.argmax(), h.shape) for h in heatmaps if h.max() > 0.5]
        assert min(np.abs(np.array(p) - 3.5).max() for p in peaks) <= 0.5


def test_sampling_is_reproducible_under_a_seed_and_differs_between_workers():
    init_default_scope('mmpose')
    sampler = tiny_sampler()
    first, again = patches(sampler, seed=0), patches(sampler, seed=0)
    other_worker, other_seed = patches(sampler, seed=0, worker=1), patches(sampler, seed=1)
    np.testing.assert_array_equal(first[0]['inputs'], again[0]['inputs'])
    np.testing.assert_array_equal(first[0]['heatmaps'], again[0]['heatmaps'])
    assert not np.array_equal(first[0]['inputs'], other_worker[0]['inputs'])
    assert not np.array_equal(first[0]['inputs'], other_seed[0]['inputs'])
    # successive images within one worker get fresh patches too
    worker_init_fn(0, 2, 0, 0)
    a, b = (sampler.transform(pipeline_results(np.random.default_rng(7)))['refiner_patches']
            for _ in range(2))
    assert not np.array_equal(a[0]['inputs'], b[0]['inputs'])


def test_settings_take_one_value_or_one_per_refiner():
    init_default_scope('mmpose')
    sampler = tiny_sampler(2, rotate=[15, 5])
    assert sampler.rotate == [15.0, 5.0] and sampler.jitter == [0.12, 0.12]
    with pytest.raises(ValueError, match='rotate: 3 values for 2 refiners'):
        tiny_sampler(2, rotate=[1, 2, 3])
