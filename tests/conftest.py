"""Shared fixtures. Real ISBI data is optional: tests that need it skip with a reason."""
import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs/synthetic/td-hm_hrnetv2-w18-small_1xb8-30e_synthetic-192x160.py')
BIN = osp.dirname(sys.executable)
ISBI_ROOT = os.environ.get('MMCEPH_ISBI_ROOT',
                           osp.join(REPO, '..', 'shared', 'data', 'isbi2015'))


@pytest.fixture(scope='session', autouse=True)
def mmceph_registered():
    """What a config's ``custom_imports`` does, for tests that build modules without a
    config (``import mmceph`` alone registers nothing: it is light)."""
    import mmceph.registration  # noqa: F401


@pytest.fixture(scope='session')
def isbi_root():
    if not osp.isdir(osp.join(ISBI_ROOT, 'AnnotationsByMD')):
        pytest.skip(f'real ISBI 2015 data not found at {ISBI_ROOT} '
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
    """Run a command with the venv's tools on PATH; assert its exit status."""
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'])
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == expect, (f'{cmd} exited {proc.returncode}:\n{proc.stdout[-3000:]}'
                                       f'\n{proc.stderr[-3000:]}')
    return proc.stdout + proc.stderr


def data_options(root):
    return [f'{loader}.dataset.data_root={root}/'
            for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]


@pytest.fixture(scope='session')
def demo_model(tmp_path_factory):
    """The demo recipe trained through the real `mim train`, on 24 synthetic
    images: ``(data folder, work dir, training output)``."""
    tmp = tmp_path_factory.mktemp('e2e')
    data, work = tmp / 'data', tmp / 'work'
    run([sys.executable, '-m', 'data_converters', 'synthetic', '--out', str(data),
         '--num-images', '24', '--width', '192', '--height', '240'], REPO)
    # Run from an unrelated directory: mim must find mmceph's train.py in the installed package.
    # 30 epochs: enough for confident landmarks (a barely trained model is -- rightly --
    # rejected by infer.py's quality gate)
    out = run(['mim', 'train', 'mmceph', CONFIG, '--work-dir', str(work), '--cfg-options',
               'train_cfg.max_epochs=30', 'train_cfg.val_interval=10',
               'train_dataloader.batch_size=4', *data_options(data)], tmp)
    return data, work, out
