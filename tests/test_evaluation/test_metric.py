"""CephalometricMetric: hand-computed MRE/SD/SDR with per-image spacings, missing points."""
import json

import numpy as np
import pytest

import mmceph.registration  # noqa: F401
from mmceph.evaluation import CephalometricMetric

META = dict(keypoint_id2name={0: 'a', 1: 'b', 2: 'c'}, num_keypoints=3)


def sample(img_id, pred, gt, visible, spacing):
    return dict(img_id=img_id, img_path=f'{img_id}.png',
                pred_instances=dict(keypoints=np.array([pred], float),
                                    keypoint_scores=np.ones((1, len(pred)))),
                gt_instances=dict(keypoints=np.array([gt], float),
                                  keypoints_visible=np.array([visible], float)),
                raw_ann_info=dict(pixel_spacing=spacing))


def evaluate(samples, **kwargs):
    metric = CephalometricMetric(**kwargs)
    metric.dataset_meta = META
    metric.process([], samples)
    return metric.compute_metrics(metric.results)


def test_hand_computed_two_spacings_and_boundary():
    gt = [[0, 0], [10, 10], [50, 50]]
    # image 1, 0.1 mm/px: errors 20 px -> 2.0 mm (exactly on the 2 mm radius), 30 px -> 3 mm,
    # and a (30, 40) px offset -> 5 mm.
    s1 = sample(1, [[20, 0], [10, 40], [80, 90]], gt, [1, 1, 1], [0.1, 0.1])
    # image 2, anisotropic 0.2 x 0.1 mm/px: dx 5 px -> 1 mm, dy 10 px -> 1 mm => sqrt(2) mm;
    # second landmark exact; third missing in the ground truth (must be excluded).
    s2 = sample(2, [[5, 10], [10, 10], [999, 999]], gt, [1, 1, 0], [0.2, 0.1])
    m = evaluate([s1, s2])
    errors = np.array([2.0, 3.0, 5.0, np.sqrt(2), 0.0])
    assert m['MRE'] == pytest.approx(errors.mean())
    assert m['MRE_std'] == pytest.approx(errors.std())
    assert m['SDR_2.0mm'] == pytest.approx(3 / 5)      # 2.0 counts as a success (<=)
    assert m['SDR_2.5mm'] == pytest.approx(3 / 5)
    assert m['SDR_3.0mm'] == pytest.approx(4 / 5)
    assert m['SDR_4.0mm'] == pytest.approx(4 / 5)


def test_missing_landmark_is_excluded_not_zero():
    gt = [[0, 0], [0, 0], [0, 0]]
    with_missing = evaluate([sample(1, [[10, 0], [10, 0], [0, 0]], gt, [1, 1, 0], [0.1, 0.1])])
    assert with_missing['MRE'] == pytest.approx(1.0)    # not 2/3


def test_pixels_when_no_spacing_and_keys_say_so():
    m = evaluate([sample(1, [[3, 4], [0, 0], [0, 0]], [[0, 0]] * 3, [1, 1, 1], None)],
                 radii=(1, 5))
    assert set(m) == {'MRE_px', 'MRE_std_px', 'MRE_std_landmark_mean_px', 'SDR_1.0px', 'SDR_5.0px'}
    assert m['MRE_px'] == pytest.approx(5 / 3)
    assert m['SDR_1.0px'] == pytest.approx(2 / 3)


def test_mixed_spacing_is_an_error():
    gt = [[0, 0]] * 3
    with pytest.raises(ValueError, match='pixel_spacing is missing'):
        evaluate([sample(1, gt, gt, [1, 1, 1], [0.1, 0.1]), sample(2, gt, gt, [1, 1, 1], None)])


def test_dump_has_per_image_errors(tmp_path):
    gt = [[0, 0], [10, 10], [50, 50]]
    evaluate([sample(7, [[0, 10], [10, 10], [0, 0]], gt, [1, 1, 0], [0.1, 0.1])],
             outfile_prefix=str(tmp_path / 'run'))
    dump = json.load(open(tmp_path / 'run.predictions.json'))
    assert dump['unit'] == 'mm' and dump['keypoint_names'] == ['a', 'b', 'c']
    img = dump['images'][0]
    assert img['img_id'] == 7 and img['error'] == [1.0, 0.0, None] and img['gt'][2] is None


def test_clinical_scores_measurements_against_ground_truth(isbi_root):
    import os.path as osp

    from mmceph.clinical import MEASUREMENTS
    from mmceph.metainfo.isbi2015 import KEYPOINTS

    def points(i):
        with open(osp.join(isbi_root, 'AnnotationsByMD', '400_senior', f'{i:03d}.txt')) as f:
            return [[float(v) for v in line.split(',')] for line in f.read().split()[:19]]

    metric = CephalometricMetric(clinical=True)
    metric.dataset_meta = dict(keypoint_id2name=dict(enumerate(KEYPOINTS)), num_keypoints=19)
    gts = [points(i) for i in (1, 2, 3, 4)]
    # perfect predictions for 3 images; image 4 gets image 1's landmarks (different classes)
    preds = gts[:3] + [gts[0]]
    samples = [sample(i, p, g, [1] * 19, [0.1, 0.1]) for i, (p, g) in enumerate(zip(preds, gts))]
    metric.process([], samples)
    m = metric.compute_metrics(metric.results)
    assert m['MRE'] > 0
    for name in MEASUREMENTS:
        assert 0 <= m[f'{name}_success'] <= 1 and m[f'{name}_abs_err'] >= 0
    from mmceph.clinical import compare_measurements
    expected = compare_measurements(np.array(preds), np.array(gts), 0.1)
    assert m['ANB_abs_err'] == pytest.approx(expected['ANB']['mae'])
    assert m['SNA_success'] == pytest.approx(expected['SNA']['success_rate'])
    assert min(m[f'{n}_abs_err'] for n in MEASUREMENTS) >= 0 and any(
        m[f'{n}_abs_err'] > 0 for n in MEASUREMENTS)



def test_clinical_applies_by_landmark_names(isbi_root):
    """A 38-landmark CL-Detection set (ISBI's 19 first, its last 19 partly unlabelled)
    scores the measurements of its 19 ISBI points; the photographs' 19 facial points
    with a spacing are refused however many points they have."""
    import os.path as osp

    from mmceph.clinical import compare_measurements
    from mmceph.metainfo.cldetection2023 import KEYPOINTS as CL
    from mmceph.metainfo.lateral_photo import KEYPOINTS as PHOTO

    def points(i):
        with open(osp.join(isbi_root, 'AnnotationsByMD', '400_senior', f'{i:03d}.txt')) as f:
            return [[float(v) for v in line.split(',')] for line in f.read().split()[:19]]

    gts = [points(i) for i in (1, 2, 3)]
    preds = [gts[1], gts[0], gts[2]]
    extra = [[100.0 + k, 200.0] for k in range(19)]
    metric = CephalometricMetric(clinical=True)
    metric.dataset_meta = dict(keypoint_id2name=dict(enumerate(CL)), num_keypoints=38)
    metric.process([], [sample(i, p + extra, g + extra, [1] * 19 + [0] * 19, [0.1, 0.1])
                        for i, (p, g) in enumerate(zip(preds, gts))])
    m = metric.compute_metrics(metric.results)
    expected = compare_measurements(np.array(preds), np.array(gts), 0.1)
    assert m['ANB_abs_err'] == pytest.approx(expected['ANB']['mae']) and m['ANB_abs_err'] > 0
    assert m['FMA_success'] == pytest.approx(expected['FMA']['success_rate'])
    photo = CephalometricMetric(clinical=True)
    photo.dataset_meta = dict(keypoint_id2name=dict(enumerate(PHOTO)), num_keypoints=19)
    photo.process([], [sample(i, g, g, [1] * 19, [0.5, 0.5]) for i, g in enumerate(gts)])
    with pytest.raises(ValueError, match='19 ISBI landmarks \\(by name\\)'):
        photo.compute_metrics(photo.results)

def test_clinical_on_pixel_data_is_refused():
    metric = CephalometricMetric(clinical=True)
    metric.dataset_meta = META
    gt = [[0, 0]] * 3
    metric.process([], [sample(1, gt, gt, [1, 1, 1], None)])
    with pytest.raises(ValueError, match='clinical=True needs the 19 ISBI landmarks'):
        metric.compute_metrics(metric.results)


def test_errors_are_scaled_once_so_the_challenges_hits_stay_hits():
    """(7, 24) px is exactly 25 px: a hit at 2.5 mm at 0.1 mm/px in the challenge's
    script; scaling x and y first gives 2.5000000000000004 mm (a miss)."""
    from mmceph.evaluation.landmark_errors import hits, radial_errors, summarise
    gt = np.zeros((1, 3, 2))
    pred = np.array([[[7, 24], [18, 24], [24, 7.01]]], float)
    err = radial_errors(pred, gt, np.ones((1, 3)), np.array([[0.1, 0.1]]))
    assert err[0, 0] == 2.5 and err[0, 1] == 3.0
    assert hits(err[0, 0], 2.5) and hits(err[0, 1], 3.0) and not hits(err[0, 2], 2.5)
    assert summarise(err, (2.5,))['overall']['SDR'][2.5] == pytest.approx(1 / 3)
    # anisotropic spacing still scales each axis
    err = radial_errors(pred[:, :1], gt[:, :1], np.ones((1, 1)), np.array([[0.1, 0.2]]))
    assert err[0, 0] == pytest.approx(np.hypot(0.7, 4.8))


def test_two_standard_deviations_are_reported_and_differ():
    from mmceph.evaluation.landmark_errors import summarise
    errors = np.array([[1.0, 10.0], [3.0, 12.0]])        # two landmarks far apart
    s = summarise(errors, (2.0,))['overall']
    assert s['SD'] == pytest.approx(np.std(errors))                  # pooled
    assert s['SD_landmark_mean'] == pytest.approx(1.0)               # mean of 1.0 and 1.0
