"""Shared fixtures. Real ISBI data is optional: tests that need it skip with a reason,
unless ``MMCEPH_REQUIRE_DATA=1`` (set by .ci/run), which turns every such skip into a
failure: CI cannot tell a skipped test from a passed one."""
import fcntl
import hashlib
import inspect
import os
import os.path as osp
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs/synthetic/td-hm_hrnetv2-w18-small_1xb8-30e_synthetic-192x160.py')
BIN = osp.dirname(sys.executable)
ISBI_ROOT = os.environ.get('MMCEPH_ISBI_ROOT',
                           osp.join(REPO, '..', 'shared', 'data', 'isbi2015'))
REQUIRE_DATA = os.environ.get('MMCEPH_REQUIRE_DATA', '') not in ('', '0')

# `make test` runs two pytest-xdist workers on the 2-core machine: each worker, and every
# process it starts, computes on one thread, so the two never fight over the cores (a
# worker spends much of its time in single-threaded work anyway: imports, subprocess
# start-ups, parsers). Set before anything imports torch.
if os.environ.get('PYTEST_XDIST_WORKER'):
    os.environ.setdefault('OMP_NUM_THREADS', '1')

# Every subprocess a test starts (tools, converters, `mim train`) imports this working
# tree's mmceph and data_converters, not a copy installed into the venv earlier.
os.environ['PYTHONPATH'] = os.pathsep.join(
    p for p in (REPO, os.environ.get('PYTHONPATH')) if p)


def skip_unless_required(reason):
    """Skip for something a fresh machine may really lack (the real data set, a package
    index); with ``MMCEPH_REQUIRE_DATA=1`` fail instead."""
    if REQUIRE_DATA:
        pytest.fail(f'{reason} (MMCEPH_REQUIRE_DATA=1: a skip here is a failure)',
                    pytrace=False)
    pytest.skip(reason)


# Files whose tests train, run several processes or drive a browser (minutes, not
# seconds): marked ``slow``, so that ``pytest -m "not slow"`` is the quick loop while
# editing (docs/testing.md). ``data``: needs the real ISBI 2015 set; ``browser``: Chromium.
SLOW_FILES = {
    'test_tools/test_interrupted_training.py', 'test_tools/test_distributed_training.py',
    'test_tools/test_end_to_end.py', 'test_tools/test_codec_on_real_heatmaps.py',
    'test_tools/test_adapt.py', 'test_tools/test_infer_guarantees.py',
    'test_tools/test_docs_commands.py', 'test_runtime/test_onnx_runtime.py',
    'test_runtime/test_export_integrity.py', 'test_review/test_review_browser.py',
    'test_fuzz/test_fuzz_parsers.py',
}


def pytest_collection_modifyitems(config, items):
    tests = osp.join(REPO, 'tests')
    for item in items:
        path = osp.relpath(str(item.path), tests)
        if path in SLOW_FILES:
            item.add_marker(pytest.mark.slow)
        if 'isbi_root' in getattr(item, 'fixturenames', ()):
            item.add_marker(pytest.mark.data)
        if path == 'test_review/test_review_browser.py':
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope='session', autouse=True)
def mmceph_registered():
    """What a config's ``custom_imports`` does, for tests that build modules without a
    config (``import mmceph`` alone registers nothing: it is light)."""
    import mmceph.registration  # noqa: F401


@pytest.fixture(scope='session')
def isbi_root():
    if not osp.isdir(osp.join(ISBI_ROOT, 'AnnotationsByMD')):
        skip_unless_required(f'real ISBI 2015 data not found at {ISBI_ROOT} '
                             '(set MMCEPH_ISBI_ROOT to run these tests)')
    return ISBI_ROOT


@pytest.fixture
def one_torch_thread():
    """Tiny models run fastest on one thread; on a busy 2-core machine two threads fight."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def run(cmd, cwd, expect=0):
    """Run a command with the venv's tools on PATH; assert its exit status. The timeout
    is a hang guard: the demo model's 30 epochs took over 900 s on the shared machine."""
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'])
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == expect, (f'{cmd} exited {proc.returncode}:\n{proc.stdout[-3000:]}'
                                       f'\n{proc.stderr[-3000:]}')
    return proc.stdout + proc.stderr


def data_options(root):
    return [f'{loader}.dataset.data_root={root}/'
            for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]


FIXTURE_CACHE = os.environ.get('MMCEPH_TEST_CACHE',
                               osp.join(osp.expanduser('~'), '.cache', 'mmceph', 'test-fixtures'))
# what the demo model is built from: a change to any of these builds it afresh
# (and the code of _train_demo_model itself, hashed from its source text)
DEMO_SOURCES = ('mmceph', 'data_converters', 'configs', 'tools/train.py', 'requirements.txt')


def source_key(paths, *extra):
    """A hash of the contents of ``paths`` (files, or every file under a folder, relative
    to the repository) and of ``extra`` strings: the key of a cached fixture."""
    h = hashlib.sha256()
    for part in extra:
        h.update(repr(part).encode())
    for path in paths:
        full = osp.join(REPO, path)
        files = [full] if osp.isfile(full) else sorted(
            osp.join(d, f) for d, subdirs, names in os.walk(full) for f in names
            if not f.endswith(('.pyc', '.pyo')) and '__pycache__' not in d)
        for f in files:
            h.update(osp.relpath(f, REPO).encode() + b'\0')
            with open(f, 'rb') as fh:
                h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()[:20]


def cached_build(name, key, build):
    """A folder ``build(folder)`` fills once per ``key``, kept between test runs (and
    between checkouts with the same sources) under MMCEPH_TEST_CACHE: expensive fixtures
    (a trained model, an ONNX export) cost minutes, and a file run alone would rebuild
    them every time. Built in place (the files record absolute paths), marked complete
    last, under a lock so that two test runs never build the same folder at once."""
    os.makedirs(FIXTURE_CACHE, exist_ok=True)
    folder = pathlib.Path(FIXTURE_CACHE) / f'{name}-{key}'
    with open(str(folder) + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        os.utime(lock.fileno())                     # last used: see _prune
        if not (folder / '.complete').is_file():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / '.complete').touch()
            _prune(name, keep=folder)
    return folder


def _prune(name, keep, days=7):
    """Drop builds of ``name`` not used for ``days`` (each key's lock file is touched on
    every use): every source change leaves one behind (~35 MB for the demo model)."""
    import time
    for lock in pathlib.Path(FIXTURE_CACHE).glob(f'{name}-*.lock'):
        old = pathlib.Path(str(lock)[:-len('.lock')])
        if old != keep and time.time() - lock.stat().st_mtime > days * 86400:
            shutil.rmtree(old, ignore_errors=True)
            lock.unlink(missing_ok=True)


@pytest.fixture(scope='session')
def demo_model():
    """The demo recipe trained through the real `mim train`, on 24 synthetic
    images: ``(data folder, work dir, training output)``; cached (``cached_build``)
    by the sources it is built from. Tests must not write into these folders."""
    key = source_key(DEMO_SOURCES, sys.version, inspect.getsource(_train_demo_model))
    tmp = cached_build('demo-model', key, _train_demo_model)
    return tmp / 'data', tmp / 'work', (tmp / 'train_output.txt').read_text()


def _train_demo_model(tmp):
    data, work = tmp / 'data', tmp / 'work'
    run([sys.executable, '-m', 'data_converters', 'synthetic', '--out', str(data),
         '--num-images', '24', '--width', '192', '--height', '240'], REPO)
    # Run from an unrelated directory: mim must find mmceph's train.py in the installed package.
    # 30 epochs: enough for confident landmarks (a barely trained model is -- rightly --
    # rejected by infer.py's quality gate)
    out = run(['mim', 'train', 'mmceph', CONFIG, '--work-dir', str(work), '--cfg-options',
               'train_cfg.max_epochs=30', 'train_cfg.val_interval=10',
               'train_dataloader.batch_size=4', *data_options(data)], tmp)
    (tmp / 'train_output.txt').write_text(out)


class ToolRun:
    """What ``subprocess.run(..., capture_output=True, text=True)`` returns, for a tool
    run in-process: ``returncode``, ``stdout``, ``stderr``."""

    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def tool_main(script, *args):
    """``python tools/<script> ARGS`` run in this process (tests/run_tool.py: the tool's own
    ``__main__``, so ``guarded_main``'s one-line errors and exit status), capturing what it
    prints.

    Seconds instead of a subprocess that imports torch, MMEngine and MMPose afresh (5-10 s
    each on the 2-core machine). Each tool keeps at least one real-subprocess test for
    what only a process shows (the interpreter's exit status, signals)."""
    import contextlib
    import io
    import signal

    from run_tool import run_tool
    out, err = io.StringIO(), io.StringIO()
    sigterm = signal.getsignal(signal.SIGTERM)        # train.py installs its own
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run_tool(osp.join('tools', script), args)
    finally:
        signal.signal(signal.SIGTERM, sigterm)
    return ToolRun(code, out.getvalue(), err.getvalue())
