"""Train an mmceph model with MMEngine's Runner (also what `mim train mmceph CFG` runs).

Examples:
    python tools/train.py configs/synthetic/<cfg>.py --work-dir work_dirs/demo
    python tools/train.py CFG --resume                 # continue from the last checkpoint
    mim train mmceph CFG --launcher pytorch --gpus 4   # distributed (MMEngine's launcher)
"""
import argparse
import os
import os.path as osp
import signal
import sys

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mmceph.engine.distributed import close_distributed, setup_distributed
from mmceph.engine.resume import resumable_checkpoint


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


if __name__ == '__main__':
    from mmceph.utils.cli import guarded_main
    sys.exit(guarded_main(main))
