"""A training killed mid-epoch resumes with --resume and ends as an uninterrupted one would;
checkpoint writes are atomic."""
import inspect
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import DEMO_SOURCES, cached_build, source_key
from mmengine.runner import CheckpointLoader

import mmceph  # noqa: F401
from mmceph.engine import AtomicLocalBackend

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/synthetic/td-hm_hrnetv2-w18-small_1xb8-30e_synthetic-192x160.py')
# 3 epochs, killed once epoch 1's checkpoint is written: the kill lands in epoch 1's
# validation, its best-save or epoch 2, and the resumed run still has two epochs to go
EPOCHS = 3
KILLED_AFTER = 1


@pytest.fixture(scope='module')
def reference_run():
    """The data and the same training run to its end without a kill, keeping every
    epoch's checkpoint: what the interrupted and resumed runs are compared with. Cached
    (conftest.cached_build) by the sources the run depends on; tests only read it."""
    key = source_key(DEMO_SOURCES, sys.version, inspect.getsource(_reference_run),
                     inspect.getsource(train_cmd), inspect.getsource(env), EPOCHS)
    return cached_build('interrupted-reference', key, _reference_run)


def _reference_run(tmp):
    out = tmp / 'data'
    subprocess.run([sys.executable, '-m', 'data_converters', 'synthetic', '--out', str(out),
                    '--num-images', '12', '--width', '192', '--height', '240'],
                   cwd=REPO, check=True, capture_output=True)
    work = tmp / 'uninterrupted' / 'work'
    work.parent.mkdir()
    proc = subprocess.run(train_cmd(out, work, options=['default_hooks.checkpoint.'
                                                        'max_keep_ckpts=-1']),
                          cwd=work.parent, env=env(), capture_output=True, text=True,
                          timeout=1800)          # a hang guard, generous for a shared machine
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture(scope='module')
def data(reference_run):
    return reference_run / 'data'


def train_cmd(data, work, *extra, options=()):
    return [sys.executable, osp.join(REPO, 'tools/train.py'), CONFIG, '--work-dir', str(work),
            *extra, '--cfg-options', f'train_cfg.max_epochs={EPOCHS}', 'train_cfg.val_interval=1',
            'train_dataloader.batch_size=2', 'randomness.seed=0', *options,
            *[f'{d}.dataset.data_root={data}/' for d in
              ('train_dataloader', 'val_dataloader', 'test_dataloader')]]


def load(path):
    return CheckpointLoader.load_checkpoint(str(path), map_location='cpu')


@pytest.fixture(scope='module')
def uninterrupted(reference_run):
    return reference_run / 'uninterrupted' / 'work'


def assert_same_weights(a, b, atol):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k].float(), b[k].float(), atol=atol, rtol=0, msg=k)


def env():
    """One compute thread in every run, whoever starts it (pytest alone or an xdist
    worker): a float reduction split over two threads sums in another order, and Adam
    turns that last-bit noise in near-zero gradients into weight changes far above the
    comparison's tolerance, so the cached reference must be trained exactly as the runs
    compared with it."""
    return dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get('PYTHONPATH', ''),
                OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGKILL], ids=['SIGTERM', 'SIGKILL'])
def test_kill_mid_epoch_then_resume(data, tmp_path, sig, uninterrupted):
    """Killed as soon as epoch 1's checkpoint is written (epoch 1's validation, the
    best-save or epoch 2: wherever the kill lands, resuming must cope), resumed, and
    compared with the run that was never interrupted."""
    work = tmp_path / 'work'
    first = work / f'epoch_{KILLED_AFTER}.pth'
    proc = subprocess.Popen(train_cmd(data, work), cwd=tmp_path, env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # wait on the condition (a hang guard, not a speed limit: 900 s of a 3-epoch run)
    for _ in range(4500):
        if first.exists() or proc.poll() is not None:
            break
        time.sleep(0.2)
    assert proc.poll() is None, 'training ended (or hung) before it could be interrupted'
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert not (work / f'epoch_{EPOCHS}.pth').exists()
    # up to the kill it is the same (seeded) run as the uninterrupted one
    if first.exists():
        assert_same_weights(load(first)['state_dict'],
                            load(uninterrupted / first.name)['state_dict'], atol=1e-5)
    if sig == signal.SIGTERM:                       # a clean exit leaves no temporary file
        assert not [f for f in os.listdir(work) if f.endswith('.part')]
    for name in os.listdir(work):                   # whatever was left is complete
        if name.endswith('.pth'):
            CheckpointLoader.load_checkpoint(str(work / name), map_location='cpu')

    resumed = subprocess.run(train_cmd(data, work, '--resume'), cwd=tmp_path, env=env(),
                             capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert 'resumed epoch: ' in resumed.stdout + resumed.stderr
    last = CheckpointLoader.load_checkpoint(str(work / f'epoch_{EPOCHS}.pth'), map_location='cpu')
    assert last['meta']['epoch'] == EPOCHS
    # best_MRE.pth is the checkpoint that scored the lowest validation MRE over the whole
    # (interrupted + resumed) run, even if the kill hit MMEngine's best-save. (A validation
    # cut short by the kill is not re-run: MMEngine resumes at the next epoch.) An epoch's
    # checkpoint is written before its validation, so the last one holds the validations
    # of the epochs before it: all EPOCHS - 1, or one fewer when the kill cut one short.
    history = list(last['message_hub']['log_scalars']['val/MRE'].data[0])
    whole_history = list(load(uninterrupted / f'epoch_{EPOCHS}.pth')['message_hub']
                         ['log_scalars']['val/MRE'].data[0])
    assert len(whole_history) == EPOCHS - 1
    assert EPOCHS - 2 <= len(history) <= EPOCHS - 1
    best_score = last['message_hub']['runtime_info']['best_score']
    assert best_score == pytest.approx(min(history))
    best_ckpt = CheckpointLoader.load_checkpoint(str(work / 'best_MRE.pth'), map_location='cpu')
    assert best_ckpt['message_hub']['runtime_info']['best_score'] == pytest.approx(best_score)
    assert best_ckpt['meta']['epoch'] <= EPOCHS
    # it ends where the uninterrupted run ends: same epoch and iteration count, same
    # learning-rate schedule position, same optimizer step count, same weights' layout
    whole = load(uninterrupted / f'epoch_{EPOCHS}.pth')
    assert (last['meta']['epoch'], last['meta']['iter']) == \
        (whole['meta']['epoch'], whole['meta']['iter'])
    assert [(s['last_step'], s['_global_step']) for s in last['param_schedulers']] == \
        [(s['last_step'], s['_global_step']) for s in whole['param_schedulers']]
    assert last['optimizer']['param_groups'][0]['lr'] == \
        pytest.approx(whole['optimizer']['param_groups'][0]['lr'])
    steps = {int(v['step']) for v in last['optimizer']['state'].values() if 'step' in v}
    assert steps == {int(v['step']) for v in whole['optimizer']['state'].values()
                     if 'step' in v} == {whole['meta']['iter']}
    assert {k: v.shape for k, v in last['state_dict'].items()} == \
        {k: v.shape for k, v in whole['state_dict'].items()}


def test_atomic_put_keeps_the_old_file_when_the_write_fails(tmp_path):
    target = tmp_path / 'epoch_1.pth'
    torch.save({'ok': 1}, target)
    before = target.read_bytes()
    with pytest.raises(TypeError):
        AtomicLocalBackend().put(object(), str(target))      # fails inside the write
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ['epoch_1.pth']           # no temporary left behind
    AtomicLocalBackend().put(b'new', str(target))
    assert target.read_bytes() == b'new'
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)


def test_resume_falls_back_when_last_checkpoint_names_a_deleted_file(tmp_path, capsys):
    """MMEngine deletes epoch N-1 before it writes epoch N: a job stopped in between
    leaves last_checkpoint naming a file that is gone; --resume takes the newest left."""
    from mmceph.engine.resume import resumable_checkpoint
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    assert resumable_checkpoint(str(tmp_path)) is None              # nothing left at all
    old, new = tmp_path / 'best_MRE_epoch_1.pth', tmp_path / 'best_MRE.pth'
    old.write_bytes(b'x')
    new.write_bytes(b'y')
    os.utime(old, (1, 1))
    assert resumable_checkpoint(str(tmp_path)) == str(new)
    assert 'which is gone' in capsys.readouterr().err
    (tmp_path / 'epoch_2.pth').write_bytes(b'z')                    # the normal case
    assert resumable_checkpoint(str(tmp_path)) is None
    assert resumable_checkpoint(str(tmp_path / 'missing')) is None


def test_resume_finds_a_checkpoint_saved_just_before_the_kill(tmp_path, capsys):
    """last_checkpoint is written just after the checkpoint: a job killed in between
    leaves a complete epoch and no pointer; --resume continues from it instead of
    training again from scratch (MMEngine alone would)."""
    from mmceph.engine.resume import resumable_checkpoint
    assert resumable_checkpoint(str(tmp_path)) is None              # a fresh work dir
    (tmp_path / 'epoch_1.pth').write_bytes(b'x')
    assert resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'epoch_1.pth')
    assert 'last_checkpoint is missing' in capsys.readouterr().err
