"""WebCeph2k converter on small generated CSVs and images."""
import csv
import json
import os
import os.path as osp

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from data_converters.__main__ import main
from data_converters.landmarks import load

NAMES = load('webceph2k').CSV_NAMES
HEADER = ['img_path', 'pixels'] + [f'{n}_{c}' for n in NAMES for c in 'vxy']


def make_row(img_path, spacing, pts, vis):
    row = [img_path, spacing]
    for (x, y), v in zip(pts, vis):
        row += [v, x, y]
    return row


def make_webceph(root, seed=0):
    """Images of two sizes and two spacings, with missing points given three ways.

    Returns ``{split: [(file_name, spacing, expected points with NaN = missing)]}``.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(root / 'csv')
    os.makedirs(root / 'img' / 'sub')
    plan = {('Train.csv', 'train'): [('sub/a.png', 0.1, (64, 80)), ('b.jpg', 0.125, (80, 64))],
            ('valid.csv', 'valid'): [('c.png', 0.1, (64, 80))],
            ('TEST_set.csv', 'test'): [('d.png', 0.125, (80, 64))]}
    expected = {}
    for (csv_name, split), images in plan.items():
        rows, exp = [], []
        for rel, spacing, (w, h) in images:
            pixels = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / 'img' / rel)
            pts = rng.uniform(1, min(w, h) - 2, (26, 2)).round(2)
            vis = np.ones(26, int)
            truth = pts.copy()
            vis[3] = 0                     # missing by visibility (coordinates still given)
            truth[3] = np.nan
            pts[5, 1] = 0                  # missing by y <= 0
            truth[5] = np.nan
            pts[7] = [-1, -1]
            truth[7] = np.nan
            rows.append(make_row(rel, spacing, pts, vis))
            exp.append((rel, spacing, truth))
        with open(root / 'csv' / csv_name, 'w', newline='') as f:
            csv.writer(f).writerows([HEADER] + rows)
        expected[split] = exp
    return expected


def run(root, out, *extra):
    return main(['webceph2k', '--csv-dir', str(root / 'csv'), '--image-root', str(root / 'img'),
                 '--out', str(out), *extra])


def load_split(out, split):
    with open(osp.join(out, 'annotations', f'{split}.json')) as f:
        return json.load(f)


def assert_no_output(out):
    assert not osp.exists(osp.join(out, 'annotations'))
    assert not osp.exists(osp.join(out, 'roi_prior.json'))


def test_points_missing_points_and_spacings(tmp_path, capsys):
    expected = make_webceph(tmp_path)
    assert run(tmp_path, tmp_path / 'out') == 0
    written = sorted(os.listdir(tmp_path / 'out' / 'annotations'))
    assert written == ['test.json', 'train.json', 'valid.json']
    for split, rows in expected.items():
        doc = load_split(tmp_path / 'out', split)
        assert [i['file_name'] for i in doc['images']] == [r[0] for r in rows]
        for img, ann, (rel, spacing, truth) in zip(doc['images'], doc['annotations'], rows):
            assert img['pixel_spacing'] == [spacing, spacing]
            assert img['source'] == 'webceph2k'
            w, h = Image.open(tmp_path / 'img' / rel).size
            assert (img['width'], img['height']) == (w, h)
            kp = np.array(ann['keypoints']).reshape(26, 3)
            missing = np.isnan(truth[:, 0])
            assert (kp[missing] == 0).all()                  # written [0, 0, 0], never invented
            assert (kp[~missing, 2] == 2).all()
            np.testing.assert_allclose(kp[~missing, :2], truth[~missing])
            assert ann['num_keypoints'] == 23
    out = capsys.readouterr().out
    assert '12 missing points' in out and '0.1x0.1' in out and '0.125x0.125' in out


def test_loads_with_xtcocotools_and_roi_ignores_missing(tmp_path):
    from xtcocotools.coco import COCO
    make_webceph(tmp_path)
    assert run(tmp_path, tmp_path / 'out', '--roi-margin', '0') == 0
    coco = COCO(str(tmp_path / 'out' / 'annotations' / 'train.json'))
    assert len(coco.getImgIds()) == 2 and len(coco.loadCats(1)[0]['keypoints']) == 26
    for ann in coco.loadAnns(coco.getAnnIds()):
        x, y, w, h = ann['bbox']
        assert x > 0 and y > 0     # missing points (at 0 or -1) would have pulled it to 0
        kp = np.array(ann['keypoints']).reshape(-1, 3)
        kp = kp[kp[:, 2] > 0]
        assert (kp[:, 0] >= x).all() and (kp[:, 0] <= x + w).all()
        assert (kp[:, 1] >= y).all() and (kp[:, 1] <= y + h).all()


def test_image_found_under_another_extension(tmp_path):
    make_webceph(tmp_path)
    path = tmp_path / 'csv' / 'valid.csv'
    path.write_text(path.read_text().replace('c.png', 'c.bmp'))
    assert run(tmp_path, tmp_path / 'out') == 0
    assert load_split(tmp_path / 'out', 'valid')['images'][0]['file_name'] == 'c.png'


def test_help_documents_accepted_csv_names(capsys):
    with pytest.raises(SystemExit):
        main(['webceph2k', '--help'])
    text = capsys.readouterr().out
    assert 'train*.csv' in text and 'val*.csv' in text and 'test*.csv' in text


# ------------------------------------------------------------------- bad input
def bad(tmp_path, capsys):
    rc = run(tmp_path, tmp_path / 'out')
    assert rc == 2
    assert_no_output(tmp_path / 'out')
    return capsys.readouterr().err.strip().splitlines()[-1]


def rewrite(path, line, column, value):
    """Set one cell: ``line`` is the 1-based line of the CSV file."""
    with open(path, newline='') as f:
        rows = list(csv.reader(f))
    rows[line - 1][HEADER.index(column)] = value
    with open(path, 'w', newline='') as f:
        csv.writer(f).writerows(rows)


def test_missing_columns_are_listed(tmp_path, capsys):
    make_webceph(tmp_path)
    path = tmp_path / 'csv' / 'valid.csv'
    df = pd.read_csv(path)
    df.drop(columns=['pixels', 'GONION U_x']).to_csv(path, index=False)
    msg = bad(tmp_path, capsys)
    assert 'valid.csv:1' in msg and 'PIXELS' in msg and 'GONION U_X' in msg


def test_non_numeric_value_names_line_and_column(tmp_path, capsys):
    make_webceph(tmp_path)
    rewrite(tmp_path / 'csv' / 'Train.csv', 3, 'MENTON_x', 'abc')
    msg = bad(tmp_path, capsys)
    assert 'Train.csv:3' in msg and 'MENTON_x' in msg and "'abc'" in msg


def test_bad_spacing(tmp_path, capsys):
    make_webceph(tmp_path)
    rewrite(tmp_path / 'csv' / 'TEST_set.csv', 2, 'pixels', '0')
    msg = bad(tmp_path, capsys)
    assert 'TEST_set.csv:2' in msg and 'spacing' in msg


def test_missing_image(tmp_path, capsys):
    make_webceph(tmp_path)
    os.unlink(tmp_path / 'img' / 'b.jpg')
    msg = bad(tmp_path, capsys)
    assert 'b.jpg' in msg and 'not found' in msg


def test_truncated_image(tmp_path, capsys):
    make_webceph(tmp_path)
    path = tmp_path / 'img' / 'sub' / 'a.png'
    path.write_bytes(path.read_bytes()[:200])
    msg = bad(tmp_path, capsys)
    assert 'a.png' in msg and 'truncated' in msg


def test_landmark_outside_image(tmp_path, capsys):
    make_webceph(tmp_path)
    rewrite(tmp_path / 'csv' / 'valid.csv', 2, 'SELLA_x', '64.5')
    msg = bad(tmp_path, capsys)
    assert 'valid.csv:2' in msg and 'landmark 1' in msg and 'outside' in msg


def test_two_csvs_for_one_split(tmp_path, capsys):
    make_webceph(tmp_path)
    (tmp_path / 'csv' / 'train_old.csv').write_text(','.join(HEADER) + '\n')
    msg = bad(tmp_path, capsys)
    assert 'Train.csv' in msg and 'train_old.csv' in msg


def test_no_csv(tmp_path, capsys):
    os.makedirs(tmp_path / 'csv')
    os.makedirs(tmp_path / 'img')
    msg = bad(tmp_path, capsys)
    assert 'csv' in msg and 'no train*.csv' in msg


def test_ambiguous_image_extension_is_refused(tmp_path, capsys):
    make_webceph(tmp_path)
    path = tmp_path / 'csv' / 'valid.csv'
    path.write_text(path.read_text().replace('c.png', 'c.bmp'))
    Image.open(tmp_path / 'img' / 'c.png').save(tmp_path / 'img' / 'c.jpg')
    msg = bad(tmp_path, capsys)
    assert 'c.bmp' in msg and 'c.jpg, c.png' in msg


# ------------------------------------------------------- the release as it really is
def make_release(tmp_path):
    """data/Github_csv/{TrainingData,ValidData,TestData}.csv with img_path written the three
    ways the release does, images in data/images/."""
    data = tmp_path / 'data'
    os.makedirs(data / 'Github_csv')
    os.makedirs(data / 'images')
    rng = np.random.default_rng(1)
    forms = ['/images/{}', './images/{}', '{}']
    plan = {'TrainingData.csv': [('t1.jpg', (64, 80)), ('t2.jpg', (96, 72)), ('t3.png', (64, 80))],
            'ValidData.csv': [('v1.jpg', (64, 80))], 'TestData.csv': [('s1.png', (96, 72))]}
    for csv_name, images in plan.items():
        rows = []
        for i, (name, (w, h)) in enumerate(images):
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
                data / 'images' / name)
            pts = rng.uniform(2, min(w, h) - 3, (26, 2)).round(1)
            rows.append(make_row(forms[i % 3].format(name), 0.1, pts, np.ones(26, int)))
        with open(data / 'Github_csv' / csv_name, 'w', newline='') as f:
            csv.writer(f).writerows([HEADER] + rows)
    return data


def run_release(data, out, image_root, *extra):
    return main(['webceph2k', '--csv-dir', str(data / 'Github_csv'), '--image-root',
                 str(image_root), '--out', str(out), *extra])


@pytest.mark.parametrize('root_name', ['data', 'data/images'])
def test_release_img_paths_with_either_image_root(tmp_path, root_name):
    data = make_release(tmp_path)
    assert run_release(data, tmp_path / 'out', tmp_path / root_name) == 0
    doc = load_split(tmp_path / 'out', 'train')
    prefix = 'images/' if root_name == 'data' else ''
    # '/images/t1.jpg' and './images/t2.jpg' and the bare 't3.png' all resolve
    assert [i['file_name'] for i in doc['images']] == [f'{prefix}t1.jpg', f'{prefix}t2.jpg',
                                                       f'{prefix}t3.png']
    assert doc['info']['reference'] == 'released'


def test_missing_release_image_lists_paths_tried(tmp_path, capsys):
    data = make_release(tmp_path)
    os.unlink(data / 'images' / 'v1.jpg')
    assert run_release(data, tmp_path / 'out', data) == 2
    msg = capsys.readouterr().err.strip().splitlines()[-1]
    assert 'ValidData.csv:2' in msg and 'tried' in msg
    assert osp.join(str(data), 'images', 'v1.jpg') in msg and osp.join(str(data), 'v1.jpg') in msg


def roi_copy(src, dst, marker=None):
    """What GetROI_before_train.py writes: scale, center_w, center_h after img_path."""
    df = pd.read_csv(src)
    for i, col in enumerate(['scale', 'center_w', 'center_h']):
        df.insert(1 + i, col, 1.0)
    if marker is not None:
        df['SELLA_x'] = marker
    df.to_csv(dst, index=False)


def test_raw_csv_wins_over_its_roi_copy_and_says_so(tmp_path, capsys):
    data = make_release(tmp_path)
    csvs = data / 'Github_csv'
    for name in ('TrainingData', 'ValidData', 'TestData'):
        roi_copy(csvs / f'{name}.csv', csvs / f'{name}_roi.csv', marker=5.0)
    assert run_release(data, tmp_path / 'out', data) == 0
    out = capsys.readouterr().out
    assert 'using TrainingData.csv' in out and 'ignoring TrainingData_roi.csv' in out
    kp = np.array(load_split(tmp_path / 'out', 'train')['annotations'][0]['keypoints'])
    raw = pd.read_csv(csvs / 'TrainingData.csv')
    assert kp[0] == pytest.approx(raw['SELLA_x'][0]) and kp[0] != 5.0


def test_roi_csv_alone_converts(tmp_path):
    data = make_release(tmp_path)
    csvs = data / 'Github_csv'
    roi_copy(csvs / 'TrainingData.csv', csvs / 'TrainingData_roi.csv')
    os.unlink(csvs / 'TrainingData.csv')
    assert run_release(data, tmp_path / 'out', data) == 0
    assert len(load_split(tmp_path / 'out', 'train')['images']) == 3


def test_every_outside_landmark_is_reported_then_dropped(tmp_path, capsys):
    data = make_release(tmp_path)
    rewrite(data / 'Github_csv' / 'TrainingData.csv', 2, 'SELLA_x', '500')
    rewrite(data / 'Github_csv' / 'TrainingData.csv', 3, 'MENTON_y', '-7')   # y<=0: missing
    rewrite(data / 'Github_csv' / 'TrainingData.csv', 3, 'NASION_y', '900')
    rewrite(data / 'Github_csv' / 'TestData.csv', 2, 'ANS_x', '-3')
    assert run_release(data, tmp_path / 'out', data) == 2
    msg = capsys.readouterr().err.strip().splitlines()[-1]
    assert '3 landmark(s)' in msg
    assert 'TrainingData.csv:2 landmark 1 SELLA' in msg
    assert 'TrainingData.csv:3 landmark 2 NASION' in msg and 'TestData.csv:2 landmark 24 ANS' in msg
    assert not osp.exists(tmp_path / 'out')
    assert run_release(data, tmp_path / 'out', data, '--outside', 'drop') == 0
    assert '3 landmark(s) outside their image written as missing' in capsys.readouterr().out
    kp = np.array(load_split(tmp_path / 'out', 'train')['annotations'][0]['keypoints'])
    assert list(kp[:3]) == [0, 0, 0]          # v=0, not moved inside
    kp = np.array(load_split(tmp_path / 'out', 'test')['annotations'][0]['keypoints'])
    assert list(kp[23 * 3:24 * 3]) == [0, 0, 0]


def test_upstream_roi_is_absolute_pixels_clipped_per_image(tmp_path):
    data = make_release(tmp_path)
    assert run_release(data, tmp_path / 'out', data, '--roi', 'upstream',
                       '--roi-margin-px', '4') == 0
    with open(tmp_path / 'out' / 'roi_upstream.json') as f:
        roi = json.load(f)['roi_xyxy_pixels']
    assert not osp.exists(tmp_path / 'out' / 'roi_prior.json')
    train = load_split(tmp_path / 'out', 'train')
    pts = np.concatenate([np.array(a['keypoints']).reshape(-1, 3)[:, :2]
                          for a in train['annotations']])
    assert roi[0] == np.trunc(pts[:, 0]).min() - 4 and roi[3] == np.trunc(pts[:, 1]).max() + 4
    for img, ann in zip(train['images'] + load_split(tmp_path / 'out', 'test')['images'],
                        train['annotations'] + load_split(tmp_path / 'out', 'test')['annotations']):
        x, y, w, h = ann['bbox']
        assert x >= 0 and y >= 0 and x + w <= img['width'] and y + h <= img['height']
        assert x + w == pytest.approx(min(roi[2], img['width']))   # same pixels, any size
    # back to the normalised prior: the stale upstream file goes
    assert run_release(data, tmp_path / 'out', data) == 0
    assert osp.exists(tmp_path / 'out' / 'roi_prior.json')
    assert not osp.exists(tmp_path / 'out' / 'roi_upstream.json')


def test_repeated_image_row_is_reported_with_rows(tmp_path, capsys):
    data = make_release(tmp_path)
    path = data / 'Github_csv' / 'TrainingData.csv'
    lines = path.read_text().splitlines()
    path.write_text('\n'.join(lines + [lines[1]]) + '\n')      # row of t1.jpg again
    assert run_release(data, tmp_path / 'out', data) == 0
    err = capsys.readouterr().err
    line = [ln for ln in err.splitlines() if 'listed 2 times' in ln]
    assert len(line) == 1 and 'TrainingData.csv: rows 2, 5' in line[0]
    assert 'images/t1.jpg listed 2 times in the train split' in line[0]
    assert len(load_split(tmp_path / 'out', 'train')['images']) == 4
    assert run_release(data, tmp_path / 'out', data, '--dedupe') == 0
    assert len(load_split(tmp_path / 'out', 'train')['images']) == 3


def test_rerun_leaves_no_stale_split_and_failure_leaves_no_folder(tmp_path, capsys):
    data = make_release(tmp_path)
    out = tmp_path / 'deep' / 'out'
    assert run_release(data, out, data) == 0
    assert sorted(os.listdir(out / 'annotations')) == ['test.json', 'train.json', 'valid.json']
    os.unlink(data / 'Github_csv' / 'TestData.csv')
    assert run_release(data, out, data) == 0
    assert sorted(os.listdir(out / 'annotations')) == ['train.json', 'valid.json']
    assert not [n for n in os.listdir(out) if n.startswith('.')]   # no staging left
    # a failing run into a new folder removes every folder it created
    os.unlink(data / 'images' / 't2.jpg')
    assert run_release(data, tmp_path / 'new' / 'sub', data) == 2
    assert not osp.exists(tmp_path / 'new')
    # ... and leaves an existing output as it was
    assert run_release(data, out, data) == 2
    assert sorted(os.listdir(out / 'annotations')) == ['train.json', 'valid.json']
