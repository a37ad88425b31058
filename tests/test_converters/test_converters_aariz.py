"""Aariz converter on a small release laid out as the archive ships it (FORMATS.md:
lower-case split folders, cephalogram_machine_mappings.csv at the root), and as the
official loader spells it (Train/Valid/Test): both annotators, CVM stages, with and
without the machine CSV."""
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
PLAN = {'train': [('a1', '.png', (64, 80), 'Device A', 0.12),
                  ('a2', '.jpg', (96, 72), 'Device B', 0.1),
                  ('a3', '.bmp', (64, 80), 'Device A', 0.12)],
        'valid': [('v1', '.png', (80, 64), 'Device C', 0.14)],
        'test': [('t1', '.jpg', (64, 80), 'Device B', 0.1)]}
ROOT_CSV = 'cephalogram_machine_mappings.csv'


def landmark_dir(root, split, who):
    split = split if (root / split).is_dir() else split.capitalize()
    return root / split / 'Annotations' / 'Cephalometric Landmarks' / f'{who} Orthodontists'


def make_aariz(root, seed=0, case=str.lower, csv_name=ROOT_CSV):
    """Return {id: {'senior': pts, 'junior': pts, 'cvm': n}}; writes the machine CSV as
    ROOT/``csv_name`` (as released: the root's cephalogram_machine_mappings.csv). Split
    folders are named ``case(split)`` (released: lower-case). The JSON lists landmarks
    in a shuffled order (matched by symbol, not position)."""
    rng = np.random.default_rng(seed)
    truth, rows = {}, []
    for split, images in PLAN.items():
        split = case(split)
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
    with open(root / csv_name, 'w', newline='') as f:
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
def test_release_as_shipped_converts_exactly(tmp_path, capsys, annotator):
    """Lower-case folders and the root's machine CSV, used without any flag."""
    truth = make_aariz(tmp_path / 'aariz')
    assert sorted(os.listdir(tmp_path / 'aariz')) == [ROOT_CSV, 'test', 'train', 'valid']
    out = tmp_path / 'out'
    assert run(tmp_path / 'aariz', out, '--annotator', annotator) == 0
    got = by_id(out)
    assert sorted(got) == sorted(truth)
    assert got['a2'][1]['file_name'] == 'train/Cephalograms/a2.jpg'
    assert got['v1'][0] == 'valid' and got['t1'][0] == 'test'
    for cid, t in truth.items():
        split, img, kp, info = got[cid]
        expected = t[annotator] if annotator != 'mean' else (t['senior'] + t['junior']) / 2
        np.testing.assert_allclose(kp[:, :2], expected, atol=1e-3)
        assert (kp[:, 2] == 2).all()
        assert img['pixel_spacing'] == [t['spacing'], t['spacing']]
        assert img['machine'] == t['machine'] and img['cvm_stage'] == t['cvm']
        assert img['reference'] == annotator and info['reference'] == annotator
    text = capsys.readouterr()
    assert f'reference annotation: {annotator}' in text.out and '0.14x0.14' in text.out
    assert (f'pixel spacing from {tmp_path / "aariz" / ROOT_CSV} (found in the root): '
            'Device A 2 image(s) at 0.12 mm/px, Device B 2 image(s) at 0.1 mm/px, '
            'Device C 1 image(s) at 0.14 mm/px') in text.err


def test_capitalised_folders_and_machine_csv_flag(tmp_path, capsys):
    """The official loader's Train/Valid/Test, and --machine-csv (here the only table)."""
    truth = make_aariz(tmp_path / 'aariz', case=str.capitalize, csv_name='machines.csv')
    out = tmp_path / 'out'
    assert run(tmp_path / 'aariz', out, '--machine-csv',
               str(tmp_path / 'aariz' / 'machines.csv')) == 0
    got = by_id(out)
    assert got['a2'][1]['file_name'] == 'Train/Cephalograms/a2.jpg'
    assert got['v1'][0] == 'valid' and got['v1'][1]['pixel_spacing'] == [0.14, 0.14]
    np.testing.assert_allclose(got['t1'][2][:, :2], truth['t1']['senior'], atol=1e-3)
    assert 'machines.csv (--machine-csv): Device A 2 image(s)' in capsys.readouterr().err


def test_machine_csv_flag_overrides_the_root_table(tmp_path, capsys):
    make_aariz(tmp_path / 'aariz')
    other = tmp_path / 'other.csv'
    other.write_text((tmp_path / 'aariz' / ROOT_CSV).read_text().replace(',0.12,', ',0.2,'))
    assert run(tmp_path / 'aariz', tmp_path / 'out', '--machine-csv', str(other)) == 0
    got = by_id(tmp_path / 'out')
    assert got['a1'][1]['pixel_spacing'] == [0.2, 0.2]
    assert got['a2'][1]['pixel_spacing'] == [0.1, 0.1]
    err = capsys.readouterr().err
    assert 'other.csv (--machine-csv): Device A 2 image(s) at 0.2 mm/px' in err
    assert ROOT_CSV not in err


def test_without_any_machine_csv_no_spacing_is_guessed(tmp_path, capsys):
    make_aariz(tmp_path / 'aariz', csv_name='elsewhere.csv')
    assert run(tmp_path / 'aariz', tmp_path / 'out') == 0
    for _split, img, _, _ in by_id(tmp_path / 'out').values():
        assert img['pixel_spacing'] is None and 'machine' not in img
    text = capsys.readouterr()
    assert 'pixel spacing (mm): unknown (pixels)' in text.out
    assert (f'no pixel spacing (no {ROOT_CSV} in the root, no --machine-csv): the metric '
            'will be in pixels') in text.out
    assert 'pixel spacing from' not in text.err


def drop_symbols(root, split, who, cid, symbols):
    path = landmark_dir(root, split, who) / f'{cid}.json'
    doc = json.loads(path.read_text())
    doc['landmarks'] = [lm for lm in doc['landmarks'] if lm['symbol'] not in symbols]
    path.write_text(json.dumps(doc))


def test_landmark_shortfall_is_an_error_naming_all_absent_symbols(tmp_path, capsys):
    """Every released image has all 29 points from both annotators."""
    make_aariz(tmp_path / 'aariz')
    drop_symbols(tmp_path / 'aariz', 'train', 'Senior', 'a1', {'Sn', 'S'})
    drop_symbols(tmp_path / 'aariz', 'test', 'Junior', 't1', {'Go'})
    msg = bad(tmp_path, capsys)
    assert msg.startswith(f'error: {landmark_dir(tmp_path / "aariz", "train", "Senior")}'
                          '/a1.json: image a1 (senior annotation) lacks 2 of its 29 '
                          'landmarks: S, Sn. Every Aariz image')
    assert '--allow-missing' in msg
    msg = bad(tmp_path, capsys, '--annotator', 'junior')
    assert 't1.json: image t1 (junior annotation) lacks 1 of its 29 landmarks: Go.' in msg
    msg = bad(tmp_path, capsys, '--annotator', 'mean')
    assert 'a1.json: image a1 (senior annotation) lacks 2' in msg
    assert '1 more image(s) lack points too' in msg


def test_absent_symbol_is_missing_not_invented_when_allowed(tmp_path):
    make_aariz(tmp_path / 'aariz')
    drop_symbols(tmp_path / 'aariz', 'train', 'Senior', 'a1', {'Sn'})
    assert run(tmp_path / 'aariz', tmp_path / 'out', '--annotator', 'mean',
               '--allow-missing') == 0
    kp = by_id(tmp_path / 'out')['a1'][2]
    assert list(kp[SYMBOLS.index('Sn')]) == [0, 0, 0] and kp[0, 2] == 2


def test_two_spellings_of_one_split_are_refused(tmp_path, capsys):
    make_aariz(tmp_path / 'aariz')
    os.makedirs(tmp_path / 'aariz' / 'Train' / 'Cephalograms')
    msg = bad(tmp_path, capsys)
    assert 'two folders for the train split: Train/ and train/' in msg


# ------------------------------------------------------------------- bad input
def bad(tmp_path, capsys, *extra):
    assert run(tmp_path / 'aariz', tmp_path / 'out', *extra) == 2
    assert not osp.exists(tmp_path / 'out')
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_unknown_symbol(tmp_path, capsys):
    make_aariz(tmp_path / 'aariz')
    path = landmark_dir(tmp_path / 'aariz', 'valid', 'Junior') / 'v1.json'
    path.write_text(path.read_text().replace('"symbol": "Ls"', '"symbol": "Lx"'))
    msg = bad(tmp_path, capsys, '--annotator', 'junior')
    assert 'v1.json' in msg and "unknown landmark symbol 'Lx'" in msg


def test_image_missing_from_machine_csv(tmp_path, capsys):
    make_aariz(tmp_path / 'aariz')
    path = tmp_path / 'aariz' / ROOT_CSV
    path.write_text('\n'.join(line for line in path.read_text().splitlines()
                              if not line.startswith('t1,')) + '\n')
    msg = bad(tmp_path, capsys)
    assert ROOT_CSV in msg and '1 image(s) have no row, e.g. t1' in msg


@pytest.mark.parametrize('size', ['zero', '0', '20', '5.01', '0.0099', 'nan', ''])
def test_bad_pixel_size(tmp_path, capsys, size):
    make_aariz(tmp_path / 'aariz')
    path = tmp_path / 'aariz' / ROOT_CSV
    path.write_text(path.read_text().replace(',0.14,', f',{size},'))
    msg = bad(tmp_path, capsys)
    assert f"{ROOT_CSV}:5: pixel_size must be mm per pixel between 0.01 and 5, got {size!r}" \
        in msg


def test_missing_annotator_folder(tmp_path, capsys):
    make_aariz(tmp_path / 'aariz')
    import shutil
    shutil.rmtree(landmark_dir(tmp_path / 'aariz', 'test', 'Junior'))
    msg = bad(tmp_path, capsys, '--annotator', 'mean')
    assert 'Junior Orthodontists' in msg and 'junior annotator folder not found' in msg


def test_landmark_outside_and_bad_cvm(tmp_path, capsys):
    make_aariz(tmp_path / 'aariz')
    cvm = tmp_path / 'aariz' / 'train' / 'Annotations' / 'CVM Stages' / 'a3.json'
    cvm.write_text(json.dumps(dict(cvm_stage=dict(value=7))))
    msg = bad(tmp_path, capsys)
    assert 'a3.json' in msg and 'cvm_stage' in msg
    cvm.write_text(json.dumps(dict(cvm_stage=dict(value=3))))
    path = landmark_dir(tmp_path / 'aariz', 'train', 'Senior') / 'a2.json'
    doc = json.loads(path.read_text())
    doc['landmarks'][0]['value']['x'] = 500.0
    path.write_text(json.dumps(doc))
    msg = bad(tmp_path, capsys)
    assert 'a2.json' in msg and 'outside' in msg


def test_help_explains(capsys):
    with pytest.raises(SystemExit):
        main(['aariz', '--help'])
    text = capsys.readouterr().out
    assert 'lower-case' in text and ROOT_CSV in text and '--allow-missing' in text
