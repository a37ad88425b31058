"""The inference JSON: landmark units and the clinical measurements (no model needed)."""
import numpy as np
import pytest

from data_converters.synthetic import MEAN_SHAPE
from mmceph.apis.inference import describe_landmarks
from mmceph.clinical import analyse
from mmceph.metainfo.isbi2015 import KEYPOINTS


def test_measurements_match_the_clinical_analysis():
    kpts = MEAN_SHAPE * [1935, 2400]
    out = describe_landmarks(KEYPOINTS, kpts, np.full(19, 0.9), (0.1, 0.12))
    expected = analyse(kpts, (0.1, 0.12))
    assert set(out['measurements']) == set(expected)
    for name, m in out['measurements'].items():
        assert m['value'] == pytest.approx(expected[name]['value'], abs=1e-3)
        assert m['class'] == expected[name]['class'] and m['meaning'] == expected[name]['meaning']
    assert out['measurement_units']['MW'] == 'mm'
    lm = out['landmarks'][4]
    assert lm['name'] == 'subspinale' and lm['y_mm'] == pytest.approx(kpts[4, 1] * 0.12, abs=1e-3)


def test_no_measurements_without_spacing_or_for_other_landmark_sets():
    kpts = MEAN_SHAPE * [1935, 2400]
    assert 'measurements' not in describe_landmarks(KEYPOINTS, kpts, np.ones(19), None)
    assert 'x_mm' not in describe_landmarks(KEYPOINTS, kpts, np.ones(19), None)['landmarks'][0]
    other = [f'p{i}' for i in range(19)]
    assert 'measurements' not in describe_landmarks(other, kpts, np.ones(19), (0.1, 0.1))


def test_degenerate_prediction_reports_instead_of_crashing():
    kpts = MEAN_SHAPE * [1935, 2400]
    kpts[7] = kpts[9]                      # menton on gonion: the Me-Go line is undefined
    out = describe_landmarks(KEYPOINTS, kpts, np.ones(19), (0.1, 0.1))
    assert 'measurements' not in out and 'coincide' in out['measurements_error']
