"""mmceph.core.site_offsets.add_site_offsets: the one function the estimator, the ONNX
runtime and the adaptation's scoring apply offsets with (expected values by hand)."""
import numpy as np
import pytest

from mmceph.core.site_offsets import add_site_offsets

OFFSETS = np.array([[0.1, -0.2], [0.0, 0.5]])


def test_one_image_moves_by_offset_times_crop_size():
    out = add_site_offsets([[10.0, 20.0], [30.0, 40.0]], OFFSETS, [100.0, 200.0])
    np.testing.assert_allclose(out, [[20.0, -20.0], [30.0, 140.0]])
    assert out.dtype == np.float32


def test_each_image_uses_its_own_crop_size():
    kpts = np.zeros((2, 2, 2))
    out = add_site_offsets(kpts, OFFSETS, [[100.0, 200.0], [10.0, 20.0]], dtype=float)
    np.testing.assert_allclose(out[0], [[10.0, -40.0], [0.0, 100.0]])
    np.testing.assert_allclose(out[1], [[1.0, -4.0], [0.0, 10.0]])
    assert out.dtype == np.float64 and not kpts.any()          # the input is not changed


def test_only_x_and_y_move_and_one_crop_size_serves_every_instance():
    kpts = np.array([[[1.0, 2.0, 0.9], [3.0, 4.0, 0.8]]])      # (1, K, 3): a score column
    out = add_site_offsets(kpts, OFFSETS, np.array([10.0, 10.0]))
    np.testing.assert_allclose(out, [[[2.0, 0.0, 0.9], [3.0, 9.0, 0.8]]], rtol=1e-6)


def test_offsets_for_another_landmark_count_are_refused():
    with pytest.raises(ValueError, match='site offsets are for 2 landmarks, the model '
                                         'predicts 3'):
        add_site_offsets(np.zeros((3, 2)), OFFSETS, [1.0, 1.0])
