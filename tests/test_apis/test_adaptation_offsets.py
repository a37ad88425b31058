"""The site-adaptation arithmetic (mmceph.apis.adaptation, mmceph.core.site_offsets) on
numbers small enough to compute by hand: the offsets a prediction gets, their size in mm,
the leave-one-out check's rounding and units, the minimum number of labelled images.
Model-free: the mutation tests' runner (docs/mutation.md); tests/test_tools/test_adapt.py
runs the tool."""
import numpy as np
import pytest

from mmceph.apis.adaptation import (
    MIN_IMAGES,
    AdaptationError,
    estimate_offsets,
    leave_one_out,
    offsets_in_mm,
)
from mmceph.core.site_offsets import add_site_offsets


def test_site_offsets_scale_each_axis_by_its_own_crop_size():
    pred = np.array([[[10.0, 20.0], [0.0, 0.0]], [[1.0, 1.0], [2.0, 2.0]]])
    offsets = np.array([[0.1, -0.2], [0.5, 0.25]])
    scale = np.array([[100.0, 200.0], [10.0, 40.0]])     # (width, height) per image
    out = add_site_offsets(pred, offsets, scale, dtype=np.float64)
    np.testing.assert_array_equal(out, [[[20.0, -20.0], [50.0, 50.0]],
                                        [[2.0, -7.0], [7.0, 12.0]]])
    np.testing.assert_array_equal(pred[0, 0], [10.0, 20.0])   # input left as it was


def test_estimate_is_the_per_axis_median_over_labelled_images_only():
    pred = np.zeros((3, 1, 2))
    gt = np.array([[[10.0, -5.0]], [[30.0, -15.0]], [[1000.0, 1000.0]]])
    scale = np.array([[100.0, 50.0]] * 3)
    visible = np.array([[2], [1], [0]])                # the wild third label is v=0
    est = estimate_offsets(pred, gt, visible, scale, min_images=2)
    np.testing.assert_allclose(est, [[0.2, -0.2]])      # medians of (0.1, 0.3), (-0.1, -0.3)
    visible[2] = 2                 # now counted: medians of (0.1, 0.3, 10), (-0.1, -0.3, 20)
    np.testing.assert_allclose(estimate_offsets(pred, gt, visible, scale, min_images=2),
                               [[0.3, -0.1]])


def test_min_images_is_inclusive_and_names_default_to_numbers():
    pred, gt = np.zeros((3, 2, 2)), np.ones((3, 2, 2))
    scale = np.ones((3, 2))
    visible = np.ones((3, 2), int)
    estimate_offsets(pred, gt, visible, scale, min_images=3)      # exactly enough
    with pytest.raises(AdaptationError) as info:
        estimate_offsets(pred, gt, visible, scale, min_images=4)
    assert str(info.value) == ('too few labelled images to estimate an offset: every '
                               'landmark needs at least 4; labelled images of '
                               'landmark 1 (3), landmark 2 (3)')
    assert MIN_IMAGES == 3


def test_offsets_in_mm_use_the_mean_crop_in_mm_of_images_with_a_spacing():
    offsets = np.array([[0.1, 0.2]])
    scale = [(200.0, 300.0), (100.0, 100.0), (400.0, 400.0)]
    # (200*0.1, 300*0.2) = (20, 60) and (100*0.3, 100*0.4) = (30, 40): mean (25, 50)
    out = offsets_in_mm(offsets, scale, [(0.1, 0.2), (0.3, 0.4), None])
    np.testing.assert_allclose(out, [[2.5, 10.0]])
    assert offsets_in_mm(offsets, scale, [None, None, None]) is None


def _shifted(n=4, K=1):
    pred = np.zeros((n, K, 2))
    gt = np.zeros((n, K, 2))
    gt[..., 0] = np.arange(n)[:, None] + 10.0       # 10, 11, 12, 13 px to the right
    return pred, gt, np.ones((n, K), int), np.full((n, 2), 100.0)


def test_leave_one_out_by_hand_in_pixels_and_mm():
    pred, gt, visible, scale = _shifted()
    check = leave_one_out(pred, gt, visible, scale)
    # unadapted: mean of 10..13 = 11.5 px. Image i adapted with the median of the other
    # three: i=0 -> 12 (error 2), i=1 -> 12 (1), i=2 -> 11 (1), i=3 -> 11 (2): mean 1.5
    assert check == dict(unit='px', mre_unadapted=11.5, mre_adapted=1.5, change=-10.0)
    check = leave_one_out(pred, gt, visible, scale, [(0.1, 0.1)] * 4)
    assert check == dict(unit='mm', mre_unadapted=1.15, mre_adapted=0.15, change=-1.0)
    # one image without a spacing: pixels for all
    check = leave_one_out(pred, gt, visible, scale, [(0.1, 0.1)] * 3 + [None])
    assert check['unit'] == 'px' and check['mre_unadapted'] == 11.5


def test_leave_one_out_rounds_to_four_decimals_and_starts_at_min_images():
    pred, gt, visible, scale = _shifted()
    gt[..., 1] = 1e-5                                 # below the rounding
    check = leave_one_out(pred, gt, visible, scale)
    assert check['mre_unadapted'] == 11.5 and check['change'] == -10.0
    visible[0, 0] = 0         # 3 labelled (x = 11, 12, 13 px) = MIN_IMAGES: each image is
    # scored with the median of the other two: |11-12.5|, |12-12|, |13-11.5| -> mean 1.0
    assert leave_one_out(pred, gt, visible, scale) == dict(
        unit='px', mre_unadapted=12.0, mre_adapted=1.0, change=-11.0)
    visible[1, 0] = 0                                 # 2 labelled: below the minimum
    assert leave_one_out(pred, gt, visible, scale) is None


def test_leave_one_out_rounds_each_number_to_four_decimals():
    """Errors with a fifth decimal: 11.50004, 1.50003 and -10.00002 before rounding."""
    pred, gt, visible, scale = _shifted()
    gt[:, 0, 0] = [10.00003, 11.0, 12.0, 13.00014]
    assert leave_one_out(pred, gt, visible, scale) == dict(
        unit='px', mre_unadapted=11.5, mre_adapted=1.5, change=-10.0)
