"""Which measurements apply to a landmark set: decided by names (mmceph.clinical)."""
from mmceph import clinical
from mmceph.metainfo import aariz, cldetection2023, isbi2015, lateral_photo, webceph2k


def test_isbi_and_its_supersets_get_every_measurement():
    assert clinical.isbi_indices(isbi2015.KEYPOINTS) == list(range(19))
    assert clinical.isbi_indices(cldetection2023.KEYPOINTS) == list(range(19))
    assert clinical.applicable_measurements(cldetection2023.KEYPOINTS) == clinical.MEASUREMENTS
    reordered = list(reversed(isbi2015.KEYPOINTS))
    assert clinical.isbi_indices(reordered) == list(range(18, -1, -1))


def test_other_sets_get_none_even_with_shared_names():
    # the photographs share sella, nasion, gonion, menton, gnathion and have 19 points
    assert len(lateral_photo.KEYPOINTS) == 19
    assert {'sella', 'nasion', 'gonion'} <= set(lateral_photo.KEYPOINTS)
    for names in (lateral_photo.KEYPOINTS, aariz.KEYPOINTS, webceph2k.KEYPOINTS,
                  [f'p{k}' for k in range(19)], isbi2015.KEYPOINTS[:18]):
        assert clinical.isbi_indices(names) is None
        assert clinical.applicable_measurements(names) == ()
