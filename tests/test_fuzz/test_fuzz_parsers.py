"""Property-based tests (hypothesis) of every input parser of mmceph.

Property, for each parser: on any input, valid or malformed, it either succeeds and its
output is valid (JSON that xtcocotools and the dataset validator load, keypoints inside
their images; for well-formed inputs built by the strategy, exactly the expected values),
or it raises its own clear error type whose message names the offending file, leaving no
output behind. Any other exception, a crash or a memory blow-up fails the test.

Parsers: ISBI 2015 txt (``isbi2015``), WebCeph2k CSV (``webceph2k``), the photograph
pickle (``photo-pickle`` and its restricted unpickler), the COCO JSON reader of the
datasets (``CocoFormatError``), ``read_image`` of tools/infer.py (``ImageReadError``) and
the converters' image header reader (``image_size``).

Examples are derandomized (the same every run); the number run per parser and in all is
printed at the end of the module (``fuzz cases tried: ...``). For a longer search:
``MMCEPH_FUZZ_SCALE=20 MMCEPH_FUZZ_RANDOM=1 pytest tests/test_fuzz/test_fuzz_parsers.py``.
"""
import contextlib
import io
import json
import os
import os.path as osp
import pickle
import time

import fuzz_coco
import fuzz_common
import fuzz_images
import fuzz_isbi
import fuzz_pickle
import fuzz_webceph
import numpy as np
import pytest
from fuzz_common import CASES, count, fuzz_settings
from hypothesis import given, note
from hypothesis import strategies as st


@pytest.fixture(scope='module', autouse=True)
def report_cases(request):
    """Print how many cases each parser was tried on (visible even with -q)."""
    start = time.perf_counter()
    yield
    total = sum(CASES.values())
    line = (f'fuzz cases tried: {total} in {time.perf_counter() - start:.1f} s ('
            + ', '.join(f'{k}={v}' for k, v in sorted(CASES.items())) + ')')
    capman = request.config.pluginmanager.getplugin('capturemanager')
    with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
        print('\n' + line)
    report = os.environ.get('MMCEPH_FUZZ_REPORT')
    if report:
        with open(report, 'w') as f:
            json.dump(dict(total=total, per_parser=dict(CASES)), f, indent=1)


@pytest.fixture(scope='module')
def worker():
    w = fuzz_common.Worker()
    yield w
    w.stop()


def assert_names(message, name):
    assert name in message, f'the error does not name {name!r}: {message}'


# =========================================================================== ISBI txt
@pytest.fixture(scope='module')
def isbi_root():
    with fuzz_common.temp_dir() as root:
        fuzz_isbi.make_isbi_tree(root)
        yield root


@fuzz_settings(400)
@given(case=fuzz_isbi.isbi_txt())
def test_isbi_txt(isbi_root, case):
    data, expected = case
    count('isbi2015 txt')
    reference = fuzz_isbi.reference_isbi(data)
    if expected is not None:      # the strategy's well-formed files are read as written
        assert reference is not None
        np.testing.assert_allclose(reference[0], expected[0])
        assert reference[1] == expected[1]
    fuzz_common.write_bytes(osp.join(isbi_root, 'AnnotationsByMD', '400_senior', '002.txt'), data)
    with fuzz_common.temp_dir() as tmp:
        out = osp.join(tmp, 'out')
        err, _ = fuzz_common.run_converter(['isbi2015', '--root', isbi_root, '--out', out])
        if err is not None:
            assert reference is None, f'a valid file was refused: {err}'
            assert_names(str(err), '002.txt')
            fuzz_common.assert_no_output(out)
            return
        assert reference is not None, 'a malformed file was accepted'
        docs = fuzz_common.check_dataset_output(out, 19, ['train', 'test1'], image_root=isbi_root)
        img, ann = next((i, a) for i, a in zip(docs['train']['images'],
                                               docs['train']['annotations'])
                        if i['file_name'].endswith('/002.png'))
        kp = np.array(ann['keypoints']).reshape(19, 3)
        np.testing.assert_allclose(kp[:, :2], np.round(reference[0], 3), atol=1e-9)
        assert (kp[:, 2] == 2).all()
        assert list(img['isbi_classes'].values()) == reference[1]
        assert img['pixel_spacing'] == [0.1, 0.1]


# =========================================================================== WebCeph2k CSV
@pytest.fixture(scope='module')
def webceph_root():
    with fuzz_common.temp_dir() as root:
        fuzz_webceph.make_webceph_tree(root)
        os.makedirs(osp.join(root, 'csv'))
        yield root


NAMES = fuzz_webceph.webceph_names()


@fuzz_settings(250)
@given(case=fuzz_webceph.webceph_csv(NAMES))
def test_webceph_csv(webceph_root, case):
    data, expected = case
    count('webceph2k csv')
    note(f'mutations: {fuzz_common.MUTATIONS}')
    fuzz_common.write_bytes(osp.join(webceph_root, 'csv', 'train.csv'), data)
    with fuzz_common.temp_dir() as tmp:
        out = osp.join(tmp, 'out')
        err, _ = fuzz_common.run_converter(['webceph2k', '--csv-dir', osp.join(webceph_root, 'csv'),
                                   '--image-root', osp.join(webceph_root, 'img'), '--out', out])
        if err is not None:
            assert expected is None, f'a valid CSV was refused: {err}'
            assert_names(str(err), 'train.csv')
            fuzz_common.assert_no_output(out)
            return
        docs = fuzz_common.check_dataset_output(out, len(NAMES), ['train'],
                                       image_root=osp.join(webceph_root, 'img'))
        doc = docs['train']
        for img in doc['images']:
            sx, sy = img['pixel_spacing']
            assert sx == sy and 0 < sx < 100
        if expected is not None:
            assert len(doc['images']) == len(expected)
            for img, ann, (rel, spacing, points) in zip(doc['images'], doc['annotations'],
                                                         expected):
                assert img['file_name'] == rel
                assert img['pixel_spacing'] == [spacing, spacing]
                kp = np.array(ann['keypoints']).reshape(-1, 3)
                missing = np.isnan(points[:, 0])
                assert (kp[missing] == 0).all() and (kp[~missing, 2] == 2).all()
                np.testing.assert_allclose(kp[~missing, :2], points[~missing], atol=1e-9)


# =========================================================================== photo pickle
KEYPOINTS = fuzz_pickle.photo_keypoints()


def convert_pickle(worker, data, tmp, args=()):
    """Convert in the sandboxed worker; return ``(answer, out)``; check the error side."""
    path = osp.join(tmp, 'photos.pkl')
    fuzz_common.write_bytes(path, data)
    out = osp.join(tmp, 'out')
    answer = worker.call('convert', argv=['photo-pickle', '--pickle', path, '--out', out,
                                          *args])
    if answer['status'] == 'error':
        assert answer['type'] == 'ConversionError', (
            f"{answer['type']} escaped the converter:\n{answer['traceback']}")
        assert 'MemoryError' not in answer['message'], (
            f"a {len(data)}-byte pickle exhausted the memory cap: {answer['message']}")
        assert_names(answer['message'], 'photos.pkl')
        fuzz_common.assert_no_output(out)
    return answer, out


def check_photo_output(out, expected):
    from PIL import Image
    docs = fuzz_common.check_dataset_output(out, len(KEYPOINTS), image_root=out)
    seen = {}
    for split, doc in docs.items():
        assert split in ('train', 'val', 'test')
        for img, ann in zip(doc['images'], doc['annotations']):
            assert img['pixel_spacing'] is None
            seen[img['patient_id']] = (split, img, ann)
    leftovers = [n for n in os.listdir(out) if n.startswith('.')]
    assert not leftovers, leftovers
    if expected is None:
        return
    assert sorted(seen) == sorted(expected)
    for pid, (split, pixels, points) in expected.items():
        got_split, img, ann = seen[pid]
        if split is not None:
            assert got_split == split
        stored = np.asarray(Image.open(osp.join(out, img['file_name'])))
        np.testing.assert_array_equal(stored, pixels)
        assert img['modality'] == ('photo' if pixels.ndim == 3 else 'depth')
        kp = np.array(ann['keypoints']).reshape(-1, 3)
        missing = np.isnan(points[:, 0])
        assert (kp[missing] == 0).all() and (kp[~missing, 2] == 2).all()
        np.testing.assert_allclose(kp[~missing, :2], points[~missing], atol=1e-9)


@fuzz_settings(400)
@given(case=fuzz_pickle.photo_pickle(KEYPOINTS))
def test_photo_pickle(worker, case):
    data, expected, args = case
    count('photo pickle')
    note(f'mutations: {fuzz_common.MUTATIONS}, arguments: {args}')
    with fuzz_common.temp_dir() as tmp:
        answer, out = convert_pickle(worker, data, tmp, args)
        if answer['status'] == 'error':
            assert expected is None, f"a valid pickle was refused: {answer['message']}"
            return
        check_photo_output(out, expected)


@pytest.mark.parametrize('name', sorted(fuzz_pickle.crafted_pickles())
                         + sorted(fuzz_pickle.refused_objects()))
def test_photo_pickle_crafted(worker, name):
    """Hand-made attacks on the restricted unpickler: refused cleanly, never a crash or a
    memory blow-up."""
    count('photo pickle')
    crafted = fuzz_pickle.crafted_pickles()
    data = crafted[name] if name in crafted else pickle.dumps(fuzz_pickle.refused_objects()[name])
    with fuzz_common.temp_dir() as tmp:
        answer, _ = convert_pickle(worker, data, tmp)
    assert answer['status'] == 'error'
    assert 'refused' in answer['message'] or 'not a pandas DataFrame' in answer['message'] \
        or 'not a readable pickle' in answer['message'], answer['message']
    # the refused global is named (os.getcwd is posix's)
    if name in fuzz_pickle.refused_objects():
        assert 'refused' in answer['message'] and name.split('.')[-1] in answer['message']


def _tampered(df, change):
    """Pickle ``df`` (protocol 2) with ``change(obj)`` applied to every object: it
    returns a reduce tuple for the numpy objects it tampers with, None for the others."""
    class Tamper(pickle.Pickler):
        def reducer_override(self, obj):
            from pandas.core.internals.managers import BlockManager
            if isinstance(obj, (np.ndarray, np.dtype, BlockManager)):
                reduced = change(obj)
                if reduced is not None:
                    return reduced
            return NotImplemented
    buf = io.BytesIO()
    Tamper(buf, protocol=2).dump(df)
    return buf.getvalue()


def _photo_frame(n=3, **columns):
    import pandas as pd
    rng = np.random.default_rng(0)
    rows = [{'patient_id': f'P{i}', 'Image': rng.integers(0, 255, (6, 6, 3), dtype=np.uint8),
             **{f'{k}_{c}': 1.0 for k in KEYPOINTS for c in 'xy'}} for i in range(n)]
    return pd.DataFrame(rows).assign(**columns)


def _short_object_list(arr):
    """Object arrays whose state lists one item for many (numpy leaves the rest
    uninitialised)."""
    if isinstance(arr, np.ndarray) and arr.dtype == object and arr.size > 1:
        func, args, state = arr.__reduce__()
        return func, args, state[:4] + (state[4][:1],)


def _categorical_codes_out_of_range(arr):
    """The 'set' column's codes pointing past its categories (pandas reads out of bounds)."""
    if isinstance(arr, np.ndarray) and arr.dtype == np.int8 and arr.size == 3:
        return np.array([0, 100, -50], np.int8).__reduce__()


def _forged_object_dtype(obj):
    """uint8 images whose dtype claims to hold objects (numpy would write 8-byte pointers
    into 1-byte cells)."""
    if isinstance(obj, np.dtype) and obj == np.uint8:
        func, args, state = obj.__reduce__()
        return func, args, state[:-1] + (63,)
    if isinstance(obj, np.ndarray) and obj.dtype == np.uint8 and obj.ndim == 3:
        func, args, state = obj.__reduce__()
        return func, args, state[:4] + ([0] * obj.size,)


def _huge_lazy_block(obj):
    """A float block whose values are a RangeIndex of 10**9 rows (lazy until used)."""
    import pandas as pd
    if isinstance(obj, np.ndarray) and obj.dtype == np.float64 and obj.ndim == 2:
        from pandas._libs.internals import _unpickle_block
        return _unpickle_block, (pd.RangeIndex(10 ** 9), slice(0, 1, 1), 1)


def _unverified_huge_index(obj):
    """The block manager rebuilt without its integrity check, on a 10**9-row index."""
    import pandas as pd
    from pandas.core.internals.managers import BlockManager
    if isinstance(obj, BlockManager) and obj.ndim == 2:
        return BlockManager, (tuple(obj.blocks), [obj.axes[0], pd.RangeIndex(10 ** 9)], False)


@pytest.mark.parametrize('change', [_short_object_list, _categorical_codes_out_of_range,
                                    _forged_object_dtype, _huge_lazy_block,
                                    _unverified_huge_index])
def test_photo_pickle_tampered_frames(worker, change):
    """Real DataFrames whose numpy states were tampered with: numpy/pandas would read
    uninitialised or out-of-bounds memory (a crash, not an error) when the converter
    reads the cells."""
    import pandas as pd
    count('photo pickle')
    df = _photo_frame(set=pd.Categorical(['train', 'test', 'train']))
    if change is _short_object_list:
        df = df.astype({'patient_id': object, 'Image': object, 'sella_x': object})
    with fuzz_common.temp_dir() as tmp:
        answer, _ = convert_pickle(worker, _tampered(df, change), tmp)
    assert answer['status'] == 'error', answer
    assert any(s in answer['message'] for s in ('refused', 'corrupt DataFrame',
                                                 'not a readable pickle')), answer


# =========================================================================== CLI options
OPTION_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10 ** 20, 10 ** 20).map(str),
    st.sampled_from(['', 'abc', '1e400', '-0', '0x10', ' 0.1 ', '0.05', '1', '0', '3']))


def run_main(argv):
    """``(exit status, stderr)`` of the CLI run in-process (argparse errors exit 2)."""
    from data_converters.__main__ import main
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exit_:
            rc = exit_.code
    return rc, err.getvalue()


@pytest.fixture(scope='module')
def photo_pickle_file():
    with fuzz_common.temp_dir() as tmp:
        path = osp.join(tmp, 'photos.pkl')
        _photo_frame(n=10).to_pickle(path)
        yield path


@fuzz_settings(60)
@given(option=st.sampled_from(['--roi-margin', '--val-fraction', '--test-fraction', '--seed']),
       value=OPTION_VALUES)
def test_cli_numeric_options(isbi_root, photo_pickle_file, option, value):
    """Numeric options: accepted with a valid output, or exit status 2 with a message that
    names the option (or the input); never a traceback or a NaN in the output."""
    count('cli options')
    ann = osp.join(isbi_root, 'AnnotationsByMD', '400_senior')
    with open(osp.join(ann, '001.txt'), 'rb') as f:      # undo test_isbi_txt's last example
        fuzz_common.write_bytes(osp.join(ann, '002.txt'), f.read())
    with fuzz_common.temp_dir() as tmp:
        out = osp.join(tmp, 'out')
        if option == '--roi-margin':
            argv, k, source = ['isbi2015', '--root', isbi_root], 19, isbi_root
        else:
            argv, k, source = ['photo-pickle', '--pickle', photo_pickle_file], len(KEYPOINTS), None
        rc, stderr = run_main(argv + ['--out', out, f'{option}={value}'])
        if rc == 0:
            fuzz_common.check_dataset_output(out, k, image_root=source or out)
            return
        assert rc == 2, stderr
        assert option in stderr or 'photos.pkl' in stderr, stderr
        assert 'Traceback' not in stderr
        fuzz_common.assert_no_output(out)


# =========================================================================== COCO JSON
@pytest.fixture(scope='module')
def dataset_cls():
    from mmengine.registry import init_default_scope

    import mmceph.registration  # noqa: F401
    from mmceph.datasets import ISBI2015Dataset
    init_default_scope('mmpose')
    return ISBI2015Dataset


def build_dataset(cls, ann_file):
    """The dataset as configs build it, minus serialisation (whose gc.collect() takes
    0.3 s per build here; it only pickles the list that loading produced)."""
    with contextlib.redirect_stdout(io.StringIO()):     # xtcocotools prints progress
        return cls(ann_file=ann_file, data_root='', data_prefix=dict(img=''), pipeline=[],
                   test_mode=True, serialize_data=False)


@fuzz_settings(700)
@given(case=fuzz_coco.coco_file())
def test_coco_json(dataset_cls, case):
    from mmceph.formats.coco import CocoFormatError
    data, valid = case
    count('coco json (dataset)')
    with fuzz_common.temp_dir() as tmp:
        path = osp.join(tmp, 'annotations', 'train.json')
        os.makedirs(osp.dirname(path))
        fuzz_common.write_bytes(path, data)
        try:
            dataset = build_dataset(dataset_cls, path)
        except CocoFormatError as err:
            assert valid is not True, f'a valid file was refused: {err}'
            assert_names(str(err), 'train.json')
            return
        doc = json.loads(data)
        annotated = {a['image_id'] for a in doc['annotations']}
        assert len(dataset) <= len(doc['annotations'])
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            assert info['keypoints'].shape == (1, fuzz_coco.COCO_K, 2)
            assert np.isfinite(info['keypoints']).all() and np.isfinite(info['bbox']).all()
            assert info['img_id'] in annotated
            spacing = info['pixel_spacing']
            assert spacing is None or (len(spacing) == 2 and min(spacing) > 0)
        if valid:
            usable = [a for a in doc['annotations'] if a['num_keypoints'] > 0]
            assert len(dataset) == len(usable)


def _roi_file(roi):
    return json.dumps(dict(roi_xyxy_normalised=roi)).encode()


def _json_file(value):
    return json.dumps(value).encode()


@fuzz_settings(120)
@given(data=st.one_of(
    st.builds(_roi_file,
              st.lists(st.one_of(st.floats(-0.5, 1.5), st.just(float('nan')), st.none(),
                                 st.text(max_size=3)), max_size=5)),
    st.builds(_json_file, fuzz_coco.json_values),
    st.binary(max_size=40)))
def test_coco_roi_prior(dataset_cls, data):
    """roi_prior.json beside annotations/ is read with the dataset: same property."""
    from mmceph.formats.coco import CocoFormatError
    count('roi_prior json (dataset)')
    with fuzz_common.temp_dir() as tmp:
        path = osp.join(tmp, 'annotations', 'train.json')
        os.makedirs(osp.dirname(path))
        fuzz_common.write_bytes(path, json.dumps(dict(images=[], annotations=[],
                                             categories=[dict(id=1)])).encode())
        fuzz_common.write_bytes(osp.join(tmp, 'roi_prior.json'), data)
        try:
            dataset = build_dataset(dataset_cls, path)
        except CocoFormatError as err:
            assert_names(str(err), 'roi_prior.json')
            return
        x0, y0, x1, y1 = dataset.metainfo['roi_prior']
        assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1


# --------------------------------------------------------------- COCO validator unit tests
def _doc():
    img = dict(id=7, file_name='a.png', width=100, height=80, pixel_spacing=[0.1, 0.1])
    ann = dict(id=3, image_id=7, category_id=1, keypoints=[10, 10, 2] * 19,
               bbox=[0, 0, 100, 80], num_keypoints=19, area=8000.0, iscrowd=0)
    return dict(images=[img], annotations=[ann],
                categories=[dict(id=1, name='c', keypoints=[f'p{i}' for i in range(19)])])


def _set(path, value):
    def apply(doc):
        target = doc
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return doc
    return apply


BAD_DOCS = {
    'top level not an object': (lambda d: [d], '(top level)'),
    'images missing': (_set(('images',), KeyError), "missing key 'images'"),
    'annotations not a list': (_set(('annotations',), {}), 'annotations: expected an array'),
    'two categories': (lambda d: {**d, 'categories': d['categories'] * 2}, 'exactly one'),
    'no category': (_set(('categories',), []), 'exactly one category, got 0'),
    'category id missing': (_set(('categories', 0, 'id'), KeyError), 'categories[0]'),
    'category names wrong count': (_set(('categories', 0, 'keypoints'), ['a']),
                                   'categories[0].keypoints'),
    'image not an object': (_set(('images', 0), 5), 'images[0]: expected an object'),
    'image id a string': (_set(('images', 0, 'id'), '7'), 'images[0].id'),
    'image id a boolean': (_set(('images', 0, 'id'), True), 'images[0].id'),
    'duplicate image id': (lambda d: {**d, 'images': d['images'] * 2}, 'duplicate image id 7'),
    'file_name missing': (_set(('images', 0, 'file_name'), KeyError), "missing key 'file_name'"),
    'file_name empty': (_set(('images', 0, 'file_name'), ''), 'images[0].file_name'),
    'width zero': (_set(('images', 0, 'width'), 0), 'images[0].width'),
    'height a float': (_set(('images', 0, 'height'), 80.5), 'images[0].height'),
    'spacing one value': (_set(('images', 0, 'pixel_spacing'), [0.1]),
                          'images[0].pixel_spacing'),
    'spacing a number': (_set(('images', 0, 'pixel_spacing'), 0.1), 'images[0].pixel_spacing'),
    'spacing zero': (_set(('images', 0, 'pixel_spacing'), [0, 0.1]),
                     'images[0].pixel_spacing[0]'),
    'spacing negative': (_set(('images', 0, 'pixel_spacing'), [0.1, -0.1]),
                         'images[0].pixel_spacing[1]'),
    'spacing NaN': (_set(('images', 0, 'pixel_spacing'), [float('nan'), 0.1]),
                    'images[0].pixel_spacing[0]'),
    'annotation id missing': (_set(('annotations', 0, 'id'), KeyError), 'annotations[0]'),
    'duplicate annotation id': (lambda d: {**d, 'annotations': d['annotations'] * 2},
                                'duplicate annotation id 3'),
    'image_id unknown': (_set(('annotations', 0, 'image_id'), 8), 'annotations[0].image_id'),
    'category_id unknown': (_set(('annotations', 0, 'category_id'), 2),
                            'annotations[0].category_id'),
    'keypoints missing': (_set(('annotations', 0, 'keypoints'), KeyError), "'keypoints'"),
    'keypoints too short': (_set(('annotations', 0, 'keypoints'), [1, 1, 2] * 18),
                            'annotations[0].keypoints: expected 57 numbers'),
    'keypoints not numbers': (_set(('annotations', 0, 'keypoints'), ['1'] * 57),
                              'annotations[0].keypoints[0]'),
    'keypoint NaN': (_set(('annotations', 0, 'keypoints', 4), float('nan')),
                     'annotations[0].keypoints[4]'),
    'keypoint huge int': (_set(('annotations', 0, 'keypoints', 0), 10 ** 400),
                          'annotations[0].keypoints[0]'),
    'keypoint beyond float32': (_set(('annotations', 0, 'keypoints', 3), 1e300),
                                'annotations[0].keypoints[3]: 1e+300 is too large'),
    'visibility 3': (_set(('annotations', 0, 'keypoints', 5), 3), 'annotations[0].keypoints[5]'),
    'bbox three numbers': (_set(('annotations', 0, 'bbox'), [0, 0, 1]), 'annotations[0].bbox'),
    'bbox negative width': (_set(('annotations', 0, 'bbox', 2), -5), 'annotations[0].bbox[2]'),
    'bbox zero height': (_set(('annotations', 0, 'bbox', 3), 0), 'annotations[0].bbox[3]'),
    'bbox string': (_set(('annotations', 0, 'bbox', 0), 'x'), 'annotations[0].bbox[0]'),
    'num_keypoints negative': (_set(('annotations', 0, 'num_keypoints'), -1),
                               'annotations[0].num_keypoints'),
    'area NaN': (_set(('annotations', 0, 'area'), float('nan')), 'annotations[0].area'),
    'iscrowd 2': (_set(('annotations', 0, 'iscrowd'), 2), 'annotations[0].iscrowd'),
}


@pytest.mark.parametrize('name', sorted(BAD_DOCS))
def test_coco_validator_unit(tmp_path, name):
    from mmceph.formats.coco import CocoFormatError, load_coco_json
    mutate, expected = BAD_DOCS[name]
    path = tmp_path / 'bad.json'
    path.write_text(json.dumps(mutate(_doc())))
    with pytest.raises(CocoFormatError) as err:
        load_coco_json(str(path), 19)
    assert str(err.value).startswith(f'{path}: ') and expected in str(err.value)


@pytest.mark.parametrize('data,expected', [
    (b'', 'empty'), (b'  \n', 'empty'), (b'\xef\xbb\xbf{}', 'byte-order mark'),
    (b'{"images": [\xff]}', 'not UTF-8'), (b'{"images": [', 'not valid JSON'),
    (b'[' * 100000, 'not valid JSON'), (b'{"a": ' + b'1' * 5000 + b'}', 'not valid JSON'),
], ids=['empty', 'blank', 'bom', 'latin1', 'truncated', 'deep', 'long-int'])
def test_coco_validator_unreadable_files(tmp_path, data, expected):
    from mmceph.formats.coco import CocoFormatError, load_coco_json
    path = tmp_path / 'bad.json'
    path.write_bytes(data)
    with pytest.raises(CocoFormatError, match=expected) as err:
        load_coco_json(str(path), 19)
    assert str(path) in str(err.value)


def test_coco_validator_accepts_converter_output(tmp_path):
    from data_converters.writer.coco import ImageRecord, to_coco
    from mmceph.formats.coco import load_coco_json
    kp = np.full((19, 2), np.nan)
    kp[:5] = 3.0
    doc = to_coco([ImageRecord('a.png', 10, 10, kp, None, 'x'),
                   ImageRecord('b.png', 10, 10, kp, (0.1, 0.2), 'x')], [f'p{i}' for i in range(19)])
    path = tmp_path / 'ok.json'
    path.write_text(json.dumps(doc))
    assert load_coco_json(str(path), 19) == doc


def test_dataset_names_file_and_json_path(dataset_cls, tmp_path):
    from mmceph.formats.coco import CocoFormatError
    doc = _doc()
    doc['annotations'][0]['keypoints'] = doc['annotations'][0]['keypoints'][:-3]
    path = tmp_path / 'annotations' / 'train.json'
    path.parent.mkdir()
    path.write_text(json.dumps(doc))
    with pytest.raises(CocoFormatError, match=r'train\.json: annotations\[0\]\.keypoints'):
        build_dataset(dataset_cls, str(path))


# =========================================================================== infer inputs
@pytest.fixture(scope='module')
def image_templates():
    return fuzz_images.image_templates()


def check_image_answer(answer, path, expected):
    if answer['status'] == 'error':
        assert answer['type'] == 'ImageReadError', (
            f"{answer['type']} escaped read_image:\n{answer['traceback']}")
        assert 'MemoryError' not in answer['message'], answer['message']
        assert_names(answer['message'], osp.basename(path))
        assert expected in (None, 'invalid'), f"a valid image was refused: {answer['message']}"
        return
    assert expected != 'invalid', f'an invalid file was accepted: {answer}'
    result = answer['result']
    h, w, c = result['shape']
    assert c == 3 and h >= 1 and w >= 1 and result['dtype'] == 'uint8' and result['contiguous']
    spacing = result['spacing']
    assert spacing is None or (len(spacing) == 2 and all(0 < v < 1e6 for v in spacing))
    if expected is not None:
        eh, ew, espacing = expected
        assert (h, w) == (eh, ew)
        if espacing is None:
            assert spacing is None
        else:
            np.testing.assert_allclose(spacing, espacing)


@fuzz_settings(600)
@given(data=st.data())
def test_infer_read_image(worker, image_templates, data):
    content, ext, expected = data.draw(fuzz_images.image_file(image_templates))
    count('infer read_image')
    with fuzz_common.temp_dir() as tmp:
        path = osp.join(tmp, f'input image{ext}')
        fuzz_common.write_bytes(path, content)
        check_image_answer(worker.call('read_image', path=path), path, expected)


def test_infer_read_image_not_a_file(worker, tmp_path):
    count('infer read_image')
    for path in (str(tmp_path / 'missing.png'), str(tmp_path)):
        answer = worker.call('read_image', path=path)
        assert answer['status'] == 'error' and answer['type'] == 'ImageReadError'
        assert path in answer['message']


@fuzz_settings(300)
@given(data=st.data())
def test_converter_image_size(worker, image_templates, data):
    """The converters' header reader (images named by ISBI folders and WebCeph CSVs)."""
    content, ext, expected = data.draw(fuzz_images.image_file(image_templates))
    count('converter image_size')
    with fuzz_common.temp_dir() as tmp:
        path = osp.join(tmp, f'image{ext}')
        fuzz_common.write_bytes(path, content)
        answer = worker.call('image_size', path=path)
        if answer['status'] == 'error':
            assert answer['type'] == 'ConversionError', (
                f"{answer['type']} escaped image_size:\n{answer['traceback']}")
            assert 'MemoryError' not in answer['message'], answer['message']
            assert_names(answer['message'], osp.basename(path))
            return
        w, h = answer['result']
        assert w >= 1 and h >= 1
        if expected not in (None, 'invalid') and not ext.endswith(('.dcm', '.dicom')):
            assert (h, w) == expected[:2]
