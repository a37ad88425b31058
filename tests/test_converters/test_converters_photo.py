"""Photo-pickle converter and the restricted unpickler, on small generated pickles."""
import io
import json
import os
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from data_converters.__main__ import main
from data_converters.errors import ConversionError
from data_converters.landmarks import load
from data_converters.safe_pickle import ALLOWED, SafeUnpickler, load_dataframe

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
KEYPOINTS = load('lateral_photo').KEYPOINTS
# spellings as found in the wild; the rest are written as e.g. 'Tip of the nose_x'
SPELLINGS = {'gonion': 'Gonion ', 'upper_1_tip': 'upper 1 tip', 'a_point': 'A point',
             'st_nasion': 'ST-Nasion', 'lower_1_apex': 'lower  1 apex'}


def make_frame(n=6, flat=False, sets=None, seed=0, depth=True, side=32):
    """A DataFrame like the real pickle, with small images (side x side)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        image = rng.integers(0, 255, (side, side, 3), dtype=np.uint8)
        row = {'patient_id': f'P{i:03d}', 'Image': image.reshape(-1, 3) if flat else image}
        if depth:
            row['depth_feature'] = rng.uniform(-2, 5, (side, side)).astype(np.float32)
        if sets is not None:
            row['set'] = sets[i]
        for k in KEYPOINTS:
            name = SPELLINGS.get(k, k.replace('_', ' ').capitalize())
            row[f'{name}_x'], row[f'{name}_y'] = rng.uniform(1, side - 2, 2)
        rows.append(row)
    return pd.DataFrame(rows)


def points(df, row):
    cols = [c for c in df.columns if c.endswith(('_x', '_y'))]
    return df.loc[row, cols].to_numpy(float).reshape(-1, 2)


def convert(df, tmp_path, *extra, name='data.pkl'):
    path = tmp_path / name
    df.to_pickle(path)
    out = tmp_path / 'out'
    return main(['photo-pickle', '--pickle', str(path), '--out', str(out), *extra]), out


def load_split(out, split):
    with open(out / 'annotations' / f'{split}.json') as f:
        return json.load(f)


def all_images(out):
    found = {}
    for split in ('train', 'val', 'test'):
        if (out / 'annotations' / f'{split}.json').exists():
            doc = load_split(out, split)
            for img, ann in zip(doc['images'], doc['annotations']):
                found[img['patient_id']] = (split, img, ann)
    return found


def assert_no_output(out):
    assert not (out / 'annotations').exists() and not (out / 'roi_prior.json').exists()
    assert not (out / 'images').exists()
    assert not out.exists() or not [n for n in os.listdir(out) if n.startswith('.')]


@pytest.mark.parametrize('flat', [False, True])
def test_images_and_points_with_set_column(tmp_path, flat):
    df = make_frame(flat=flat, sets=['train', 'train', 'dev', 'test', 'train', 'dev'])
    rc, out = convert(df, tmp_path)
    assert rc == 0
    got = all_images(out)
    splits = [got[f'P{i:03d}'][0] for i in range(6)]
    assert splits == ['train', 'train', 'val', 'test', 'train', 'val']
    for i in range(6):
        split, img, ann = got[f'P{i:03d}']
        assert img['file_name'] == f'images/P{i:03d}.png'
        assert img['pixel_spacing'] is None and (img['width'], img['height']) == (32, 32)
        stored = np.asarray(Image.open(out / img['file_name']))
        np.testing.assert_array_equal(stored, np.asarray(df.loc[i, 'Image']).reshape(32, 32, 3))
        np.testing.assert_allclose(np.array(ann['keypoints']).reshape(19, 3)[:, :2], points(df, i),
                                   atol=1e-3)
    assert sorted(os.listdir(out / 'images')) == [f'P{i:03d}.png' for i in range(6)]
    assert sorted(os.listdir(out)) == ['annotations', 'images', 'roi_prior.json']


def test_seeded_split_without_set_column(tmp_path):
    df = make_frame(n=20)
    rc, out = convert(df, tmp_path, '--val-fraction', '0.2', '--seed', '3')
    assert rc == 0
    first = {pid: v[0] for pid, v in all_images(out).items()}
    counts = {s: list(first.values()).count(s) for s in ('train', 'val', 'test')}
    assert counts == {'train': 14, 'val': 4, 'test': 2}
    rc, out = convert(df, tmp_path, '--val-fraction', '0.2', '--seed', '3')
    assert rc == 0 and {pid: v[0] for pid, v in all_images(out).items()} == first
    rc, out = convert(df, tmp_path, '--val-fraction', '0.2', '--seed', '4')
    assert rc == 0 and {pid: v[0] for pid, v in all_images(out).items()} != first


def test_missing_coordinate_is_v0_and_depth_is_scaled(tmp_path):
    df = make_frame(sets=['train'] * 4 + ['test'] * 2)
    df.loc[1, 'Gonion _x'] = np.nan
    rc, out = convert(df, tmp_path, '--depth')
    assert rc == 0
    split, img, ann = all_images(out)['P001']
    kp = np.array(ann['keypoints']).reshape(19, 3)
    g = KEYPOINTS.index('gonion')
    assert list(kp[g]) == [0, 0, 0] and ann['num_keypoints'] == 18
    depth = df.loc[1, 'depth_feature'].astype(float)
    expected = np.round((depth - depth.min()) / (depth.max() - depth.min()) * 255)
    stored = np.asarray(Image.open(out / img['file_name']))
    assert stored.shape == (32, 32) and img['modality'] == 'depth'
    np.testing.assert_array_equal(stored, expected)


def test_duplicate_images_across_splits_warned_and_deduped(tmp_path, capsys):
    df = make_frame(sets=['train', 'train', 'train', 'test', 'test', 'dev'])
    df.at[4, 'Image'] = df.at[0, 'Image'].copy()
    rc, out = convert(df, tmp_path, '--dedupe')
    assert rc == 0
    err = capsys.readouterr().err
    assert 'byte-identical' in err and 'images/P000.png (train)' in err and 'P004.png (test)' in err
    assert 'P004' not in all_images(out) and len(all_images(out)) == 5
    assert not (out / 'images' / 'P004.png').exists()


def test_subprocess_cli(tmp_path):
    path = tmp_path / 'd.pkl'
    make_frame(flat=True).to_pickle(path)
    cmd = [sys.executable, '-m', 'data_converters', 'photo-pickle', '--pickle', str(path),
           '--out', str(tmp_path / 'out')]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO,
                          env=dict(os.environ, PYTHONPATH=REPO))
    assert proc.returncode == 0, proc.stderr
    assert 'splits: train=' in proc.stdout and (tmp_path / 'out' / 'images' / 'P005.png').exists()


# --------------------------------------------------------------- safe unpickling
class Evil:
    """Unpickling this runs ``func(*args)`` with a plain pickle.load."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def evil_payloads(marker):
    import subprocess as sp
    return {'posix.system': Evil(os.system, f'touch {marker}'),
            'builtins.eval': Evil(eval, f'open({str(marker)!r}, "w")'),
            'subprocess.Popen': Evil(sp.Popen, ['touch', str(marker)])}


@pytest.mark.parametrize('refused', ['posix.system', 'builtins.eval', 'subprocess.Popen'])
@pytest.mark.parametrize('inside_frame', [False, True])
def test_malicious_pickle_is_refused_without_running(tmp_path, capsys, refused, inside_frame):
    marker = tmp_path / 'MARKER'
    payload = evil_payloads(marker)[refused]
    if inside_frame:                       # hidden in an object column of a real DataFrame
        df = make_frame(n=2)
        df['Image'] = [payload, payload]
        payload = df
    path = tmp_path / 'evil.pkl'
    path.write_bytes(pickle.dumps(payload))
    out = tmp_path / 'out'
    assert main(['photo-pickle', '--pickle', str(path), '--out', str(out)]) == 2
    msg = capsys.readouterr().err
    assert 'evil.pkl' in msg and refused in msg and 'refused' in msg
    assert not marker.exists()
    assert_no_output(out)


def test_allow_list_loads_real_dataframes():
    """Every kind of column the photo pickle may hold, every protocol pandas may use."""
    base = make_frame(n=3, flat=True, sets=['train', 'dev', 'test'])
    frames = [base, make_frame(n=3), base.set_index('patient_id'),
              base.assign(set=base['set'].astype('category'),
                          patient_id=base['patient_id'].astype('string'),
                          n=np.arange(3, dtype=np.int32), ok=[True, False, True])]
    for df in frames:
        for protocol in range(2, pickle.HIGHEST_PROTOCOL + 1):
            data = io.BytesIO(pickle.dumps(df, protocol=protocol))
            pd.testing.assert_frame_equal(SafeUnpickler(data, 'mem').load(), df)
    assert ('builtins', 'eval') not in ALLOWED and ('posix', 'system') not in ALLOWED


def test_pickle_written_by_numpy1_pandas1_loads():
    """numpy 1.x wrote numpy.core.*, pandas 1.x an Int64Index (e.g. after filtering rows):
    rewrite a protocol-2 pickle's textual GLOBAL opcodes to those old names."""
    df = make_frame(n=4).iloc[[0, 2, 3]]
    data = pickle.dumps(df, protocol=2)
    old = data.replace(b'cpandas.core.indexes.base\nIndex\n',
                       b'cpandas.core.indexes.numeric\nInt64Index\n')
    old = old.replace(b'cnumpy._core.multiarray\n', b'cnumpy.core.multiarray\n')
    assert b'Int64Index' in old and b'numpy.core.multiarray' in old
    pd.testing.assert_frame_equal(SafeUnpickler(io.BytesIO(old), 'old.pkl').load(), df)


@pytest.mark.parametrize('content,expected', [
    (pickle.dumps([1, 2, 3]), 'not a pandas DataFrame'),
    (pickle.dumps(make_frame(n=2))[:500], 'not a readable pickle'),
    (b'', 'not a readable pickle'),
])
def test_not_a_dataframe_pickle(tmp_path, content, expected):
    path = tmp_path / 'x.pkl'
    path.write_bytes(content)
    with pytest.raises(ConversionError, match=expected) as err:
        load_dataframe(str(path))
    assert 'x.pkl' in str(err.value)


# ------------------------------------------------------------------- bad input
def bad(df, tmp_path, capsys, *extra):
    rc, out = convert(df, tmp_path, *extra)
    assert rc == 2
    assert_no_output(out)
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_missing_columns_are_listed(tmp_path, capsys):
    df = make_frame().drop(columns=['Gonion _y', 'A point_x'])
    msg = bad(df, tmp_path, capsys)
    assert 'data.pkl' in msg and 'gonion_y' in msg and 'a_point_x' in msg


def test_depth_asked_but_absent(tmp_path, capsys):
    msg = bad(make_frame(depth=False), tmp_path, capsys, '--depth')
    assert 'data.pkl' in msg and 'depth_feature' in msg


def test_landmark_outside_image_names_row(tmp_path, capsys):
    df = make_frame()
    df.loc[3, 'Menton_y'] = 40.0          # images are 32x32
    msg = bad(df, tmp_path, capsys)
    assert "row 3 (patient_id 'P003')" in msg and 'landmark 12' in msg and 'outside' in msg


def test_bad_image_shape(tmp_path, capsys):
    df = make_frame()
    df.at[2, 'Image'] = np.zeros((30, 3), np.uint8)
    msg = bad(df, tmp_path, capsys)
    assert 'row 2' in msg and 'shape (30, 3)' in msg


def test_duplicate_patient_ids(tmp_path, capsys):
    df = make_frame()
    df.loc[4, 'patient_id'] = 'P001'
    msg = bad(df, tmp_path, capsys)
    assert 'row 4' in msg and 'P001.png already used by row 1' in msg


def test_set_column_with_split_options(tmp_path, capsys):
    msg = bad(make_frame(sets=['train'] * 6), tmp_path, capsys, '--seed', '1')
    assert '--seed' in msg and "'set'" in msg


def test_unknown_set_value(tmp_path, capsys):
    msg = bad(make_frame(sets=['train'] * 5 + ['holdout']), tmp_path, capsys)
    assert 'row 5' in msg and "'holdout'" in msg


def test_error_after_some_pngs_leaves_nothing(tmp_path, capsys):
    """The last row is bad: the PNGs of the earlier rows must not survive."""
    df = make_frame(sets=['train'] * 6)
    df.at[5, 'Image'] = np.full((32, 32, 3), 300.0)
    msg = bad(df, tmp_path, capsys)
    assert 'row 5' in msg and 'uint8' in msg


# ----------------------------------------------------- ruler spacing, patient names
def with_ruler_and_names(df):
    """The release's extra columns: 'patient' (a NAME) and the ruler in 600-px coordinates."""
    df = df.copy()
    df['patient'] = [f'Jane Doe-Secretname {i}' for i in range(len(df))]
    df['class'] = 'II'
    lengths = np.array([100.0, 80.0, 50.0, np.nan, 120.0, 60.0])[:len(df)]
    df['ruler_point_up_x'] = 300.0
    df['ruler_point_up_y'] = 100.0
    df['ruler_point_down_x'] = 300.0
    df['ruler_point_down_y'] = 100.0 + lengths
    return df, lengths


def test_ruler_gives_per_image_spacing_recorded_with_its_length(tmp_path, capsys):
    df, lengths = with_ruler_and_names(make_frame(sets=['train'] * 4 + ['test'] * 2))
    rc, out = convert(df, tmp_path, '--ruler-mm', '10')
    assert rc == 0
    found = all_images(out)
    for i, length in enumerate(lengths):
        img = found[f'P{i:03d}'][1]
        if np.isnan(length):
            assert img['pixel_spacing'] is None and 'ruler_mm' not in img
        else:
            expected = 10 / length * 600 / 32          # mm per stored (32-px) pixel
            assert img['pixel_spacing'] == pytest.approx([expected, expected])
            assert img['ruler_mm'] == 10
    assert 'for 5 of 6 images' in capsys.readouterr().out


def test_ruler_giving_an_implausible_spacing_is_refused(tmp_path, capsys):
    """20 mm over 50 px of the 600-px photo is 7.5 mm per stored 32-px pixel: above the one
    plausible range (5 mm/px), as inference would refuse it; 13.3 mm gives 4.99 (kept)."""
    df, _ = with_ruler_and_names(make_frame(sets=['train'] * 4 + ['test'] * 2))
    msg = bad(df, tmp_path, capsys, '--ruler-mm', '20')
    assert 'implausible pixel spacing' in msg and 'between 0.01 and 5' in msg and '7.5' in msg
    rc, out = convert(df, tmp_path, '--ruler-mm', '13.3')      # 13.3 / 50 * 18.75 = 4.9875
    assert rc == 0


def test_without_ruler_mm_no_spacing_but_a_hint(tmp_path, capsys):
    df, _ = with_ruler_and_names(make_frame())
    rc, out = convert(df, tmp_path)
    assert rc == 0
    assert all(v[1]['pixel_spacing'] is None for v in all_images(out).values())
    assert '--ruler-mm' in capsys.readouterr().out


def test_ruler_mm_without_ruler_columns_is_refused(tmp_path, capsys):
    rc, out = convert(make_frame(), tmp_path, '--ruler-mm', '10')
    assert rc == 2 and not out.exists()
    assert 'ruler_point_up_x' in capsys.readouterr().err


def test_patient_name_never_reaches_any_output(tmp_path, capsys):
    df, _ = with_ruler_and_names(make_frame(sets=['train'] * 4 + ['test'] * 2))
    rc, out = convert(df, tmp_path, '--ruler-mm', '10')
    assert rc == 0
    printed = capsys.readouterr()
    assert 'Secretname' not in printed.out + printed.err
    for folder, _, files in os.walk(out):
        for name in files:
            assert 'Secretname' not in name
            assert b'Secretname' not in (open(osp.join(folder, name), 'rb').read())
    # and an error about a row names the patient_id, not the name
    df.loc[2, 'Gonion _x'] = 1e6
    rc, _ = convert(df, tmp_path, '--ruler-mm', '10')
    err = capsys.readouterr().err
    assert rc == 2 and "patient_id 'P002'" in err and 'Secretname' not in err


def test_rerun_replaces_images(tmp_path):
    rc, out = convert(make_frame(n=6, depth=False), tmp_path)
    assert rc == 0 and len(os.listdir(out / 'images')) == 6
    rc, out = convert(make_frame(n=4, depth=False), tmp_path)
    assert rc == 0 and len(os.listdir(out / 'images')) == 4
    assert not [n for n in os.listdir(out) if n.startswith('.')]


def test_pickle_loader_runs_in_a_limited_child(tmp_path):
    """An input that crashes the interpreter or asks for gigabytes kills only the child
    process that unpickles it: the converter gets one error naming the file."""
    import os
    import signal

    from data_converters.errors import ConversionError
    from data_converters.pickle_sandbox import run_limited

    path = str(tmp_path / 'x.pkl')
    with pytest.raises(ConversionError, match=r'x\.pkl: the loader process died on this file'):
        run_limited(lambda p: os.kill(os.getpid(), signal.SIGKILL), path)
    with pytest.raises(ConversionError, match=r'x\.pkl: not a readable pickle: .*memory'):
        run_limited(lambda p: bytes(1 << 40), path)
    with pytest.raises(ConversionError, match=r'^x: refused$'):
        run_limited(lambda p: (_ for _ in ()).throw(ConversionError('x', 'refused')), path)
    assert run_limited(lambda p: p.encode(), path) == path.encode()
