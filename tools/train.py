"""Train an mmceph model with MMEngine's Runner (also what `mim train mmceph CFG` runs).

Examples:
    python tools/train.py configs/synthetic/<cfg>.py --work-dir work_dirs/demo
    python tools/train.py CFG --resume                 # continue from the last checkpoint
    mim train mmceph CFG --launcher pytorch --gpus 4   # distributed (MMEngine's launcher)
"""
import argparse
import glob
import os
import os.path as osp
import signal
import sys

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.runner import Runner


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='config file')
    p.add_argument('--work-dir', help='where logs and checkpoints go '
                   '(default: work_dirs/<config name>)')
    p.add_argument('--resume', nargs='?', const='auto', default=None, metavar='CKPT',
                   help='resume from CKPT, or from the latest checkpoint of the work dir '
                        'when no path is given')
    p.add_argument('--amp', action='store_true', help='automatic mixed precision (GPU)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                   help='override config entries, e.g. train_cfg.max_epochs=2')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                   help='job launcher for distributed training')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    p.add_argument('--gpus', type=int, help='passed by `mim`; one process per GPU is set up '
                   'by --launcher, so it is not used here')
    p.add_argument('--debug', action='store_true', help='show tracebacks of ordinary errors '
                   '(a missing file, a config typo); by default they are one line')
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args):
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'{args.config}: config not found')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, resumable_checkpoint(cfg.work_dir)
    elif args.resume:
        cfg.resume, cfg.load_from = True, args.resume
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    return cfg


# --- CPU-only distributed training (gloo) ------------------------------------------------
# The one workaround for MMEngine on machines without CUDA (e.g. the 2-process CI test,
# tests/test_tools/test_distributed_training.py): MMEngine's init_dist('pytorch') calls
# torch.cuda.set_device unconditionally and its DDP wrapper passes device_ids=[LOCAL_RANK];
# both only work with CUDA. Without CUDA we start the gloo process group here (the Runner
# then skips init_dist) and wrap with device_ids=None (what DDP needs for a CPU module).
# With CUDA nothing changes. In any distributed run (CPU or GPU):
# - each rank gets its own numpy/torch seed (seed + rank, MMEngine's diff_rank_seed; the
#   samplers still share rank 0's seed): with num_workers=0 the ranks would otherwise draw
#   identical augmentations and cascade patches; DDP broadcasts rank 0's weights, so the
#   model starts identical on every rank;
# - BatchNorm statistics are averaged over the ranks after every epoch (MMEngine's
#   SyncBuffersHook, on in MMPose's own configs): DDP does not sync buffers, so without it
#   each rank validated its half of the data with its own statistics and the gathered
#   metric belonged to no saved checkpoint (measured: MRE 9.54 over two ranks vs 9.33 for
#   best_MRE.pth evaluated alone).
def setup_distributed(cfg):
    if cfg.launcher == 'none':
        return cfg
    cfg.setdefault('randomness', {}).setdefault('diff_rank_seed', True)
    hooks = cfg.setdefault('custom_hooks', [])
    if not any(h.get('type') in ('SyncBuffersHook', 'mmengine.SyncBuffersHook') for h in hooks):
        hooks.append(dict(type='SyncBuffersHook'))
    if torch.cuda.is_available():
        return cfg
    if cfg.launcher != 'pytorch':
        raise RuntimeError(f'--launcher {cfg.launcher} without CUDA: only --launcher pytorch '
                           'runs on CPU (gloo)')
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')     # env:// from torch.distributed.run
    cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                                 broadcast_buffers=False,
                                 find_unused_parameters=cfg.get('find_unused_parameters',
                                                                False))
    return cfg


def resumable_checkpoint(work_dir):
    """What ``--resume`` continues from: None (MMEngine's ``last_checkpoint``) unless that
    names a file that is gone -- MMEngine's CheckpointHook deletes the previous epoch's
    checkpoint *before* writing the next, so a job killed in between leaves
    ``last_checkpoint`` pointing at nothing. Then the newest checkpoint still there."""
    pointer = osp.join(work_dir or '', 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        named = f.read().strip()
    if not named or osp.isfile(named):
        return None
    left = [p for p in glob.glob(osp.join(work_dir, '*.pth')) if not osp.islink(p)]
    if not left:
        return None
    newest = max(left, key=os.path.getmtime)
    print(f'{pointer} names {named}, which is gone (the job was stopped while it saved '
          f'the next checkpoint); resuming from {newest}', file=sys.stderr)
    return newest


def exit_on_sigterm(signum, frame):
    """SIGTERM (e.g. a scheduler's time limit) becomes a normal exit, so a checkpoint
    being written is cleaned up rather than left as a temporary file; resume with --resume."""
    sys.exit(128 + signum)


def main(argv=None):
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    try:
        Runner.from_cfg(setup_distributed(build_config(parse_args(argv)))).train()
    finally:
        close_distributed()


def close_distributed():
    """Tear the process group down before the interpreter does: left to exit, gloo's
    threads were destroyed unjoined now and then (rank 0 aborted with 'terminate called
    without an active exception' after a finished run, failing CI)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == '__main__':
    from mmceph.utils.cli import guarded_main
    sys.exit(guarded_main(main))
