"""CephalometricMetric: hand-computed MRE/SD/SDR with per-image spacings, missing points."""
import contextlib
import json
import logging

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


@contextlib.contextmanager
def logged():
    """The messages MMEngine's current logger writes while inside (what a user reads in
    the training log)."""
    from mmengine.logging import MMLogger
    lines = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())
    logger = MMLogger.get_current_instance()
    handler = Keep(level=logging.DEBUG)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


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
    # expected values by another route: the classes are the labels stored in the files
    # (gt: images 1-4; predicted: 1, 2, 3 and 1 again), the errors one image's measurement
    # difference over four images
    from mmceph.clinical import measure

    def labels(i):
        with open(osp.join(isbi_root, 'AnnotationsByMD', '400_senior', f'{i:03d}.txt')) as f:
            return [int(v) for v in f.read().split()[19:27]]
    gt_cls = np.array([labels(i) for i in (1, 2, 3, 4)])
    pred_cls = np.array([labels(i) for i in (1, 2, 3, 1)])
    m1, m4 = measure(np.array(gts[0])), measure(np.array(gts[3]))
    for j, name in enumerate(MEASUREMENTS):
        recalls = [np.mean(pred_cls[gt_cls[:, j] == c, j] == c) for c in set(gt_cls[:, j])]
        assert m[f'{name}_success'] == pytest.approx(np.mean(recalls)), name
        assert m[f'{name}_abs_err'] == pytest.approx(abs(m1[name] - m4[name]) / 4), name
    assert (gt_cls[3] != gt_cls[0]).any()             # image 4 really is misclassified



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


def test_clinical_scores_by_hand_on_constructed_geometry():
    """No data needed: 19 constructed landmarks, MW 3.0 mm in the ground truth, predicted
    5.0 mm (+2: misclassified 1 -> 4), 1.0 mm (-2: 1 -> 3) and exact. Opposite errors
    must not cancel (MAE 4/3 mm); an image with a missing ground-truth landmark is left
    out of the clinical scores (it would add a third correct class otherwise)."""
    from test_clinical import face, put

    from mmceph.clinical import MEASUREMENTS
    from mmceph.metainfo.isbi2015 import KEYPOINTS
    gt = put(face(), L11=(800.0, 1500.0), L12=(830.0, 1500.0))
    preds = [put(gt.copy(), L12=(850.0, 1500.0)), put(gt.copy(), L12=(810.0, 1500.0)), gt,
             gt]
    visible = [[1] * 19] * 3 + [[1] * 18 + [0]]
    metric = CephalometricMetric(clinical=True)
    metric.dataset_meta = dict(keypoint_id2name=dict(enumerate(KEYPOINTS)), num_keypoints=19)
    metric.process([], [sample(i, p, gt, v, [0.1, 0.1])
                        for i, (p, v) in enumerate(zip(preds, visible))])
    with logged() as lines:
        m = metric.compute_metrics(metric.results)
    assert m['MW_abs_err'] == pytest.approx(4 / 3, abs=1e-9)
    assert m['MW_success'] == pytest.approx(1 / 3)
    clinical_line, = [ln for ln in lines if ln.startswith('clinical measurements (3 images)')]
    assert 'ANB |err| 0.00 success 100.0%, ' in clinical_line
    assert clinical_line.endswith('MW |err| 1.33 success 33.3%')
    # at 0.2 mm per pixel every MW error doubles: the images' own spacing is used
    metric.results = [dict(r, spacing=[0.2, 0.2]) for r in metric.results]
    assert metric.compute_metrics(metric.results)['MW_abs_err'] == \
        pytest.approx(8 / 3, abs=1e-9)
    for name in MEASUREMENTS:
        if name != 'MW':
            assert m[f'{name}_abs_err'] == 0.0 and m[f'{name}_success'] == 1.0, name


# --- found by mutation testing (docs/mutation.md) -----------------------------------

def test_a_hit_is_within_one_billionth_of_the_radius():
    """The 1e-9 relative tolerance absorbs the float rounding of scaling, nothing more."""
    from mmceph.evaluation.landmark_errors import hits
    assert hits(2.0 * (1 + 5e-10), 2.0) and not hits(2.0 * (1 + 2e-9), 2.0)
    assert hits(0.0, 2.0) and not hits(np.nan, 2.0)


def test_summary_of_a_landmark_never_labelled():
    """A landmark missing in every image has no statistics (NaN, n 0), and it neither
    counts in the pooled ones nor in the mean of the per-landmark SDs."""
    from mmceph.evaluation.landmark_errors import summarise
    errors = np.array([[1.0, np.nan, 2.0], [3.0, np.nan, 2.0]])
    s = summarise(errors, (1.5, 2.0))
    empty = s['per_landmark'][1]
    assert empty['n'] == 0 and np.isnan(empty['MRE']) and np.isnan(empty['SD'])
    assert np.isnan(empty['SDR'][1.5]) and list(empty['SDR']) == [1.5, 2.0]
    first = s['per_landmark'][0]
    assert first == dict(n=2, MRE=2.0, SD=1.0, SDR={1.5: 0.5, 2.0: 0.5})
    overall = s['overall']
    assert overall['n'] == 4 and overall['MRE'] == 2.0
    assert overall['SD'] == pytest.approx(np.std([1, 3, 2, 2]))
    assert overall['SDR'] == {1.5: 0.25, 2.0: 0.75}
    assert overall['SD_landmark_mean'] == 0.5                 # (1 + 0) / 2, not / 3
    nothing = summarise(np.full((2, 1), np.nan), (2.0,))['overall']
    assert nothing['n'] == 0 and np.isnan(nothing['SD_landmark_mean'])


def test_radial_errors_in_pixels_and_missing_points():
    from mmceph.evaluation.landmark_errors import radial_errors
    pred = np.array([[[3.0, 4.0], [1.0, 1.0]]])
    err = radial_errors(pred, np.zeros((1, 2, 2)), np.array([[1, 0]]))
    assert err[0, 0] == 5.0 and np.isnan(err[0, 1])
    # per-image spacing: the second image is twice as coarse
    err = radial_errors(np.concatenate([pred, pred]), np.zeros((2, 2, 2)), np.ones((2, 2)),
                        np.array([[0.1, 0.1], [0.2, 0.2]]))
    assert err[:, 0].tolist() == [0.5, 1.0]


def test_per_landmark_table_for_the_log():
    from mmceph.evaluation.landmark_errors import format_table, summarise
    s = summarise(np.array([[1.0, 3.0], [2.0, 5.0]]), (2.0, 2.5))
    table = format_table(s, ['sella', 'nasion'], (2.0, 2.5)).splitlines()
    assert table[0] == ('landmark                      n     MRE      SD     SDR2mm   '
                        'SDR2.5mm')
    assert table[1] == '-' * len(table[0])
    assert table[2] == 'sella                         2   1.500   0.500     100.0%     100.0%'
    assert table[3] == 'nasion                        2   4.000   1.000       0.0%       0.0%'
    assert table[4] == 'ALL                           4   2.750   1.479      50.0%      50.0%'
    assert format_table(s, ['a', 'b'], (2.0,), unit='px').splitlines()[0].endswith('SDR2px')


def test_dump_records_what_the_report_reads(tmp_path):
    """The dump is ceph_report.py's input: rounded predictions and scores, the spacing,
    the unit, the radii and the reference annotation, images in id order."""
    metric = CephalometricMetric(radii=(2.0, 3.0), outfile_prefix=str(tmp_path / 'run'))
    metric.dataset_meta = dict(META, reference='senior')
    gt = [[0, 0], [10.12345, 10], [50, 50]]
    one = sample(9, [[0.12345, 10], [10, 10], [0, 0]], gt, [1, 1, 1], [0.1, 0.1])
    one['pred_instances']['keypoint_scores'] = np.array([[0.123456, 1.0, 0.5]])
    metric.process([], [one, sample(3, gt, gt, [1, 1, 1], [0.1, 0.1])])
    with logged() as lines:
        metric.compute_metrics(metric.results)
    assert f'per-image predictions written to {tmp_path / "run.predictions.json"}' in lines
    text = (tmp_path / 'run.predictions.json').read_text()
    assert text.splitlines()[1].startswith(' "keypoint_names"')      # indent 1: diff-able
    dump = json.loads(text)
    assert dump['images'][1]['gt'][1] == [10.123, 10.0]
    assert dump['images'][1]['error'][1] == round(0.012345, 4)       # 0.0123 mm
    assert dump['radii'] == [2.0, 3.0] and dump['reference'] == 'senior'
    assert [img['img_id'] for img in dump['images']] == [3, 9]
    img = dump['images'][1]
    assert img['pred'][0] == [0.123, 10.0] and img['scores'] == [0.1235, 1.0, 0.5]
    assert img['pixel_spacing'] == [0.1, 0.1] and img['img_path'] == '9.png'
    assert img['gt'][0] == [0.0, 0.0] and img['error'][0] == pytest.approx(1.0, abs=1e-4)


def test_without_dataset_meta_names_are_indices(tmp_path):
    metric = CephalometricMetric(outfile_prefix=str(tmp_path / 'run'))
    gt = [[0, 0]] * 3
    metric.process([], [sample(1, gt, gt, [1, 1, 1], None)])
    metric.compute_metrics(metric.results)
    dump = json.load(open(tmp_path / 'run.predictions.json'))
    assert dump['keypoint_names'] == ['0', '1', '2'] and dump['unit'] == 'px'
    assert dump['reference'] == 'unknown'


def test_mixed_spacing_names_the_images_without_one():
    gt = [[0, 0]] * 3
    samples = [sample(i, gt, gt, [1, 1, 1], None if i % 2 else [0.1, 0.1]) for i in range(10)]
    with pytest.raises(ValueError, match=r"e\.g\. \['1\.png', '3\.png', '5\.png'\]\) but "
                                         'present for others'):
        evaluate(samples)


def test_clinical_scores_skipped_when_they_cannot_be_computed():
    """No image with all 19 landmarks labelled, or landmarks that put a line's two ends
    together (an untrained model): the MRE is still reported, no clinical keys."""
    from test_clinical import face

    from mmceph.metainfo.isbi2015 import KEYPOINTS
    metric = CephalometricMetric(clinical=True)
    metric.dataset_meta = dict(keypoint_id2name=dict(enumerate(KEYPOINTS)), num_keypoints=19)
    gt = face()
    metric.process([], [sample(1, gt, gt, [1] * 18 + [0], [0.1, 0.1])])
    with logged() as lines:
        m = metric.compute_metrics(metric.results)
    assert m['MRE'] == 0.0 and not any(k.endswith('_success') for k in m)
    assert 'clinical measurements skipped: no image has all 19 ground-truth landmarks' in lines
    together = gt.copy()
    together[1] = together[0]                                 # N on S
    metric.results = []
    metric.process([], [sample(1, together, gt, [1] * 19, [0.1, 0.1])])
    with logged() as lines:
        m = metric.compute_metrics(metric.results)
    assert m['MRE'] > 0 and not any(k.endswith('_abs_err') for k in m)
    assert 'clinical measurements skipped: two landmarks that define a line coincide: ' \
        'angle undefined' in lines


@pytest.mark.parametrize('landmarks, spacing, isbi_names', [
    (19, None, True), (3, [0.1, 0.1], False), (19, [0.1, 0.1], False)])
def test_clinical_needs_both_19_landmarks_and_a_spacing(landmarks, spacing, isbi_names):
    from mmceph.metainfo.isbi2015 import dataset_info
    names = ([kp['name'] for kp in dataset_info['keypoint_info'].values()] if isbi_names
             else [str(k) for k in range(landmarks)])
    metric = CephalometricMetric(clinical=True)
    metric.dataset_meta = dict(keypoint_id2name=dict(enumerate(names)),
                               num_keypoints=landmarks)
    gt = [[float(k), 2.0 * k] for k in range(landmarks)]
    metric.process([], [sample(1, gt, gt, [1] * landmarks, spacing)])
    with pytest.raises(ValueError, match=r'^clinical=True needs the 19 ISBI landmarks \(by name\) '
                                         'and a pixel spacing$'):
        metric.compute_metrics(metric.results)


def test_one_labelled_error_has_statistics():
    from mmceph.evaluation.landmark_errors import summarise
    s = summarise(np.array([[1.5, np.nan]]), (2.0,))['per_landmark'][0]
    assert s == dict(n=1, MRE=1.5, SD=0.0, SDR={2.0: 1.0})
