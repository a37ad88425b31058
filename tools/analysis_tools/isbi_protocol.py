"""Run one ISBI 2015 recipe through the honest protocol and print ONE table row.

    python tools/analysis_tools/isbi_protocol.py CONFIG --work-dir work_dirs/NAME \\
        --target mean [--epochs N] [--select-on val|test1] [--cfg-options K=V ...]

Steps (each a CLI run in a subprocess, printed before it runs):
1. writes WORK_DIR/recipe.py: CONFIG with the training target (``PickAnnotator`` first in
   the training pipeline: senior, junior, mean, or random = one of the two per sample and
   epoch), the validation reference (``--val-against``; default: the target, and mean for
   random), the schedule (``--epochs``, cosine rescaled) and any ``--cfg-options``;
2. trains it with tools/train.py (skipped when WORK_DIR/best_MRE.pth exists: delete it to
   train again), the checkpoint chosen by MRE on the validation split (val.json: 20 fixed
   training images, data_converters/isbi2015.py) -- or, with ``--select-on test1``, on
   Test1 (the literature's protocol; the row then says "selected on Test1");
3. tests that one checkpoint on Test1, once, against the senior, the junior and the mean
   annotation (tools/analysis_tools/compare_methods.py: also GFLOPs, the training wall
   time from the logs, and the PyTorch latency per image).

Data: ``--data PREFIX`` (default data/isbi2015) as tools/isbi_model.sh converts it: PREFIX
(senior, with both annotators' points), PREFIX_junior and PREFIX_mean (for the validation
and test references). ``--dry-run`` writes recipe.py and prints the commands only.
"""
import argparse
import os
import os.path as osp
import shlex
import subprocess
import sys
import time

from mmceph.evaluation.protocol import (
    REFERENCES,
    TARGETS,
    best_validation,
    data_root,
    markdown_row,
    recipe_config,
    table,
)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def run(cmd, dry_run):
    print('$ ' + ' '.join(shlex.quote(c) for c in cmd), flush=True)
    if dry_run:
        return ''
    proc = subprocess.run(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    sys.stdout.write(proc.stdout[-3000:])
    if proc.returncode:
        sys.exit(f'isbi_protocol: {cmd[1]} failed (exit {proc.returncode})')
    return proc.stdout


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('--work-dir', required=True)
    p.add_argument('--name', help='recipe name in the table (default: the work dir name)')
    p.add_argument('--target', choices=TARGETS, default='senior',
                   help='training target (PickAnnotator): senior (default), junior, mean, '
                        'random (one of the two per sample and epoch)')
    p.add_argument('--val-against', choices=REFERENCES,
                   help='validation reference (default: the target; mean for random)')
    p.add_argument('--select-on', choices=('val', 'test1'), default='val',
                   help='val (default): the 20-image validation split; test1: the '
                        "literature's protocol, labelled so in the table")
    p.add_argument('--epochs', type=int, help='shortened schedule (cosine rescaled)')
    p.add_argument('--data', default='data/isbi2015', help='converted data prefix')
    p.add_argument('--images', type=int, default=10, help='timed Test1 images')
    p.add_argument('--threads', type=int, default=2, help='inference threads (default 2)')
    p.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE')
    p.add_argument('--dry-run', action='store_true', help='write recipe.py, print commands')
    args = p.parse_args(argv)
    val_against = args.val_against or ('mean' if args.target == 'random' else args.target)
    prefix = args.data
    needed = [osp.join(data_root(prefix, r), 'annotations', f'{s}.json')
              for r in REFERENCES for s in ('val', 'test1')]
    missing = [n for n in needed if not osp.isfile(osp.join(REPO, n) if not osp.isabs(n) else n)]
    if missing and not args.dry_run:
        p.error(f'{missing[0]} not found: convert with python -m data_converters isbi2015 '
                '--annotator senior|junior|mean (see tools/isbi_model.sh)')
    os.makedirs(args.work_dir, exist_ok=True)
    cfg = recipe_config(args.config, args.target, val_against, args.select_on, args.epochs,
                        prefix, args.cfg_options)
    recipe = osp.join(args.work_dir, 'recipe.py')
    cfg.dump(recipe)
    py = sys.executable
    start = time.time()
    if osp.isfile(osp.join(args.work_dir, 'best_MRE.pth')):
        print(f'{args.work_dir}/best_MRE.pth exists: kept (its logs give the training time)')
    else:
        run([py, 'tools/train.py', recipe, '--work-dir', args.work_dir], args.dry_run)
    name = args.name or osp.basename(osp.normpath(args.work_dir))
    out = run([py, 'tools/analysis_tools/compare_methods.py', f'{name}={recipe}:{args.work_dir}',
               '--images', str(args.images), '--threads', str(args.threads), '--also-against',
               *[f'{r}={data_root(prefix, r)}annotations/test1.json' for r in REFERENCES
                 if r != 'senior']],   # senior: the test split's own annotation
              args.dry_run)
    if args.dry_run:
        return 0
    selected = ('Test1 (literature protocol)' if args.select_on == 'test1'
                else 'validation split (20 training ids)')
    text = table(name, selected, args.target, val_against, best_validation(args.work_dir),
                 markdown_row(out), args.threads)
    print(f'\nISBI protocol, {os.cpu_count()} CPU cores, this run {(time.time() - start) / 60:.0f}'
          f' min; Test1 scored once from the checkpoint chosen on: {selected}\n{text}')
    with open(osp.join(args.work_dir, 'protocol_table.md'), 'w') as f:
        f.write(text + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
