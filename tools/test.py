"""Evaluate a checkpoint on a config's test split (also what `mim test mmceph` runs).

Examples:
    python tools/test.py CFG work_dirs/demo/best_MRE.pth
    mim test mmceph CFG --checkpoint work_dirs/demo/best_MRE.pth
    python tools/test.py CFG CKPT --dump work_dirs/demo/test   # per-image predictions JSON
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.runner import Runner


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config', help='config file')
    p.add_argument('checkpoint', help='checkpoint file (e.g. best_MRE.pth)')
    p.add_argument('--work-dir', help='where the test log goes (default: work_dirs/<config>)')
    p.add_argument('--dump', metavar='PREFIX',
                   help='write per-image predictions and errors to PREFIX.predictions.json '
                        '(input of tools/analysis_tools/ceph_report.py)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, metavar='KEY=VALUE',
                   help='override config entries')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    p.add_argument('--gpus', type=int, help='passed by `mim`; one process per GPU is set up '
                   'by --launcher, so it is not used here')
    p.add_argument('--debug', action='store_true', help='show tracebacks of ordinary errors '
                   '(a missing file, a checkpoint that does not fit); by default one line')
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args):
    from mmceph.apis.checkpoint import check_checkpoint_file
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'{args.config}: config not found')
    check_checkpoint_file(args.checkpoint)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or cfg.get('work_dir') or osp.join(
        'work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.dump:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) \
            else [cfg.test_evaluator]
        for ev in evaluators:
            if ev.get('type') == 'CephalometricMetric':
                ev['outfile_prefix'] = args.dump
    return cfg


def main(argv=None):
    args = parse_args(argv)
    runner = Runner.from_cfg(build_config(args))
    load_strictly(runner, args.checkpoint)
    runner.test()


def load_strictly(runner, checkpoint):
    """MMEngine loads ``load_from`` non-strictly: a checkpoint of another model would be
    evaluated with random weights where it does not fit. Load it here, refusing any
    mismatch, and tell the runner it is loaded."""
    from mmengine.model import is_model_wrapper
    from mmpose.apis.inference import dataset_meta_from_config

    from mmceph.apis.checkpoint import load_fitting_checkpoint
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    meta = dataset_meta_from_config(runner.cfg, dataset_mode='test') or {}
    load_fitting_checkpoint(model, checkpoint, meta.get('num_keypoints'))
    runner._has_loaded = True


if __name__ == '__main__':
    from mmceph.utils.cli import guarded_main
    sys.exit(guarded_main(main))
