"""Aariz converter on a small release laid out as its repository's loader reads it:
both annotators, CVM stages, with and without the machine CSV."""
import csv
import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from data_converters.__main__ import main
from data_converters.landmarks import load

SYMBOLS = load('aariz').SYMBOLS
PLAN = {'Train': [('a1', '.png', (64, 80), 'Device A', 0.12),
                  ('a2', '.jpg', (96, 72), 'Device B', 0.1),
                  ('a3', '.bmp', (64, 80), 'Device A', 0.12)],
        'Valid': [('v1', '.png', (80, 64), 'Device C', 0.14)],
        'Test': [('t1', '.jpg', (64, 80), 'Device B', 0.1)]}


def landmark_dir(root, split, who):
    return root / split / 'Annotations' / 'Cephalometric Landmarks' / f'{who} Orthodontists'


def make_aariz(root, seed=0):
    """Return {id: {'senior': pts, 'junior': pts, 'cvm': n}}; writes the machine CSV too.
    The JSON lists landmarks in a shuffled order (matched by symbol, not position)."""
    rng = np.random.default_rng(seed)
    truth, rows = {}, []
    for split, images in PLAN.items():
        os.makedirs(root / split / 'Cephalograms')
        os.makedirs(root / split / 'Annotations' / 'CVM Stages')
        for who in ('Senior', 'Junior'):
            os.makedirs(landmark_dir(root, split, who))
        for cid, ext, (w, h), machine, size in images:
            Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
                root / split / 'Cephalograms' / f'{cid}{ext}')
            truth[cid] = {}
            for who in ('Senior', 'Junior'):
                pts = rng.uniform(2, min(w, h) - 3, (29, 2)).round(1)
                truth[cid][who.lower()] = pts
                order = rng.permutation(29)
                doc = dict(ceph_id=cid, landmarks=[
                    dict(symbol=SYMBOLS[k], value=dict(x=float(pts[k, 0]), y=float(pts[k, 1])))
                    for k in order])
                (landmark_dir(root, split, who) / f'{cid}.json').write_text(json.dumps(doc))
            truth[cid]['cvm'] = int(rng.integers(1, 7))
            (root / split / 'Annotations' / 'CVM Stages' / f'{cid}.json').write_text(
                json.dumps(dict(cvm_stage=dict(value=truth[cid]['cvm']))))
            truth[cid]['spacing'], truth[cid]['machine'] = size, machine
            rows.append([cid, machine, size, ext[1:], 'ceph'])
    with open(root / 'machines.csv', 'w', newline='') as f:
        csv.writer(f).writerows(
            [['cephalogram_id', 'machine', 'pixel_size', 'image_format', 'mode']] + rows)
    return truth


def run(root, out, *extra):
    return main(['aariz', '--root', str(root), '--out', str(out), *extra])


def load_split(out, split):
    with open(osp.join(out, 'annotations', f'{split}.json')) as f:
        return json.load(f)


def by_id(out):
    got = {}
    for split in ('train', 'valid', 'test'):
        doc = load_split(out, split)
        for img, ann in zip(doc['images'], doc['annotations']):
            got[osp.splitext(osp.basename(img['file_name']))[0]] = (
                split, img, np.array(ann['keypoints']).reshape(29, 3), doc['info'])
    return got


@pytest.mark.parametrize('annotator', ['senior', 'junior', 'mean'])
def test_annotators_with_machine_csv(tmp_path, capsys, annotator):
    truth = make_aariz(tmp_path / 'aariz')
    out = tmp_path / 'out'
    assert run(tmp_path / 'aariz', out, '--annotator', annotator,
               '--machine-csv', str(tmp_path / 'aariz' / 'machines.csv')) == 0
    got = by_id(out)
    assert sorted(got) == sorted(truth)
    assert got['a2'][1]['file_name'] == 'Train/Cephalograms/a2.jpg'
    assert got['v1'][0] == 'valid' and got['t1'][0] == 'test'
    for cid, t in truth.items():
        split, img, kp, info = got[cid]
        expected = t[annotator] if annotator != 'mean' else (t['senior'] + t['junior']) / 2
        np.testing.assert_allclose(kp[:, :2], expected, atol=1e-3)
        assert (kp[:, 2] == 2).all()
        assert img['pixel_spacing'] == [t['spacing'], t['spacing']]
        assert img['machine'] == t['machine'] and img['cvm_stage'] == t['cvm']
        assert img['reference'] == annotator and info['reference'] == annotator
    text = capsys.readouterr().out
    assert f'reference annotation: {annotator}' in text and '0.14x0.14' in text


def test_without_machine_csv_no_spacing_is_guessed(tmp_path, capsys):
    make_aariz(tmp_path / 'aariz')
    assert run(tmp_path / 'aariz', tmp_path / 'out') == 0
    for _split, img, _, _ in by_id(tmp_path / 'out').values():
        assert img['pixel_spacing'] is None and 'machine' not in img
    assert 'metrics in pixels' in capsys.readouterr().out


def test_absent_symbol_is_missing_not_invented(tmp_path):
    make_aariz(tmp_path / 'aariz')
    path = landmark_dir(tmp_path / 'aariz', 'Train', 'Senior') / 'a1.json'
    doc = json.loads(path.read_text())
    doc['landmarks'] = [lm for lm in doc['landmarks'] if lm['symbol'] != 'Sn']
    path.write_text(json.dumps(doc))
    assert run(tmp_path / 'aariz', tmp_path / 'out', '--annotator', 'mean') == 0
    kp = by_id(tmp_path / 'out')['a1'][2]
    assert list(kp[SYMBOLS.index('Sn')]) == [0, 0, 0] and kp[0, 2] == 2


# ------------------------------------------------------------------- bad input
def bad(tmp_path, capsys, *extra):
    assert run(tmp_path / 'aariz', tmp_path / 'out', *extra) == 2
    assert not osp.exists(tmp_path / 'out')
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_unknown_symbol(tmp_path, capsys):
    make_aariz(tmp_path / 'aariz')
    path = landmark_dir(tmp_path / 'aariz', 'Valid', 'Junior') / 'v1.json'
    path.write_text(path.read_text().replace('"symbol": "Ls"', '"symbol": "Lx"'))
    msg = bad(tmp_path, capsys, '--annotator', 'junior')
    assert 'v1.json' in msg and "unknown landmark symbol 'Lx'" in msg


def test_image_missing_from_machine_csv(tmp_path, capsys):
    make_aariz(tmp_path / 'aariz')
    path = tmp_path / 'aariz' / 'machines.csv'
    path.write_text('\n'.join(line for line in path.read_text().splitlines()
                              if not line.startswith('t1,')) + '\n')
    msg = bad(tmp_path, capsys, '--machine-csv', str(path))
    assert 'machines.csv' in msg and '1 image(s) have no row, e.g. t1' in msg


def test_bad_pixel_size_and_missing_annotator_folder(tmp_path, capsys):
    make_aariz(tmp_path / 'aariz')
    path = tmp_path / 'aariz' / 'machines.csv'
    path.write_text(path.read_text().replace(',0.14,', ',zero,'))
    msg = bad(tmp_path, capsys, '--machine-csv', str(path))
    assert 'machines.csv:5' in msg and "'zero'" in msg
    import shutil
    shutil.rmtree(landmark_dir(tmp_path / 'aariz', 'Test', 'Junior'))
    msg = bad(tmp_path, capsys, '--annotator', 'mean')
    assert 'Junior Orthodontists' in msg and 'junior annotator folder not found' in msg


def test_landmark_outside_and_bad_cvm(tmp_path, capsys):
    make_aariz(tmp_path / 'aariz')
    cvm = tmp_path / 'aariz' / 'Train' / 'Annotations' / 'CVM Stages' / 'a3.json'
    cvm.write_text(json.dumps(dict(cvm_stage=dict(value=7))))
    msg = bad(tmp_path, capsys)
    assert 'a3.json' in msg and 'cvm_stage' in msg
    cvm.write_text(json.dumps(dict(cvm_stage=dict(value=3))))
    path = landmark_dir(tmp_path / 'aariz', 'Train', 'Senior') / 'a2.json'
    doc = json.loads(path.read_text())
    doc['landmarks'][0]['value']['x'] = 500.0
    path.write_text(json.dumps(doc))
    msg = bad(tmp_path, capsys)
    assert 'a2.json' in msg and 'outside' in msg
