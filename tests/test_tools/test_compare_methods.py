"""compare_methods.py and pick_refined_landmarks.py: training time from MMEngine logs,
rescoring against another reference, the refined subsets, and the argument checks."""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from mmceph.engine.run_logs import training_time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def write_log(path, stamps):
    path.parent.mkdir(parents=True)
    path.write_text(''.join(f'{s} - mmengine - INFO - Epoch(train) ...\n' for s in stamps)
                    + 'a line without a time stamp\n')


def test_training_time_sums_resumed_runs_and_reads_the_last_epoch(tmp_path):
    write_log(tmp_path / '20261123_100000' / '20261123_100000.log',
              ['2026/11/23 10:00:00', '2026/11/23 10:30:30'])
    write_log(tmp_path / '20261123_110000' / '20261123_110000.log',
              ['2026/11/23 11:00:00', '2026/11/23 11:15:00'])
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_42.pth'))
    minutes, epochs = training_time(str(tmp_path))
    assert minutes == pytest.approx(45.5)
    assert epochs == 42


def test_training_time_of_an_empty_dir_is_zero(tmp_path):
    assert training_time(str(tmp_path)) == (0.0, None)


def test_bad_run_spec_is_refused_with_the_expected_form(tmp_path):
    script = osp.join(REPO, 'tools/analysis_tools/compare_methods.py')
    proc = subprocess.run([sys.executable, script,
                           f'S2D=missing.py:{tmp_path}'], capture_output=True, text=True)
    assert proc.returncode == 2
    assert 'NAME=CONFIG:WORK_DIR' in proc.stderr


def test_a_missing_second_reference_is_refused(tmp_path):
    script = osp.join(REPO, 'tools/analysis_tools/compare_methods.py')
    proc = subprocess.run([sys.executable, script, f'S2D=missing.py:{tmp_path}',
                           '--also-against', f'mean={tmp_path / "none.json"}'],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert 'NAME=ANN.json with an existing annotation file' in proc.stderr


def test_rescore_against_another_reference(tmp_path):
    """The same predictions scored against another annotation of the same images."""
    import json

    from data_converters.writer.coco import ImageRecord, to_coco
    from mmceph.evaluation.rescore import rescore
    names = [f'p{i}' for i in range(3)]
    gt = np.array([[10.0, 10.0], [20.0, 20.0], [30.0, 30.0]])
    doc = to_coco([ImageRecord('RawImage/Test1Data/151.jpg', 100, 100, gt, (0.1, 0.1), 'x')],
                  names)
    ann = tmp_path / 'mean.json'
    ann.write_text(json.dumps(doc))
    pred = gt + [[7, 24], [0, 0], [30, 40]]            # 2.5 mm, 0 mm, 5 mm
    dump = dict(keypoint_names=names, images=[dict(
        img_path='data/isbi2015/raw/RawImage/Test1Data/151.jpg', pred=pred.tolist())])
    mre, sdr = rescore(dump, str(ann))
    assert mre == pytest.approx(2.5)
    assert sdr == pytest.approx([1 / 3, 2 / 3, 2 / 3, 2 / 3])   # 2.5 mm is a hit at 2.5


def test_refined_subsets_follow_the_gain_and_respect_the_budget():
    from mmceph.evaluation.refine_subset import subsets_by_gain
    coarse = np.array([[2.0, 1.0, 3.0, 1.0], [2.0, 1.0, 5.0, np.nan]])
    refined = np.array([[1.0, 1.5, 1.0, 0.5], [1.0, 1.5, 1.0, np.nan]])
    # gains: 1.0, -0.5, 3.0, 0.5 -> order 2, 0, 3, 1
    gain, order, rows, best = subsets_by_gain(coarse, refined, base=1.0, per_landmark=0.5,
                                              budget=2.0)
    assert gain == pytest.approx([1.0, -0.5, 3.0, 0.5])
    assert order == [2, 0, 3, 1]
    assert [n for n, _, _ in rows] == [0, 1, 2, 3, 4]
    assert rows[0][1] == pytest.approx(np.nanmean(coarse))
    assert rows[4][1] == pytest.approx(np.nanmean(refined))
    assert rows[2][2] == pytest.approx(2.0) and best == 2          # 2 landmarks fit
    # an unlimited budget still stops before the landmark the refiner makes worse
    unlimited = subsets_by_gain(coarse, refined, 1.0, 0.5, budget=100)[3]
    assert unlimited == 3
    assert subsets_by_gain(coarse, refined, 3.0, 0.5, budget=2.0)[3] is None
