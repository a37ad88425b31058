"""What every fuzz helper module shares (tests/test_fuzz/test_fuzz_parsers.py): the hypothesis
profile, the sandboxed worker, in-process converter runs, shared strategies and files.
The parser-specific strategies live beside it: fuzz_isbi, fuzz_webceph, fuzz_pickle,
fuzz_coco, fuzz_images.

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
import io
import json
import os
import os.path as osp
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

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# --------------------------------------------------------------------------- settings
# Reproducible in CI: derandomize (the same examples every run), no example database,
# no deadline (the machine is shared with training jobs). MMCEPH_FUZZ_SCALE multiplies
# every test's max_examples and MMCEPH_FUZZ_RANDOM=1 draws fresh random examples, for a
# longer local run: MMCEPH_FUZZ_SCALE=20 MMCEPH_FUZZ_RANDOM=1 pytest tests/test_fuzz/
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
        here = osp.dirname(osp.abspath(__file__))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([REPO, here]),
                   OMP_NUM_THREADS='1', OPENBLAS_NUM_THREADS='1', MKL_NUM_THREADS='1',
                   PYTHONFAULTHANDLER='1', OPENCV_LOG_LEVEL='FATAL')
        # stderr goes to a file, not a pipe: C libraries write warnings straight to fd 2,
        # and a full pipe would block the worker
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, '-c', 'import fuzz_common; fuzz_common.worker_main()',
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
    from mmceph.imaging import image_io
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
        except BaseException as err:          # blind except: report everything to the parent
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




# --------------------------------------------------------------------------- files
def png_bytes(width, height, channels=3, seed=0, dtype=np.uint8):
    import cv2
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    hi = 255 if dtype == np.uint8 else 65535
    return cv2.imencode('.png', rng.integers(0, hi, shape).astype(dtype))[1].tobytes()


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
