"""Distributed training, run for real: two processes through MMEngine's own launcher path
(``torch.distributed.run`` + ``tools/train.py --launcher pytorch``, gloo on CPU).

Proves: the two ranks see disjoint halves of the training and validation data; the
CephalometricMetric gathered over the two ranks equals a single-process evaluation of the
same checkpoint on the same split; ``best_MRE.pth`` is written by rank 0 only; ``--resume``
continues the run in that mode; each rank draws its own, reproducible random numbers (so
``LandmarkCascade``'s training patches differ between ranks and repeat under a seed).
"""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = sorted(glob.glob(osp.join(REPO, 'configs/synthetic/*.py')))[0]

# A hook imported by the run (through custom_imports): each rank records what it saw.
PROBE = '''
import json, os, os.path as osp
import numpy as np
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmpose.registry import HOOKS


@HOOKS.register_module()
class RankProbeHook(Hook):
    priority = 'LOWEST'

    def before_run(self, runner):
        self.path = osp.join(runner.work_dir, f'probe_rank{get_rank()}.jsonl')
        # every checkpoint write goes through os.replace (atomic_local backend, alias hook)
        # or os.link (alias hook): record the ones this rank makes
        for name in ('replace', 'link'):
            real = getattr(os, name)

            def spy(src, dst, *a, _real=real, _name=name, **k):
                if str(dst).endswith('.pth'):
                    self._write(kind='write', op=_name, file=osp.basename(str(dst)))
                return _real(src, dst, *a, **k)
            setattr(os, name, spy)

    def _write(self, **record):
        with open(self.path, 'a') as f:
            f.write(json.dumps(record) + '\\n')

    def before_train_epoch(self, runner):
        state = np.random.get_state()[1]        # the numpy stream transforms draw from
        self._write(kind='numpy_state', epoch=runner.epoch, head=[int(v) for v in state[:4]])

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self._write(kind='train', epoch=runner.epoch,
                    ids=[int(s.id) for s in data_batch['data_samples']])

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self._write(kind='val', epoch=runner.epoch,
                    ids=[int(s.id) for s in data_batch['data_samples']])
'''


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def env(extra_path):
    return dict(os.environ, OMP_NUM_THREADS='1',
                PYTHONPATH=os.pathsep.join([REPO, str(extra_path),
                                            os.environ.get('PYTHONPATH', '')]))


def options(data, epochs):
    return ['--cfg-options', f'train_cfg.max_epochs={epochs}', 'train_cfg.val_interval=1',
            'train_dataloader.batch_size=2', 'val_dataloader.batch_size=2',
            *[f'{d}.dataset.data_root={data}/' for d in
              ('train_dataloader', 'val_dataloader', 'test_dataloader')]]


def probed_config(tmp):
    """The demo recipe plus the probe hook (a config file: --cfg-options cannot add hooks)."""
    path = tmp / 'probed.py'
    path.write_text(f"_base_ = [{CONFIG!r}]\n"
                    "custom_imports = dict(imports=['mmceph.registration', 'rank_probe'], "
                    "allow_failed_imports=False)\n"
                    "custom_hooks = [dict(type='BestCheckpointAliasHook', key='MRE'), "
                    "dict(type='RankProbeHook')]\n")
    return str(path)


def run(cmd, cwd, env):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f'{cmd} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n' \
                                 f'{proc.stderr[-4000:]}'
    return proc.stdout + proc.stderr


def torchrun(work, data, epochs, *extra, probe_dir):
    return run([sys.executable, '-m', 'torch.distributed.run', '--nnodes', '1',
                '--nproc_per_node', '2', '--master_addr', '127.0.0.1',
                '--master_port', str(free_port()), osp.join(REPO, 'tools/train.py'),
                probed_config(work.parent), '--launcher', 'pytorch', '--work-dir', str(work),
                *extra,
                *options(data, epochs)], work.parent, env(probe_dir))


def records(work, rank, kind):
    with open(work / f'probe_rank{rank}.jsonl') as f:
        return [r for r in map(json.loads, f) if r['kind'] == kind]


def ann_ids(data, split):
    with open(osp.join(data, 'annotations', f'{split}.json')) as f:
        return sorted(a['id'] for a in json.load(f)['annotations'])


@pytest.fixture(scope='module')
def dist_run(tmp_path_factory):
    """Synthetic data; 2 epochs with 2 processes, then resumed to 3 epochs."""
    tmp = tmp_path_factory.mktemp('dist')
    data, work = tmp / 'data', tmp / 'work'
    (tmp / 'rank_probe.py').write_text(PROBE)
    run([sys.executable, '-m', 'data_converters', 'synthetic', '--out', str(data),
         '--num-images', '16', '--width', '192', '--height', '240'], REPO, env(tmp))
    first = torchrun(work, data, 2, probe_dir=tmp)
    writes_before = {r: len(records(work, r, 'write')) for r in (0, 1)}
    resumed = torchrun(work, data, 3, '--resume', probe_dir=tmp)
    return dict(tmp=tmp, data=data, work=work, first=first, resumed=resumed,
                writes_before=writes_before)


def test_ranks_see_disjoint_halves_of_every_split(dist_run):
    work, data = dist_run['work'], dist_run['data']
    # runner.epoch counts finished epochs: 0..2 while training, 1..3 while validating
    for kind, split, epochs in (('train', 'train', (0, 1, 2)), ('val', 'val', (1, 2, 3))):
        for epoch in epochs:
            seen = [sorted(i for r in records(work, rank, kind) if r['epoch'] == epoch
                           for i in r['ids']) for rank in (0, 1)]
            assert seen[0] and seen[1], f'{kind} epoch {epoch}: a rank saw nothing'
            assert not set(seen[0]) & set(seen[1]), f'{kind} epoch {epoch}: ranks overlap'
            assert sorted(seen[0] + seen[1]) == ann_ids(data, split)


def test_each_rank_has_its_own_reproducible_random_stream(dist_run):
    """Rank r is seeded seed + r: augmentations and LandmarkCascade's patches (drawn from
    numpy's global state by SampleRefinerPatches) differ between ranks; the same rank of a
    run with the same seed starts from the same state."""
    work = dist_run['work']
    first = [records(work, rank, 'numpy_state')[0] for rank in (0, 1)]
    assert first[0]['epoch'] == first[1]['epoch'] == 0
    assert first[0]['head'] != first[1]['head']
    from mmengine.config import Config
    dumped = Config.fromfile(str(work / 'probed.py'), import_custom_modules=False)
    assert dumped.randomness == dict(seed=0, diff_rank_seed=True)


@pytest.mark.parametrize('workers', [0, 2])
def test_cascade_patches_differ_between_ranks_and_repeat_under_a_seed(workers):
    """What each rank's SampleRefinerPatches draws, seeded as MMEngine seeds it: per rank
    in the main process (diff_rank_seed: seed + rank), per rank and worker in workers."""
    from mmengine.dataset.utils import worker_init_fn
    from mmengine.registry import init_default_scope
    from mmpose.registry import TRANSFORMS
    init_default_scope('mmpose')
    codec = dict(type='CompensatedHeatmap', input_size=(32, 32), heatmap_size=(8, 8), sigma=1.0)
    sampler = TRANSFORMS.build(dict(type='SampleRefinerPatches', codecs=codec,
                                    input_size=(160, 192), patch_fraction=0.25,
                                    patches_per_image=6))
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (240, 192, 3), np.uint8)
    kpts = rng.uniform(40, 150, (1, 19, 2)).astype(np.float32)

    def patches(rank):
        if workers == 0:     # what set_random_seed(0, diff_rank_seed=True) does on `rank`
            np.random.seed(0 + rank)
        else:                # what the dataloader runs in worker 1 of `rank`
            worker_init_fn(1, workers, rank, 0)
        results = dict(img=image.copy(), keypoints=kpts.copy(),
                       keypoints_visible=np.ones((1, 19)),
                       bbox_scale=np.array([[160.0, 192.0]], np.float32))
        return sampler.transform(results)['refiner_patches'][0]['inputs']

    assert np.array_equal(patches(0), patches(0))
    assert np.array_equal(patches(1), patches(1))
    assert not np.array_equal(patches(0), patches(1))


def test_checkpoints_are_written_by_rank_zero_only(dist_run):
    work = dist_run['work']
    assert records(work, 1, 'write') == []
    writes = [r['file'] for r in records(work, 0, 'write')]
    assert 'best_MRE.pth' in writes and 'epoch_3.pth' in writes
    assert (work / 'best_MRE.pth').is_file()
    assert len(glob.glob(str(work / 'best_MRE_epoch_*.pth'))) == 1


def test_resume_continues_in_distributed_mode(dist_run):
    work = dist_run['work']
    assert 'resumed' in dist_run['resumed'].lower() or 'resume' in dist_run['resumed'].lower()
    for rank in (0, 1):
        epochs = [r['epoch'] for r in records(work, rank, 'train')]
        # epochs 0 and 1 from the first run, then epoch 2 only: nothing trained twice
        assert epochs.count(2) and sorted(set(epochs)) == [0, 1, 2]
        assert len([e for e in epochs if e == 2]) == len([e for e in epochs if e == 0])
    assert (work / 'epoch_3.pth').is_file()


def test_two_rank_metric_equals_single_process_evaluation(dist_run):
    """best_MRE.pth stores the MRE that the two ranks' gathered predictions gave at its
    epoch; tools/test.py in one process on the same split must give the same numbers --
    to float rounding: the ranks interleave the images, so the batches differ and so do
    the convolutions' summation orders (measured: 3e-6 relative; before BatchNorm buffers
    were synced after each epoch, 2 %)."""
    import torch
    work, data, tmp = dist_run['work'], dist_run['data'], dist_run['tmp']
    ckpt = torch.load(work / 'best_MRE.pth', map_location='cpu', weights_only=False)
    best = ckpt['message_hub']['runtime_info']
    dist_mre, epoch = best['best_score'], ckpt['meta']['epoch']
    scalars = [json.loads(line) for path in sorted(glob.glob(str(work / '*/vis_data/scalars.json')))
               for line in open(path)]
    dist_metrics = [s for s in scalars if 'MRE' in s and s.get('step') == epoch][-1]
    test_dir = tmp / 'single'
    run([sys.executable, osp.join(REPO, 'tools/test.py'), CONFIG, str(work / 'best_MRE.pth'),
         '--work-dir', str(test_dir), '--cfg-options',
         'test_dataloader.dataset.ann_file=annotations/val.json', 'test_dataloader.batch_size=2',
         f'test_dataloader.dataset.data_root={data}/'], tmp, env(tmp))
    logs = glob.glob(str(test_dir / '*/*.json'))
    single = json.loads(open(logs[-1]).readlines()[-1])
    assert single['MRE'] == pytest.approx(dist_mre, rel=2e-5)
    keys = [k for k in dist_metrics if k.startswith(('MRE', 'SDR'))]
    assert keys
    for key in keys:
        assert single[key] == pytest.approx(dist_metrics[key], rel=2e-5, abs=1e-9), key
