"""tools/analysis_tools/ceph_report.py on small hand-made prediction dumps."""
import csv
import json
import math
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
from run_tool import run_tool

from mmceph.evaluation import report
from mmceph.formats.predictions import error_matrix
from mmceph.metainfo.cldetection2023 import KEYPOINTS as CL_KEYPOINTS
from mmceph.metainfo.isbi2015 import KEYPOINTS as ISBI_KEYPOINTS
from mmceph.metainfo.lateral_photo import KEYPOINTS as PHOTO_KEYPOINTS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'ceph_report.py')
OUTPUTS = ('per_landmark.md', 'per_landmark.csv', 'error_boxplot.png', 'sdr_curve.png',
           'worst_cases.csv')


def cli(argv):
    """The tool's command line, in this process; its exit status."""
    return run_tool('tools/analysis_tools/ceph_report.py', argv)


def write(path, obj):
    path.write_text(json.dumps(obj))
    return str(path)


def tiny_dump():
    """2 landmarks, 3 images; landmark 'a' is missing in image 3 (its error is null)."""
    def img(i, errs, gt_missing=()):
        return dict(img_id=i, img_path=f'img{i}.jpg', pixel_spacing=[0.1, 0.1],
                    pred=[[0, 0], [0, 0]],
                    gt=[None if k in gt_missing else [0, 0] for k in range(2)],
                    error=errs)
    return dict(keypoint_names=['a', 'b'], unit='mm', radii=[1.0, 2.0], images=[
        img(1, [0.5, 1.0]), img(2, [1.5, 3.0]), img(3, [None, 2.0], gt_missing=(0,))])


def isbi_dump(n_images=5, seed=0):
    """19 landmarks on a plausible face; image 4 lacks two ground-truth landmarks."""
    rng = np.random.default_rng(seed)
    face = np.array([[835, 996], [1473, 1029], [1289, 1279], [604, 1228], [1375, 1654],
                     [1386, 2019], [1333, 2200], [1263, 2272], [1305, 2252], [694, 1805],
                     [1460, 1870], [1450, 1864], [1588, 1753], [1569, 2013], [1514, 1620],
                     [1382, 2310], [944, 1506], [1436, 1569], [664, 1340]], float)
    images = []
    for i in range(n_images):
        gt = face + rng.normal(0, 15, face.shape)
        pred = gt + rng.normal(0, 20, face.shape)
        err = np.linalg.norm((pred - gt) * 0.1, axis=1)
        gt_list = [g.tolist() for g in gt]
        errs = err.tolist()
        if i == 3:
            for k in (4, 11):
                gt_list[k], errs[k] = None, None
        images.append(dict(img_id=i + 1, img_path=f'{i + 1:03d}.jpg',
                           pixel_spacing=[0.1, 0.1], pred=pred.tolist(), gt=gt_list,
                           error=errs))
    names = list(ISBI_KEYPOINTS)
    return dict(keypoint_names=names, unit='mm', radii=[2.0, 2.5, 3.0, 4.0], images=images)


def read_csv(path):
    with open(path, newline='') as f:
        return list(csv.reader(f))


def test_tiny_case_numbers_by_hand(tmp_path, capsys):
    out = tmp_path / 'out'
    assert cli([write(tmp_path / 'p.json', tiny_dump()), '--out-dir', str(out)]) == 0
    for name in OUTPUTS:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert not (out / 'clinical.md').exists()          # 2 landmarks: not ISBI
    printed = capsys.readouterr().out
    for name in OUTPUTS:
        assert str(out / name) in printed
    assert 'no clinical.md' in printed

    rows = read_csv(out / 'per_landmark.csv')
    assert rows[0] == ['landmark', 'n', 'MRE(mm)', 'SD(mm)', 'SDR@1mm(%)', 'SDR@2mm(%)']
    table = {r[0]: [float(x) for x in r[1:]] for r in rows[1:]}
    # a: errors 0.5, 1.5 (the missing one is not a zero): MRE 1, SD 0.5
    assert table['a'] == pytest.approx([2, 1.0, 0.5, 50.0, 100.0], abs=1e-3)
    # b: 1, 3, 2 -> SD sqrt(2/3); success is error <= r, so 1.0 counts at r = 1
    assert table['b'] == pytest.approx([3, 2.0, math.sqrt(2 / 3), 100 / 3, 200 / 3],
                                       abs=1e-2)
    # all: 0.5 1.5 1 3 2 -> MRE 1.6, SD sqrt(0.74)
    assert table['ALL'] == pytest.approx([5, 1.6, math.sqrt(0.74), 40.0, 80.0], abs=1e-3)

    worst = read_csv(out / 'worst_cases.csv')
    assert worst[0] == ['img_id', 'img_path', 'landmark', 'error(mm)']
    assert [(r[0], r[2], float(r[3])) for r in worst[1:]] == [
        ('2', 'b', 3.0), ('3', 'b', 2.0), ('2', 'a', 1.5), ('1', 'b', 1.0), ('1', 'a', 0.5)]
    md = (out / 'per_landmark.md').read_text()
    assert '| ALL | 5 | 1.600 |' in md


def test_missing_gt_is_excluded_even_with_an_error_value():
    dump = tiny_dump()
    dump['images'][2]['error'][0] = 0.0      # gt null but a stray 0.0 error
    errors = error_matrix(dump)
    assert np.isnan(errors[2, 0])
    stats = report.landmark_table(errors, ['a', 'b'], [1.0])[0][1]
    assert stats['n'] == 2 and stats['MRE'] == pytest.approx(1.0)


def test_stats_helpers():
    e = np.array([[1.0, np.nan], [3.0, 2.0]])
    np.testing.assert_allclose(report.sdr_curve(e, [0.5, 1.0, 2.0, 3.0]), [0, 1 / 3, 2 / 3, 1])
    assert report.landmark_table(np.array([[np.nan]]), ['x'], [2.0])[0][1]['n'] == 0
    assert len(report.worst_cases(dict(images=[dict(img_id=1), dict(img_id=2)],
                                       keypoint_names=['x', 'y']), e, top=2)) == 2


def test_isbi_dump_full_report(tmp_path):
    out = tmp_path / 'report'
    assert cli([write(tmp_path / 'p.json', isbi_dump()), '--out-dir', str(out)]) == 0
    for name in OUTPUTS + ('clinical.md',):
        assert (out / name).is_file(), name
    for png in ('error_boxplot.png', 'sdr_curve.png'):
        assert (out / png).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    rows = read_csv(out / 'per_landmark.csv')
    assert len(rows) == 1 + 19 + 1
    n = {r[0]: int(r[1]) for r in rows[1:]}
    assert n[ISBI_KEYPOINTS[4]] == n[ISBI_KEYPOINTS[11]] == 4 and n['sella'] == 5
    assert n['ALL'] == 5 * 19 - 2
    assert len(read_csv(out / 'worst_cases.csv')) == 1 + 20
    text = (out / 'clinical.md').read_text()
    assert '4 images; 1 skipped' in text
    for name in ('ANB', 'SNB', 'SNA', 'ODI', 'APDI', 'FHI', 'FMA', 'MW'):
        assert f'## {name}' in text


def test_clinical_summary_values():
    dump = isbi_dump()
    summary, reason = report.clinical_summary(dump)
    assert reason is None and summary['n_images'] == 4 and summary['n_skipped'] == 1
    mw = summary['measurements']['MW']
    assert mw['confusion'].shape == (4, 4) and mw['confusion'].sum() == 4
    assert summary['measurements']['SNA']['confusion'].shape == (3, 3)
    # predictions equal to the ground truth: no error, perfect score
    for img in dump['images']:
        img['pred'] = [g if g is not None else p for g, p in zip(img['gt'], img['pred'])]
    perfect, _ = report.clinical_summary(dump)
    for m in perfect['measurements'].values():
        assert m['mae'] == pytest.approx(0.0, abs=1e-9) and m['success_rate'] == 1.0
        assert np.trace(m['confusion']) == 4


def test_clinical_applies_by_names_not_by_count(tmp_path):
    """The photographs' 19 facial points (with a spacing) get no ISBI measurement; a
    38-landmark CL-Detection dump gets exactly the measurements of its 19 ISBI points."""
    photo = isbi_dump()
    photo['keypoint_names'] = list(PHOTO_KEYPOINTS)
    summary, reason = report.clinical_summary(photo)
    assert summary is None and 'do not include the 19 ISBI ones' in reason
    assert cli([write(tmp_path / 'photo.json', photo), '--out-dir',
                        str(tmp_path / 'photo')]) == 0
    assert not (tmp_path / 'photo' / 'clinical.md').exists()
    isbi = isbi_dump()
    cl = isbi_dump()
    cl['keypoint_names'] = list(CL_KEYPOINTS)
    rng = np.random.default_rng(1)
    for img in cl['images']:      # 19 more points; a missing one of them skips no image
        extra = rng.uniform(500, 1500, (19, 2)).tolist()
        img['pred'] = img['pred'] + extra
        img['gt'] = img['gt'] + [None] + extra[1:]
        img['error'] = img['error'] + [None] + [0.0] * 18
    want, _ = report.clinical_summary(isbi)
    got, reason = report.clinical_summary(cl)
    assert reason is None and got['n_images'] == want['n_images'] == 4
    for name, m in want['measurements'].items():
        assert got['measurements'][name]['mae'] == m['mae']
        assert (got['measurements'][name]['confusion'] == m['confusion']).all()


def test_pixel_spacing_option_has_the_common_bounds(tmp_path, capsys):
    dump = write(tmp_path / 'p.json', isbi_dump())
    for value in ('0.009', '5.01'):
        assert cli([dump, '--out-dir', str(tmp_path / 'r'), '--pixel-spacing', value]) == 2
        assert 'between 0.01 and 5' in capsys.readouterr().err
    assert cli([dump, '--out-dir', str(tmp_path / 'r'), '--pixel-spacing', '5']) == 0


def test_clinical_needs_spacing(tmp_path):
    dump = isbi_dump()
    for img in dump['images']:
        img['pixel_spacing'] = None
    summary, reason = report.clinical_summary(dump)
    assert summary is None and '--pixel-spacing' in reason
    summary, _ = report.clinical_summary(dump, default_spacing=0.1)
    assert summary['n_images'] == 4


def test_subprocess_run(tmp_path):
    out = tmp_path / 'sub'
    proc = subprocess.run([sys.executable, TOOL, write(tmp_path / 'p.json', isbi_dump(3)),
                           '--out-dir', str(out)], capture_output=True, text=True,
                          cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr
    for name in OUTPUTS + ('clinical.md',):
        assert (out / name).is_file() and str(out / name) in proc.stdout


@pytest.mark.parametrize('content, match', [
    ('{"keypoint_names": [', 'not a readable JSON'),
    ('[1, 2]', 'top level'),
    ('{"keypoint_names": ["a"], "unit": "mm", "images": [{"pred": [], "gt": [], '
     '"error": []}]}', 'images\\[0\\]\\["pred"\\]'),
    ('{"keypoint_names": ["a"], "unit": "mm", "radii": [], "images": [{"pred": [[0, 0]], '
     '"gt": [null], "error": [null]}]}', 'radii'),
])
def test_bad_json_exits_2_naming_the_file(tmp_path, capsys, content, match):
    path = tmp_path / 'broken.json'
    path.write_text(content)
    assert cli([str(path), '--out-dir', str(tmp_path / 'o')]) == 2
    err = capsys.readouterr().err
    assert str(path) in err
    assert re.search(match, err)
    assert not (tmp_path / 'o').exists()


def test_missing_file_exits_2(tmp_path, capsys):
    missing = str(tmp_path / 'nope.json')
    assert cli([missing, '--out-dir', str(tmp_path / 'o')]) == 2
    assert missing in capsys.readouterr().err


def test_help_explains(capsys):
    assert cli(['--help']) == 0
    text = capsys.readouterr().out
    assert '--out-dir' in text and 'predictions' in text
