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


def test_measurements_apply_by_names_not_by_count():
    """The photographs' 19 facial points with a spacing: no ISBI measurement, no overlay
    lines. CL-Detection's 38 (ISBI's 19 first): the measurements of those 19, and a flag
    withholds exactly the measurements that use the flagged landmark."""
    from mmceph.clinical import MEASUREMENT_LINES
    from mmceph.metainfo.cldetection2023 import KEYPOINTS as CL
    from mmceph.metainfo.lateral_photo import KEYPOINTS as PHOTO
    from mmceph.predictor.base import PredictorBase
    kpts = MEAN_SHAPE * [1935, 2400]
    photo = describe_landmarks(PHOTO, kpts, np.ones(19), (0.5, 0.5))
    assert 'x_mm' in photo['landmarks'][0]
    assert not {'measurements', 'measurements_error', 'measurement_units'} & set(photo)

    rng = np.random.default_rng(0)
    kpts38 = np.concatenate([kpts, rng.uniform(100, 1800, (19, 2))])
    flags = [[] for _ in CL]
    flags[30] = ['low confidence']                       # not an ISBI landmark
    out = describe_landmarks(CL, kpts38, np.ones(38), (0.1, 0.1), flags)
    expected = analyse(kpts, (0.1, 0.1))
    assert set(out['measurements']) == set(expected) and 'measurements_withheld' not in out
    assert out['measurements']['ANB']['value'] == pytest.approx(expected['ANB']['value'],
                                                                abs=1e-3)
    flags[4] = ['low confidence']                        # subspinale (A): SNA, ANB, ODI, APDI
    out = describe_landmarks(CL, kpts38, np.ones(38), (0.1, 0.1), flags)
    assert set(out['measurements_withheld']) == {'SNA', 'ANB', 'ODI', 'APDI'}

    class Named(PredictorBase):
        def __init__(self, names):
            self.names = names
    assert Named(list(PHOTO)).measurement_lines == [] and not Named(list(PHOTO)).is_isbi
    isbi_lines = sorted({p for pairs in MEASUREMENT_LINES.values() for p in pairs})
    assert Named(list(CL)).measurement_lines == isbi_lines
    shuffled = list(CL[19:]) + list(CL[:19])             # ISBI's 19 last: indices follow
    assert Named(shuffled).measurement_lines == sorted((a + 19, b + 19) for a, b in isbi_lines)
