"""Fuzz helpers for the photograph-pickle loader: valid and crafted pickles, mutations."""
import os
import pickle

import numpy as np
from fuzz_common import MUTATIONS, mutate_bytes
from hypothesis import strategies as st


# --------------------------------------------------------------------------- photo pickles
def photo_keypoints():
    from data_converters.landmarks import load
    return load('lateral_photo').KEYPOINTS


SPELLINGS = {'gonion': 'Gonion ', 'upper_1_tip': 'upper 1 tip', 'a_point': 'A point',
             'st_nasion': 'ST-Nasion'}


@st.composite
def photo_valid(draw, keypoints):
    """``(frame, expected, args)``: a DataFrame like the real pickle with small images;
    ``expected`` maps patient id -> (split or None, pixels, points), where pixels are the
    (H, W, 3) photograph, or with ``args == ['--depth']`` the (H, W) uint8 depth map as the
    converter documents it (uint8 as is, else min..max scaled to 0..255)."""
    import pandas as pd
    n = draw(st.integers(1, 4))
    side = draw(st.sampled_from([6, 8, 9]))
    flat = draw(st.booleans())
    image_dtype = draw(st.sampled_from(['uint8', 'uint8', 'int64', 'float64']))
    depth_kind = draw(st.sampled_from([None, None, 'float32', 'uint8', 'float64', 'constant',
                                       'extreme']))
    use_depth = depth_kind is not None and draw(st.booleans())
    depth_shape = draw(st.sampled_from(['2d', '3d', 'flat']))
    with_set = draw(st.booleans())
    id_kind = draw(st.sampled_from(['str', 'int', 'float']))
    seed = draw(st.integers(0, 2 ** 16))
    rng = np.random.default_rng(seed)
    rows, expected = [], {}
    for i in range(n):
        pixels = rng.integers(0, 256, (side, side, 3)).astype(np.uint8)
        image = pixels.astype(image_dtype)
        pid = {'str': f'P{i:03d}', 'int': 100 + i, 'float': float(100 + i)}[id_kind]
        row = {'patient_id': pid, 'Image': image.reshape(-1, 3) if flat else image}
        if depth_kind is not None:
            depth = (np.full((side, side), 3.5) if depth_kind == 'constant' else
                     rng.integers(0, 256, (side, side)) if depth_kind == 'uint8' else
                     rng.choice([-1.7e308, 0.0, 1.7e308], (side, side))
                     if depth_kind == 'extreme' else rng.uniform(-2, 5, (side, side))).astype(
                         {'constant': 'float32', 'uint8': 'uint8',
                          'extreme': 'float64'}.get(depth_kind, depth_kind))
            row['depth_feature'] = {'2d': depth, '3d': depth[..., None],
                                    'flat': depth.ravel()}[depth_shape]
            if use_depth:
                if depth.dtype == np.uint8:
                    pixels = depth
                else:
                    d = depth.astype(np.float64) / 2     # halved: exact, and no overflow
                    lo, hi = d.min(), d.max()
                    pixels = (np.round((d - lo) / (hi - lo) * 255) if hi > lo
                              else np.zeros_like(d)).astype(np.uint8)
        split = None
        if with_set:
            split = 'train' if i == 0 else draw(st.sampled_from(['train', 'dev', 'val', 'test']))
            row['set'] = draw(st.sampled_from([split, split.upper(), f' {split}']))
        points = np.full((len(keypoints), 2), np.nan)
        for k, name in enumerate(keypoints):
            col = SPELLINGS.get(name, name.replace('_', ' ').capitalize())
            if draw(st.integers(0, 9)) == 0 and i > 0:
                row[f'{col}_x'], row[f'{col}_y'] = float('nan'), float(rng.uniform(0, side - 1))
            else:
                points[k] = rng.uniform(0, side - 1, 2).round(3)
                row[f'{col}_x'], row[f'{col}_y'] = points[k]
        rows.append(row)
        expected[str(pid)] = ({'train': 'train', 'dev': 'val', 'val': 'val',
                               'test': 'test'}.get(split), pixels, points)
    return pd.DataFrame(rows), expected, ['--depth'] if use_depth else []


class _Refused:
    """Pickles as a call of a harmless function that the allow-list must refuse."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def crafted_pickles():
    """Hand-written pickles that use only allow-listed globals (or none) to attack the
    loader: memory blow-ups, memory corruption in numpy, constructor calls."""
    P2, STOP = b'\x80\x02', b'.'

    def glob(module, name):
        return b'c' + module.encode() + b'\n' + name.encode() + b'\n'

    np_dtype_o = glob('numpy', 'dtype') + b'X\x02\x00\x00\x00O8\x89\x88\x87R'
    reconstruct = (glob('numpy._core.multiarray', '_reconstruct') + glob('numpy', 'ndarray')
                   + b'K\x00\x85X\x01\x00\x00\x00b\x87R')
    cases = {
        # one opcode asking for a memo slot at index 2**28 (~4 GB of memo table)
        'memo-index': P2 + b'N' + b'r' + (2 ** 28).to_bytes(4, 'little') + STOP,
        'memo-index-put': b'N' + b'p268435456\n' + STOP,
        # an object array whose state lists fewer items than its shape: numpy leaves the
        # rest uninitialised and crashes when it is read
        'object-array-short-list': P2 + reconstruct + b'(K\x01K\x0a\x85' + np_dtype_o
        + b'(K\x03X\x01\x00\x00\x00|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb\x89]K\x01at'
        + b'b' + STOP,
        # a uint8 dtype whose state claims it holds objects (flags 63)
        'forged-dtype-flags': P2 + glob('numpy', 'dtype') + b'X\x02\x00\x00\x00u1\x89\x88\x87R'
        + b'(K\x03X\x01\x00\x00\x00|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?tb' + STOP,
        # _reconstruct asked for a 10**9-element object array
        'reconstruct-huge': P2 + glob('numpy._core.multiarray', '_reconstruct')
        + glob('numpy', 'ndarray') + b'J\x00\xca\x9a;\x85' + np_dtype_o + b'\x87R' + STOP,
        # calling numpy.ndarray((10**9,), 'O') directly
        'ndarray-call': P2 + glob('numpy', 'ndarray') + b'J\x00\xca\x9a;\x85X\x01\x00\x00\x00O'
        + b'\x86R' + STOP,
        # a huge bytearray announced by an 8-byte length, with no data behind it
        'bytearray8-huge': b'\x80\x05\x96' + (2 ** 33).to_bytes(8, 'little') + STOP,
        'bytes8-huge': b'\x80\x05\x8e' + (2 ** 33).to_bytes(8, 'little') + STOP,
        'deep-nesting': P2 + b'(' * 100000 + b'l' * 100000 + STOP,
        'empty': b'',
        'stop-only': STOP,
        'not-a-frame': pickle.dumps([1, 2, 3]),
        'none': pickle.dumps(None),
    }
    return cases


def refused_objects():
    """Objects whose pickle names globals outside the allow-list."""
    import collections
    import datetime
    import fractions
    return {'os.getcwd': _Refused(os.getcwd), 'builtins.print': _Refused(print, 'x'),
            'collections.OrderedDict': collections.OrderedDict(a=1),
            'datetime.date': datetime.date(2020, 1, 1),
            'fractions.Fraction': fractions.Fraction(1, 3),
            'builtins.getattr': _Refused(getattr, 1, 'real'),
            'numpy.random': np.random.default_rng(0)}


@st.composite
def photo_pickle(draw, keypoints):
    """``(bytes, expected, args)``: as :func:`photo_valid` for an unmutated frame,
    expected ``None`` for a mutated (possibly malformed) one."""
    df, expected, args = draw(photo_valid(keypoints))
    MUTATIONS.clear()
    protocol = draw(st.integers(2, pickle.HIGHEST_PROTOCOL))
    n_mutations = draw(st.integers(0, 2))
    if n_mutations == 0:
        return pickle.dumps(df, protocol=protocol), expected, args
    if draw(st.integers(0, 3)) == 0:
        args = ['--depth']                   # also when the frame has no depth_feature
    return _photo_mutated(draw, df, protocol, n_mutations), None, args


def _photo_mutated(draw, df, protocol, n_mutations):
    kind = draw(st.sampled_from(['frame'] * 6 + ['bytes'] * 3 + ['crafted', 'refused',
                                                                  'random']))
    MUTATIONS.append(kind)
    if kind == 'crafted':
        return draw(st.sampled_from(sorted(crafted_pickles().items())))[1]
    if kind == 'refused':
        name, obj = draw(st.sampled_from(sorted(refused_objects().items(), key=str)))
        if draw(st.booleans()):           # hidden in an object column of a real frame
            df = df.copy()
            df['Image'] = [obj] * len(df)
            obj = df
        return pickle.dumps(obj, protocol=protocol)
    if kind == 'random':
        return draw(st.binary(max_size=300))
    if kind == 'bytes':
        data = pickle.dumps(df, protocol=protocol)
        for _ in range(n_mutations):
            data = mutate_bytes(draw, data)
        return data
    df = df.copy()
    for _ in range(n_mutations):
        if not len(df) or not len(df.columns):
            break
        r = draw(st.integers(0, len(df) - 1))
        col = draw(st.sampled_from(list(df.columns)))
        what = draw(st.sampled_from(['drop', 'image', 'depth', 'coord', 'pid', 'empty', 'set',
                                     'rename', 'cell']))
        MUTATIONS.append(what)
        if what == 'drop':
            df = df.drop(columns=[col])
        elif what == 'image' and 'Image' in df.columns:
            side = 6
            bad = draw(st.sampled_from([
                np.zeros((side, side), np.uint8), np.zeros((side, side, 4), np.uint8),
                np.zeros((side * side + 1, 3), np.uint8), np.zeros((0, 0, 3), np.uint8),
                np.zeros((0, 3), np.uint8), np.zeros((0, 0, 3), np.float64),
                np.full((side, side, 3), 0.5), np.full((side, side, 3), -1),
                np.full((side, side, 3), 256), np.full((side, side, 3), np.nan),
                np.ones((side, side, 3), bool), np.ones((side, side, 3), complex),
                np.array([['a'] * 3] * 4), None, 'image', 3.0, [[1, 2], [3]],
                [[[1, 2, 3]] * 2] * 2, np.zeros((side, side, 3), '>u2'),
                np.zeros((1, 100000, 3), np.uint8), np.zeros((side, 1, side, 3), np.uint8)]))
            df = df.astype({'Image': object})
            df.at[df.index[r], 'Image'] = bad
        elif what == 'depth' and 'depth_feature' in df.columns:
            bad = draw(st.sampled_from([
                np.zeros((0, 0)), np.zeros((6, 6, 3)), np.full((6, 6), np.nan),
                np.full((6, 6), np.inf), np.ones((6, 6), bool), np.array(['a'] * 36),
                np.array([-1.7e308, 1.7e308] * 18), np.zeros(35), None, 'depth', [[1, 2], [3]],
                np.zeros((6, 6), '>f8'), np.arange(36, dtype=np.int64) * 10 ** 17]))
            df = df.astype({'depth_feature': object})
            df.at[df.index[r], 'depth_feature'] = bad
        elif what == 'coord':
            cols = [c for c in df.columns if str(c).endswith(('_x', '_y'))]
            if cols:
                c = draw(st.sampled_from(cols))
                value = draw(st.sampled_from([np.nan, np.inf, -np.inf, -5.0, 1e300, '1.5',
                                              'abc', None, [1.0], 10 ** 400, 1 + 2j,
                                              np.array([1.0, 2.0]), True, '', 1e-300]))
                df = df.astype({c: object})
                df.at[df.index[r], c] = value
        elif what == 'pid' and 'patient_id' in df.columns:
            df = df.astype({'patient_id': object})
            df.at[df.index[r], 'patient_id'] = draw(st.sampled_from(
                [df['patient_id'].iloc[0], '', '..', '../../etc', 'a/b', 'x' * 300, None,
                 float('nan'), float('inf'), b'bytes', '\x00', 'é', ' ', 1e20]))
        elif what == 'empty':
            df = df.iloc[0:0]
        elif what == 'set':
            df['set'] = [draw(st.sampled_from(['holdout', '', None, 3, 'TRAIN', 'dev']))
                         for _ in range(len(df))]
        elif what == 'rename':
            df = df.rename(columns={col: draw(st.sampled_from(
                [str(col).upper(), str(col) + '_', 'image', 'Image ', 0]))})
        elif what == 'cell':
            df = df.astype({col: object})
            df.at[df.index[r], col] = draw(st.sampled_from([None, 'x', 1, [1, 2], {'a': 1}]))
    return pickle.dumps(df, protocol=protocol)
