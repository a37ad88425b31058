"""Strategies, reference parsers and a sandboxed worker for tests/test_fuzz_parsers.py.

Every input parser of mmceph is fuzzed with hypothesis: the ISBI txt reader, the WebCeph2k
CSV reader, the photograph-pickle loader, the COCO JSON reader of the datasets and
``read_image`` of tools/infer.py. The property is the same for all: a parser either
succeeds and its output is valid, or raises its own error type with a message that names
the offending file, leaving no output behind.

Untrusted pickles and image files are parsed in a worker process (``Worker``) under a
memory cap, so an input that makes numpy, pandas, OpenCV or pydicom crash the
interpreter or allocate gigabytes is reported as a failing example instead of killing the
test run (or a machine shared with training jobs).
"""
import contextlib
import csv
import io
import json
import math
import os
import os.path as osp
import pickle
import re
import select
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

# --------------------------------------------------------------------------- settings
# Reproducible in CI: derandomize (the same examples every run), no example database,
# no deadline (the machine is shared with training jobs). MMCEPH_FUZZ_SCALE multiplies
# every test's max_examples and MMCEPH_FUZZ_RANDOM=1 draws fresh random examples, for a
# longer local run: MMCEPH_FUZZ_SCALE=20 MMCEPH_FUZZ_RANDOM=1 pytest tests/test_fuzz_parsers.py
settings.register_profile(
    'mmceph-fuzz', derandomize=os.environ.get('MMCEPH_FUZZ_RANDOM') != '1', database=None,
    deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large, HealthCheck.large_base_example])
FUZZ_PROFILE = settings.get_profile('mmceph-fuzz')
SCALE = float(os.environ.get('MMCEPH_FUZZ_SCALE', '1'))


def fuzz_settings(max_examples):
    """The mmceph-fuzz profile with this test's number of examples (times SCALE)."""
    return settings(FUZZ_PROFILE, max_examples=max(1, int(max_examples * SCALE)))


CASES = Counter()        # parser -> examples actually run (hypothesis examples + fixed cases)
MUTATIONS = []           # the mutations of the last example drawn (for failure messages)


def count(parser):
    CASES[parser] += 1


# --------------------------------------------------------------------------- worker
class WorkerCrash(AssertionError):
    """The worker died (segfault, abort, out of memory) or hung on an input."""


class Worker:
    """A Python process that runs one parser call per request, under a memory cap.

    ``call(job, **kwargs)`` returns the worker's answer dict: ``status`` 'ok' (with
    ``result``), 'error' (with ``type``, ``message`` and ``traceback``). A crash or a hang
    raises :class:`WorkerCrash` and the next call starts a fresh worker.
    """

    def __init__(self, timeout=60.0, memory_mb=1500):
        self.timeout, self.memory_mb, self.proc = timeout, memory_mb, None

    def start(self):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, osp.join(REPO, 'tests')]),
                   OMP_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1', MKL_NUM_THREADS='1',
                   PYTHONFAULTHANDLER='1', OPENCV_LOG_LEVEL='FATAL')
        # stderr goes to a file, not a pipe: C libraries write warnings straight to fd 2,
        # and a full pipe would block the worker
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, '-c', 'import fuzz_helpers; fuzz_helpers.worker_main()',
             str(self.memory_mb)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, env=env, cwd=REPO)
        answer = self._read(120.0)          # the worker says 'ready' once imports are done
        assert answer.get('status') == 'ready', answer

    def _read(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.stop()
            raise WorkerCrash(f'the worker did not answer within {timeout:g} s (hang?)')
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self._stderr.seek(0)
            stderr = self._stderr.read().decode(errors='replace')[-3000:]
            self._stderr.close()
            self.proc = None
            raise WorkerCrash(f'the worker died with exit code {code} (negative = signal):\n'
                              f'{stderr}')
        return json.loads(line)

    def call(self, job, **kwargs):
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self.proc.stdin.write((json.dumps(dict(job=job, **kwargs)) + '\n').encode())
        self.proc.stdin.flush()
        return self._read(self.timeout)

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self._stderr.close()


def _cap_memory(extra_mb):
    """Limit this process's address space to what it uses now plus ``extra_mb``."""
    import resource
    with open('/proc/self/status') as f:
        vm = next(int(line.split()[1]) for line in f if line.startswith('VmSize:')) * 1024
    limit = vm + extra_mb * 2 ** 20
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _load_image_io():
    """mmceph/apis/image_io.py without importing mmceph (which imports MMPose)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'mmceph_image_io', osp.join(REPO, 'mmceph', 'apis', 'image_io.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def worker_main():
    """The worker's loop: one JSON request per stdin line, one JSON answer per line."""
    extra_mb = int(sys.argv[1])
    answers = os.fdopen(os.dup(1), 'w')
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)                       # converters print summaries: keep them out
    import cv2  # noqa: F401
    import pandas  # noqa: F401
    import pydicom  # noqa: F401

    from data_converters.__main__ import build_parser
    from data_converters.errors import ConversionError
    from data_converters.images import image_size
    image_io = _load_image_io()
    _cap_memory(extra_mb)
    answers.write(json.dumps(dict(status='ready')) + '\n')
    answers.flush()
    for line in sys.stdin:
        request = json.loads(line)
        job = request.pop('job')
        try:
            with contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                if job == 'convert':
                    args = build_parser().parse_args(request['argv'])
                    args.func(args)
                    result = None
                elif job == 'read_image':
                    loaded = image_io.read_image(request['path'])
                    image, spacing = image_io.to_uint8_bgr(loaded.pixels), loaded.spacing
                    result = dict(shape=list(image.shape), dtype=str(image.dtype),
                                  contiguous=bool(image.flags['C_CONTIGUOUS']),
                                  spacing=None if spacing is None else [float(v) for v in spacing],
                                  source=loaded.spacing_source,
                                  spacing_error=loaded.spacing_error)
                elif job == 'image_size':
                    result = list(image_size(request['path']))
                else:
                    raise ValueError(f'unknown job {job!r}')
            answer = dict(status='ok', result=result)
        except BaseException as err:          # noqa: B902 - report everything to the parent
            kind = ('ConversionError' if isinstance(err, ConversionError) else
                    'ImageReadError' if isinstance(err, image_io.ImageReadError) else
                    type(err).__name__)
            answer = dict(status='error', type=kind, message=str(err)[:4000],
                          traceback=traceback.format_exc()[-4000:])
        answers.write(json.dumps(answer) + '\n')
        answers.flush()


# --------------------------------------------------------------------------- in-process runs
def run_converter(argv):
    """Run one converter in-process: ``(None, None)`` on success or ``(exception, stderr)``
    for a ConversionError. Any other exception propagates (and fails the test)."""
    from data_converters.__main__ import build_parser
    from data_converters.errors import ConversionError
    args = build_parser().parse_args(argv)
    err_text = io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err_text):
            args.func(args)
    except ConversionError as err:
        return err, err_text.getvalue()
    return None, err_text.getvalue()


def output_files(out):
    """Everything a converter may have left in ``out`` (hidden temporaries included)."""
    if not osp.isdir(out):
        return []
    return sorted(osp.relpath(osp.join(d, f), out) for d, _, files in os.walk(out)
                  for f in files) + sorted(
        osp.relpath(osp.join(d, n), out) for d, dirs, _ in os.walk(out) for n in dirs)


def assert_no_output(out):
    left = output_files(out)
    assert not left, f'a failed conversion left files behind: {left}'


def check_dataset_output(out, num_keypoints, expected_splits=None, image_root=None):
    """Every JSON in OUT/annotations loads with xtcocotools, passes the dataset's
    validator, and every labelled keypoint lies inside its image; the ROI prior is sane.
    Returns ``{split: doc}``."""
    from xtcocotools.coco import COCO

    from mmceph.formats.coco import load_coco_json
    from mmceph.formats.roi_prior import load_roi_prior
    ann_dir = osp.join(out, 'annotations')
    docs = {}
    for name in sorted(os.listdir(ann_dir)):
        assert name.endswith('.json') and not name.startswith('.'), name
        path = osp.join(ann_dir, name)
        doc = load_coco_json(path, num_keypoints)
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(path)
        assert sorted(coco.getImgIds()) == [img['id'] for img in doc['images']]
        for img, ann in zip(doc['images'], doc['annotations']):
            assert ann['image_id'] == img['id']
            kp = np.array(ann['keypoints'], float).reshape(num_keypoints, 3)
            labelled = kp[:, 2] > 0
            assert set(kp[:, 2].tolist()) <= {0, 2}
            assert (kp[~labelled] == 0).all()
            assert ann['num_keypoints'] == int(labelled.sum())
            w, h = img['width'], img['height']
            assert ((kp[labelled, 0] >= -0.5) & (kp[labelled, 0] <= w - 0.5)).all(), kp
            assert ((kp[labelled, 1] >= -0.5) & (kp[labelled, 1] <= h - 0.5)).all(), kp
            x, y, bw, bh = ann['bbox']
            assert bw > 0 and bh > 0 and x >= -1e-3 and y >= -1e-3
            assert x + bw <= w + 1e-3 and y + bh <= h + 1e-3
            if image_root is not None:
                assert osp.isfile(osp.join(image_root, img['file_name'])), img['file_name']
        docs[name[:-5]] = doc
    if expected_splits is not None:
        assert sorted(docs) == sorted(expected_splits)
    roi_file = osp.join(out, 'roi_prior.json')
    if osp.exists(roi_file):
        load_roi_prior(roi_file)
    return docs


# --------------------------------------------------------------------------- shared pieces
WEIRD_NUMBERS = ['nan', 'NaN', 'inf', '-inf', 'Infinity', '1e400', '-1e400', '1e308', '-1',
                 '-0.6', '1e-400', '0x10', '1_0', '\u0661\u0662', '\uff11\uff12', '1,5', '1.2.3',
                 '--1', '+-1', '.', 'e5', '1e', '', ' ', '9' * 5000, '1' + '0' * 400,
                 '\x00', '1\x00', 'null', 'None', 'True', '[1]', '"1"', '1 2', '12abc', '\u00a012']
WEIRD_TEXT = st.one_of(st.sampled_from(WEIRD_NUMBERS), st.text(max_size=12))


def number_text(draw, value, decimals):
    """One way of writing ``value`` (already rounded to ``decimals``) as a number."""
    style = draw(st.sampled_from(['plain', 'plus', 'zeros', 'exp', 'fixed']))
    text = f'{value:.{decimals}f}' if decimals else str(int(value))
    if style == 'plus':
        text = '+' + text
    elif style == 'zeros' and value >= 0:
        text = '00' + text
    elif style == 'exp':
        text = f'{value:.{decimals + 2}e}'
    elif style == 'fixed':
        text = f'{value:.{decimals + 1}f}'
    return text


@st.composite
def coordinate(draw, size, decimals=None):
    """``(value, text)`` of a coordinate inside an image side of ``size`` pixels."""
    decimals = draw(st.sampled_from([0, 0, 1, 2])) if decimals is None else decimals
    unit = 10 ** decimals
    value = draw(st.integers(0, (size - 1) * unit)) / unit
    return value, number_text(draw, value, decimals)


def mutate_bytes(draw, data):
    """One byte-level damage: truncate, splice random bytes, flip bytes, or replace all."""
    kind = draw(st.sampled_from(['truncate', 'insert', 'flip', 'replace', 'nul', 'utf16',
                                 'latin1']))
    if kind == 'truncate':
        return data[:draw(st.integers(0, max(0, len(data) - 1)))]
    if kind == 'insert':
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    if kind == 'flip' and data:
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(out) - 1))
            out[i] = draw(st.integers(0, 255))
        return bytes(out)
    if kind == 'nul':
        at = draw(st.integers(0, len(data)))
        return data[:at] + b'\x00' + data[at:]
    if kind == 'utf16':
        return data.decode('utf-8', 'replace').encode('utf-16')
    if kind == 'latin1':
        return data + 'é'.encode('latin-1')
    return draw(st.binary(max_size=200))


# --------------------------------------------------------------------------- ISBI txt
ISBI_SIZE = (64, 80)               # width, height of the fixture images
ISBI_LINE_ENDINGS = ['\n', '\n', '\r\n', '\r']
ISBI_SEPARATORS = [',', ',', ', ', ' ,', ' , ', ' ', '\t', ',\t', '  ']
BLANKS = ['', ' ', '\t', '  \t']
_NUM = r'[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?'
_POINT_RE = re.compile(rf'[ \t]*({_NUM})(?:[ \t]*,[ \t]*|[ \t]+)({_NUM})[ \t]*', re.ASCII)
_CLASS_RE = re.compile(r'[ \t]*([+-]?\d{1,9})[ \t]*', re.ASCII)


@st.composite
def isbi_valid(draw):
    """``(lines, points, classes)``: a well-formed annotation, written in any of the ways
    the reader accepts (separators, whitespace, number styles)."""
    w, h = ISBI_SIZE
    lines, points = [], []
    for _ in range(19):
        x, xt = draw(coordinate(w))
        y, yt = draw(coordinate(h))
        sep = draw(st.sampled_from(ISBI_SEPARATORS))
        lead, trail = draw(st.sampled_from(BLANKS)), draw(st.sampled_from(BLANKS))
        lines.append(f'{lead}{xt}{sep}{yt}{trail}')
        points.append((x, y))
    classes = draw(st.lists(st.integers(1, 4), min_size=8, max_size=8))
    for c in classes:
        lines.append(draw(st.sampled_from(BLANKS)) + draw(st.sampled_from([str(c), f'+{c}']))
                     + draw(st.sampled_from(BLANKS)))
    return lines, points, classes


def join_lines(draw, lines):
    """Join with per-line endings, optional trailing blank lines and BOM; UTF-8 bytes."""
    text = ''
    for i, line in enumerate(lines):
        text += line
        if i < len(lines) - 1 or draw(st.booleans()):
            text += draw(st.sampled_from(ISBI_LINE_ENDINGS))
    for _ in range(draw(st.integers(0, 2))):
        text += draw(st.sampled_from(BLANKS)) + draw(st.sampled_from(ISBI_LINE_ENDINGS))
    bom = '\ufeff' if draw(st.integers(0, 9)) == 0 else ''
    return (bom + text).encode('utf-8')


@st.composite
def isbi_txt(draw):
    """``(bytes, expected)``: ``expected`` is ``(points, classes)`` for an unmutated valid
    file and ``None`` for a possibly malformed one (the reference parser decides)."""
    lines, points, classes = draw(isbi_valid())
    n_mutations = draw(st.integers(0, 3))
    if n_mutations == 0:
        return join_lines(draw, lines), (points, classes)
    for _ in range(n_mutations):
        kind = draw(st.sampled_from(['delete', 'insert', 'duplicate', 'token', 'separator',
                                     'class', 'append', 'outside', 'whitespace', 'bytes']))
        i = draw(st.integers(0, len(lines) - 1)) if lines else 0
        if kind == 'delete' and lines:
            del lines[i]
        elif kind == 'insert':
            lines.insert(i, draw(st.one_of(st.sampled_from(BLANKS), st.text(max_size=10),
                                           st.just('12,34'))))
        elif kind == 'duplicate' and lines:
            lines.insert(i, lines[i])
        elif kind == 'token' and lines:
            parts = re.split(r'([,\s]+)', lines[i])
            j = draw(st.integers(0, len(parts) - 1))
            parts[j] = draw(WEIRD_TEXT)
            lines[i] = ''.join(parts)
        elif kind == 'separator' and lines:
            lines[i] = re.sub(r'[,\s]+', draw(st.sampled_from([';', ',,', ' ,, ', '', '/', '\x0b',
                                                                 '\u3000', '\u2028'])),
                              lines[i].strip(), count=1)
        elif kind == 'class':
            k = draw(st.integers(19, 26))
            if k < len(lines):
                lines[k] = draw(st.one_of(WEIRD_TEXT, st.sampled_from(['1.5', '2.0', '1 2',
                                                                        '1,2', '99999999999'])))
        elif kind == 'append':
            lines.append(draw(st.one_of(st.text(min_size=1, max_size=10), st.just('1'))))
        elif kind == 'outside' and lines:
            k = draw(st.integers(0, min(18, len(lines) - 1)))
            x = draw(st.sampled_from(['63.5', '63.6', '64', '-0.5', '-0.6', '-1', '1e6', '100']))
            lines[k] = draw(st.sampled_from([f'{x},10', f'10,{x}']))
        elif kind == 'whitespace' and lines:
            lines[i] = draw(st.sampled_from(['\t', '  ', '\x0c', '\u00a0', '\u200b'])) + lines[i]
    data = join_lines(draw, lines)
    if draw(st.integers(0, 3)) == 0:
        data = mutate_bytes(draw, data)
    return data, None


def reference_isbi(data, width=ISBI_SIZE[0], height=ISBI_SIZE[1]):
    """The documented ISBI txt format, read independently of the converter.

    UTF-8 (optional BOM), any line ending; after trailing whitespace is dropped exactly 19
    lines "x,y" / "x y" (ASCII decimal numbers, finite, inside the image: -0.5 <= x <=
    w - 0.5) then 8 integer class lines. Returns ``(points, classes)`` or ``None``.
    """
    try:
        text = data.decode('utf-8-sig')
    except UnicodeDecodeError:
        return None
    text = text.replace('\r\n', '\n').replace('\r', '\n')
    lines = text.rstrip().split('\n')
    if len(lines) != 27:
        return None
    points = []
    for line in lines[:19]:
        m = _POINT_RE.fullmatch(line)
        if not m:
            return None
        x, y = float(m.group(1)), float(m.group(2))
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
            return None
        points.append((x, y))
    classes = []
    for line in lines[19:]:
        m = _CLASS_RE.fullmatch(line)
        if not m:
            return None
        classes.append(int(m.group(1)))
    return points, classes


def png_bytes(width, height, channels=3, seed=0, dtype=np.uint8):
    import cv2
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    hi = 255 if dtype == np.uint8 else 65535
    return cv2.imencode('.png', rng.integers(0, hi, shape).astype(dtype))[1].tobytes()


def make_isbi_tree(root):
    """001/002 in TrainingData, 003 in Test1Data (64x80 PNGs) with valid senior txts."""
    w, h = ISBI_SIZE
    rng = np.random.default_rng(1)
    for folder, stems in (('TrainingData', ['001', '002']), ('Test1Data', ['003'])):
        os.makedirs(osp.join(root, 'RawImage', folder), exist_ok=True)
        for stem in stems:
            with open(osp.join(root, 'RawImage', folder, f'{stem}.png'), 'wb') as f:
                f.write(png_bytes(w, h, seed=int(stem)))
    ann = osp.join(root, 'AnnotationsByMD', '400_senior')
    os.makedirs(ann, exist_ok=True)
    for stem in ('001', '002', '003'):
        pts = rng.integers(1, min(w, h) - 1, (19, 2))
        with open(osp.join(ann, f'{stem}.txt'), 'w') as f:
            f.write('\n'.join([f'{x},{y}' for x, y in pts] + ['1'] * 8) + '\n')


# --------------------------------------------------------------------------- WebCeph2k CSV
WEBCEPH_IMAGES = {'a.png': (64, 80), 'sub/b.png': (80, 64)}


def webceph_names():
    from data_converters.landmarks import load
    return load('webceph2k').CSV_NAMES


@st.composite
def webceph_valid(draw, names):
    """``(header, rows, expected)``: a well-formed CSV as a header and rows of cells;
    ``expected`` lists ``(file_name, spacing, points with NaN = missing)`` per data row."""
    header = ['img_path', 'pixels'] + [f'{n}_{c}' for n in names for c in 'vxy']
    extra = draw(st.lists(st.sampled_from(['notes', 'Unnamed: 0', 'id', 'age']), unique=True,
                          max_size=2))
    rows, expected = [], []
    for _ in range(draw(st.integers(1, 3))):
        rel = draw(st.sampled_from(sorted(WEBCEPH_IMAGES)))
        w, h = WEBCEPH_IMAGES[rel]
        spacing = draw(st.sampled_from([0.1, 0.125, 0.08]))
        cells = {'img_path': draw(st.sampled_from([rel, rel.replace('/', '\\'),
                                                   rel.replace('.png', '.jpg')
                                                   if rel == 'a.png' else rel])),
                 'pixels': draw(st.sampled_from([repr(spacing), f' {spacing} ', f'{spacing:.3e}']))}
        points = np.full((len(names), 2), np.nan)
        for k, n in enumerate(names):
            how = draw(st.sampled_from(['visible'] * 6 + ['v0', 'v0_empty', 'y0']))
            if not rows and k == 0:
                how = 'visible'             # the ROI prior needs a labelled training point
            x, xt = draw(coordinate(w))
            y, yt = draw(coordinate(h))
            if how == 'visible' and y <= 0:
                y, yt = 1.0, '1'
            if how == 'visible':
                cells.update({f'{n}_v': draw(st.sampled_from(['1', '1.0', ' 1'])),
                              f'{n}_x': xt, f'{n}_y': yt})
                points[k] = x, y
            elif how == 'v0':
                cells.update({f'{n}_v': '0', f'{n}_x': xt, f'{n}_y': yt})
            elif how == 'v0_empty':
                cells.update({f'{n}_v': draw(st.sampled_from(['0', '0.0'])), f'{n}_x': '',
                              f'{n}_y': ''})
            else:
                cells.update({f'{n}_v': '1', f'{n}_x': xt,
                              f'{n}_y': draw(st.sampled_from(['0', '-1', '-12.5', '0.0']))})
        for e in extra:
            cells[e] = draw(st.sampled_from(['', 'a, b', 'x"y', 'line\nbreak', '42']))
        rows.append(cells)
        expected.append((rel, spacing, points))
    columns = header + extra
    if draw(st.booleans()):
        columns = draw(st.permutations(columns))
    return columns, rows, expected


def header_spelling(draw, name):
    return draw(st.sampled_from([name, name.upper(), name.lower(), f' {name}', f'{name} ']))


def write_csv(draw, columns, rows, spell=True):
    """CSV text for ``rows`` (dicts) in ``columns`` order, with random but valid quoting,
    line endings, blank lines and BOM."""
    buf = io.StringIO()
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    ending = draw(st.sampled_from(['\r\n', '\n']))
    writer = csv.writer(buf, quoting=quoting, lineterminator=ending)
    writer.writerow([header_spelling(draw, c) if spell else c for c in columns])
    for cells in rows:
        if draw(st.integers(0, 6)) == 0:
            buf.write(ending)                          # a blank line between rows
        writer.writerow([cells.get(c, '') for c in columns])
    text = buf.getvalue()
    if draw(st.integers(0, 4)) == 0:
        text = '\ufeff' + text
    return text.encode('utf-8')


@st.composite
def webceph_csv(draw, names):
    """``(bytes, expected)``: expected as in :func:`webceph_valid` for an unmutated file,
    ``None`` for a mutated (possibly malformed) one."""
    columns, rows, expected = draw(webceph_valid(names))
    MUTATIONS.clear()
    n_mutations = draw(st.integers(0, 3))
    if n_mutations == 0:
        return write_csv(draw, columns, rows), expected
    columns = list(columns)
    raw_rows = None                                 # set when rows become lists of cells
    for _ in range(n_mutations):
        kind = draw(st.sampled_from(['drop_column', 'rename_column', 'duplicate_column',
                                     'empty_cell', 'weird_cell', 'spacing', 'visibility',
                                     'img_path', 'short_row', 'long_row', 'all_missing',
                                     'no_rows', 'quote', 'huge_field', 'bytes']))
        MUTATIONS.append(kind)
        cell_col = draw(st.sampled_from(columns)) if columns else None
        r = draw(st.integers(0, len(rows) - 1)) if rows else None
        if kind == 'drop_column' and columns:
            columns.remove(cell_col)
        elif kind == 'rename_column' and columns:
            columns[columns.index(cell_col)] = draw(st.sampled_from(
                [cell_col + 's', cell_col.replace('_', ' '), cell_col[:-1], '']))
        elif kind == 'duplicate_column' and columns:
            columns.append(cell_col)
        elif kind in ('empty_cell', 'weird_cell') and rows:
            rows[r][cell_col] = '' if kind == 'empty_cell' else draw(WEIRD_TEXT)
        elif kind == 'spacing' and rows:
            rows[r]['pixels'] = draw(st.sampled_from(['0', '-0.1', '', 'abc', 'nan', 'inf',
                                                      '1e-320', '1e300', '0.1mm', '0,1']))
        elif kind == 'visibility' and rows:
            n = draw(st.sampled_from(names))
            rows[r][f'{n}_v'] = draw(st.sampled_from(['2', '-1', '0.5', '3', 'yes', '', 'nan',
                                                      '1e-9', '-0']))
        elif kind == 'img_path' and rows:
            rows[r]['img_path'] = draw(st.sampled_from(
                ['missing.png', '', '/etc/hostname', '../a.png', 'sub', 'a', 'A.PNG', 'a.png\x00',
                 'sub/../a.png', './a.png', 'x' * 300 + '.png', 'a.txt', ' a.png ']))
        elif kind == 'all_missing' and rows:
            for n in names:
                rows[r][f'{n}_v'] = '0'
        elif kind == 'no_rows':
            rows = []
        elif kind == 'quote' and rows:
            rows[r][cell_col] = draw(st.sampled_from(['"', 'a"b', '"unterminated', '\r', '\n']))
        elif kind in ('short_row', 'long_row', 'huge_field') and rows:
            raw_rows = raw_rows or {}
            raw_rows[r] = kind
        elif kind == 'bytes':
            pass
    text = write_csv(draw, columns, rows)
    if raw_rows:
        lines = text.decode('utf-8').split('\n')
        for r, kind in raw_rows.items():
            k = min(r + 1, len(lines) - 1)
            if kind == 'short_row':
                lines[k] = lines[k].rsplit(',', draw(st.integers(1, 5)))[0]
            elif kind == 'long_row':
                lines[k] = lines[k].rstrip('\r') + ',extra,' + '\r' * lines[k].endswith('\r')
            else:
                lines[k] = 'x' * 140000 + ',' + lines[k]
        text = '\n'.join(lines).encode('utf-8')
    if draw(st.integers(0, 3)) == 0 or kind == 'bytes':
        text = mutate_bytes(draw, text)
        MUTATIONS.append('bytes')
    return text, None


def make_webceph_tree(root):
    os.makedirs(osp.join(root, 'img', 'sub'))
    for i, (rel, (w, h)) in enumerate(sorted(WEBCEPH_IMAGES.items())):
        with open(osp.join(root, 'img', rel), 'wb') as f:
            f.write(png_bytes(w, h, seed=10 + i))


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


# --------------------------------------------------------------------------- COCO JSON
COCO_K = 19


@st.composite
def coco_valid(draw, k=COCO_K):
    """A well-formed annotation file as a dict (ids deliberately not 1..n)."""
    n = draw(st.integers(1, 3))
    images, annotations = [], []
    ids = draw(st.lists(st.integers(0, 10 ** 6), min_size=n, max_size=n, unique=True))
    for i, img_id in enumerate(ids):
        w, h = draw(st.integers(8, 400)), draw(st.integers(8, 400))
        spacing = draw(st.sampled_from([None, [0.1, 0.1], [0.1, 0.125], 'absent']))
        img = dict(id=img_id, file_name=f'images/{i}.png', width=w, height=h)
        if spacing != 'absent':
            img['pixel_spacing'] = spacing
        images.append(img)
        kpts = []
        for j in range(k):
            if draw(st.integers(0, 5)) == 0 and j:      # keypoint 1 always labelled
                kpts += [0, 0, 0]
            else:
                kpts += [draw(st.integers(0, w - 1)) + 0.5, draw(st.integers(0, h - 1)),
                         draw(st.sampled_from([1, 2]))]
        ann = dict(id=draw(st.integers(0, 10 ** 6)) * 10 + i, image_id=img_id, category_id=1,
                   keypoints=kpts, bbox=[0.0, 0.0, float(w), float(h)],
                   num_keypoints=sum(1 for v in kpts[2::3] if v))
        if draw(st.booleans()):
            ann['area'] = float(w * h)
        if draw(st.booleans()):
            ann['iscrowd'] = 0
        annotations.append(ann)
    cat = dict(id=1, name='cephalogram', supercategory='cephalogram')
    if draw(st.booleans()):
        cat['keypoints'] = [f'p{i}' for i in range(k)]
    return dict(info=dict(description='fuzz'), images=images, annotations=annotations,
                categories=[cat])


def _json_containers(children):
    return st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children,
                                                            max_size=4)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 6, 10 ** 6)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8)
    | st.sampled_from([10 ** 400, -1, 0, 0.0, '', '1']),
    _json_containers, max_leaves=8)


def json_paths(obj, prefix=()):
    """Every path (tuple of keys/indices) inside ``obj``, the root included."""
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from json_paths(value, prefix + (key,))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from json_paths(value, prefix + (i,))


def _parent(doc, path):
    for key in path[:-1]:
        doc = doc[key]
    return doc


@st.composite
def coco_file(draw, k=COCO_K):
    """``(bytes, valid)``: a JSON file and whether it was left well-formed."""
    import copy
    doc = draw(coco_valid(k))
    n_mutations = draw(st.integers(0, 3))
    if n_mutations == 0:
        return json.dumps(doc).encode(), True
    doc = copy.deepcopy(doc)
    targeted = [
        ('keypoints_length', lambda a: a['keypoints'].__setitem__(
            slice(None), a['keypoints'][:draw(st.sampled_from([0, 3, 54, 56]))]
            + [0] * draw(st.sampled_from([0, 1, 3])))),
        ('bbox_negative', lambda a: a['bbox'].__setitem__(draw(st.integers(2, 3)),
                                                          draw(st.sampled_from([0, -1, -0.0])))),
        ('image_id', lambda a: a.__setitem__('image_id', draw(st.sampled_from(
            [-1, 10 ** 7 + 1, '1', 1.0, None, True])))),
        ('visibility', lambda a: a['keypoints'].__setitem__(
            3 * draw(st.integers(0, k - 1)) + 2, draw(st.sampled_from([3, -1, 0.5, '2', None])))),
        ('keypoint_value', lambda a: a['keypoints'].__setitem__(
            draw(st.integers(0, 3 * k - 1)), draw(st.sampled_from(
                [float('nan'), float('inf'), '1', None, [1], 10 ** 400, True, 1e300, -1e39,
                 3e38])))),
    ]
    for _ in range(n_mutations):
        kind = draw(st.sampled_from(['delete', 'replace', 'append', 'targeted', 'targeted',
                                     'duplicate_id', 'categories', 'spacing', 'random']))
        paths = [p for p in json_paths(doc) if p]
        if kind == 'random':
            doc = draw(json_values)
        elif kind in ('delete', 'replace') and paths:
            path = draw(st.sampled_from(paths))
            parent = _parent(doc, path)
            if kind == 'delete':
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(json_values)
        elif kind == 'append' and paths:
            lists = [p for p in json_paths(doc) if isinstance(_parent(doc, p + (0,)), list)]
            if lists:
                target = _parent(doc, draw(st.sampled_from(lists)) + (0,))
                target.append(draw(json_values))
        elif kind == 'targeted' and isinstance(doc, dict) and doc.get('annotations'):
            ann = doc['annotations'][draw(st.integers(0, len(doc['annotations']) - 1))]
            if isinstance(ann, dict) and isinstance(ann.get('keypoints'), list) \
                    and len(ann['keypoints']) == 3 * k and isinstance(ann.get('bbox'), list):
                name, apply = draw(st.sampled_from(targeted))
                apply(ann)
        elif kind == 'duplicate_id' and isinstance(doc, dict):
            for key in ('images', 'annotations'):
                items = doc.get(key)
                if isinstance(items, list) and items and isinstance(items[0], dict):
                    items.append(dict(items[0]))
        elif kind == 'categories' and isinstance(doc, dict):
            doc['categories'] = draw(st.sampled_from([[], [dict(id=1), dict(id=2)], [dict(id='1')],
                                                      [dict(id=1, keypoints=['a'])], {}, None]))
        elif kind == 'spacing' and isinstance(doc, dict) and doc.get('images'):
            img = doc['images'][0]
            if isinstance(img, dict):
                img['pixel_spacing'] = draw(st.sampled_from(
                    [[0, 0.1], [-0.1, 0.1], [0.1], [0.1, 0.1, 0.1], 0.1, '0.1', [None, None],
                     [float('nan'), 0.1], ['0.1', '0.1'], [True, True]]))
    text = json.dumps(doc, allow_nan=True)
    how = draw(st.sampled_from(['plain'] * 6 + ['bom', 'latin1', 'truncate', 'bytes']))
    data = text.encode()
    if how == 'bom':
        data = b'\xef\xbb\xbf' + data
    elif how == 'latin1':
        data = data.replace(b'images/', 'imagés/'.encode('latin-1'), 1)
    elif how == 'truncate':
        data = data[:draw(st.integers(0, max(0, len(data) - 1)))]
    elif how == 'bytes':
        data = mutate_bytes(draw, data)
    return data, None


# --------------------------------------------------------------------------- images
def dicom_bytes(pixels, spacing=('0.1', '0.1'), photometric='MONOCHROME2',
                spacing_tag='PixelSpacing', frames=None):
    """A small uncompressed DICOM file (16-bit grey) with the given spacing strings."""
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = '1.2.3.4'
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset('x.dcm', {}, file_meta=meta, preamble=b'\0' * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, '1.2.3.4'
    ds.Rows, ds.Columns = pixels.shape[-2:]
    if frames:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    placeholder = '1.23456789\\1.2345678'         # replaced below: pydicom refuses bad DS
    if spacing is not None:
        ds.add_new(pydicom.tag.Tag(spacing_tag), 'DS', placeholder)
    ds.PixelData = pixels.astype('<u2').tobytes()
    buf = io.BytesIO()
    with warnings_ignored():
        ds.save_as(buf, enforce_file_format=True)
    data = buf.getvalue()
    if spacing is not None:
        value = '\\'.join(spacing).ljust(len(placeholder)).encode()
        assert data.count(placeholder.encode()) == 1 and len(value) == len(placeholder)
        data = data.replace(placeholder.encode(), value)
    return data


@contextlib.contextmanager
def warnings_ignored():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        yield


def image_templates():
    """``{name: (bytes, expected)}``: expected ``(h, w, spacing)`` of a valid file."""
    import cv2
    rng = np.random.default_rng(5)
    grey = rng.integers(0, 255, (12, 16), dtype=np.uint8)
    colour = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
    rgba = rng.integers(0, 255, (12, 16, 4), dtype=np.uint8)
    grey16 = rng.integers(0, 65535, (12, 16), dtype=np.uint16)
    flat16 = np.full((12, 16), 1000, np.uint16)
    out = {}
    for ext, arrays in (('.png', dict(grey=grey, colour=colour, rgba=rgba, grey16=grey16,
                                      flat16=flat16)),
                        ('.jpg', dict(grey=grey, colour=colour)),
                        ('.bmp', dict(grey=grey, colour=colour)),
                        ('.tif', dict(grey=grey, colour=colour, grey16=grey16,
                                      float32=grey16.astype(np.float32) / 7))):
        for name, arr in arrays.items():
            out[f'{name}{ext}'] = (cv2.imencode(ext, arr)[1].tobytes(), (12, 16, None))
    out['mono2.dcm'] = (dicom_bytes(grey16), (12, 16, [0.1, 0.1]))
    out['mono1.dcm'] = (dicom_bytes(grey16, ('0.2', '0.1'), 'MONOCHROME1'), (12, 16, [0.1, 0.2]))
    out['imager.dcm'] = (dicom_bytes(grey16, ('0.15', '0.15'), spacing_tag='ImagerPixelSpacing'),
                         (12, 16, [0.15, 0.15]))
    out['nospacing.dcm'] = (dicom_bytes(grey16, None), (12, 16, None))
    for name, spacing in (('zero', ('0', '0.1')), ('negative', ('-0.1', '0.1')),
                          ('nan', ('nan', '0.1')), ('one', ('0.1',)), ('three', ('0.1',) * 3),
                          ('text', ('abc', 'def')), ('inf', ('inf', 'inf'))):
        # readable; the invalid spacing is reported (a --pixel-spacing can rescue the file)
        out[f'spacing-{name}.dcm'] = (dicom_bytes(grey16, spacing), (12, 16, None))
    out['multiframe.dcm'] = (dicom_bytes(np.stack([grey16] * 3), frames=3), (12, 16, [0.1, 0.1]))
    out['constant.dcm'] = (dicom_bytes(np.zeros((12, 16), np.uint16)), (12, 16, [0.1, 0.1]))
    return out


IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.dcm', '.dicom', '.PNG', '']


@st.composite
def image_file(draw, templates):
    """``(bytes, extension, expected)``: expected ``(h, w, spacing)`` for an undamaged
    file whose extension matches its content (or is an image extension OpenCV ignores),
    ``None`` where the reader may refuse it; ``'invalid'`` where it must."""
    name = draw(st.sampled_from(sorted(templates)))
    data, expected = templates[name]
    ext = name[name.rindex('.'):]
    kind = draw(st.sampled_from(['intact', 'intact', 'extension', 'truncate', 'zero', 'random',
                                 'garbage_tail', 'flip_data', 'dicom_garbage', 'bytes']))
    if kind == 'intact':
        return data, ext, expected if expected is not None else 'invalid'
    if kind == 'extension':
        return data, draw(st.sampled_from(IMAGE_EXTENSIONS)), None
    if kind == 'truncate':
        return data[:draw(st.integers(0, max(0, len(data) - 1)))], ext, None
    if kind == 'zero':
        return b'', draw(st.sampled_from(IMAGE_EXTENSIONS)), 'invalid'
    if kind == 'random':
        return draw(st.binary(max_size=400)), draw(st.sampled_from(IMAGE_EXTENSIONS)), None
    if kind == 'garbage_tail':
        keep = draw(st.integers(0, len(data)))
        return data[:keep] + draw(st.binary(max_size=200)), ext, None
    if kind == 'flip_data':                          # damage pixel data, keep the header
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(min(len(out) - 1, len(out) // 2), len(out) - 1))
            out[i] = draw(st.integers(0, 255))
        return bytes(out), ext, None
    if kind == 'dicom_garbage':
        return (b'\0' * 128 + b'DICM' + draw(st.binary(max_size=300)),
                draw(st.sampled_from(IMAGE_EXTENSIONS)), None)
    return mutate_bytes(draw, data), ext, None


def write_bytes(path, data):
    with open(path, 'wb') as f:
        f.write(data)


def _scratch_root():
    """A RAM-backed folder when there is one: conversions fsync every JSON they write,
    which on a busy disk costs more than the parsing under test."""
    shm = '/dev/shm'
    if osp.isdir(shm) and os.access(shm, os.W_OK):
        return shm
    return None


SCRATCH = _scratch_root()


@contextlib.contextmanager
def temp_dir():
    path = tempfile.mkdtemp(prefix='mmceph-fuzz-', dir=SCRATCH)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
