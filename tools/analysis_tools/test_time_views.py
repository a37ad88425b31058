"""Test-time views (shifted / scaled crops) and model ensembles on ISBI 2015, chosen on the
validation split and then scored once on Test1.

    python tools/analysis_tools/test_time_views.py \\
        --model "Lite0 senior=CONFIG:work_dirs/lite0-senior/best_MRE.pth" \\
        --model "Lite0 random=CONFIG:work_dirs/lite0-random/best_MRE.pth" \\
        [--shifts 0.01 0.02] [--scales 0.95 1.05] [--choose-against mean] [--data data/isbi2015]

A --model is NAME=CONFIG:CHECKPOINT, or NAME=EXPORT_FOLDER (the torch-free runtime).
Steps:
1. every candidate (each model alone and, with two or more, all of them averaged; each
   with the identity view, the four shifts ±s of the ROI's width/height for each --shifts
   value, and the --scales crops) is scored on the validation split (val.json: 20 fixed
   training images) against --choose-against; each (model, view) is predicted once and
   the candidates average those predictions;
2. the candidate with the lowest validation MRE is chosen (ties: fewer network passes);
3. Test1 is predicted once by each model alone (the baselines) and by the chosen
   candidate, and scored against the senior, the junior and the mean annotation; one
   Markdown table with SDR (senior), the passes per image and the model time per image
   (median, file reading excluded, --threads threads).
Data: --data PREFIX as tools/isbi_model.sh converts it (PREFIX, PREFIX_junior, PREFIX_mean,
images under PREFIX/raw/).
"""
import argparse
import os.path as osp
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--model', action='append', required=True, metavar='NAME=CONFIG:CKPT',
                   help='a model (repeat for an ensemble); NAME=EXPORT_FOLDER for ONNX')
    p.add_argument('--shifts', type=float, nargs='*', default=[0.01, 0.02],
                   help='shift grids to try, as fractions of the ROI size (default 0.01 0.02)')
    p.add_argument('--scales', type=float, nargs='*', default=[0.95, 1.05],
                   help='crop scales to try together (default 0.95 1.05; none: no scale grid)')
    p.add_argument('--choose-against', default='mean', choices=('senior', 'junior', 'mean'),
                   help='the validation reference the choice is made on (default mean)')
    p.add_argument('--data', default='data/isbi2015', help='converted data prefix')
    p.add_argument('--threads', type=int, default=2, help='torch / ONNX Runtime threads')
    p.add_argument('--limit', type=int, help='only the first N images of each split (a check)')
    return p.parse_args(argv)


def load_models(specs, threads):
    from mmceph.utils.cli import UsageError
    models = []
    for spec in specs:
        name, sep, where = spec.partition('=')
        if not sep or not name:
            raise UsageError(f'--model {spec!r}: expected NAME=CONFIG:CHECKPOINT or NAME=FOLDER')
        if osp.isdir(where):
            from mmceph.runtime import OnnxLandmarkPredictor
            models.append((name, OnnxLandmarkPredictor(where, threads=threads,
                                                       check_orientation=False)))
            continue
        config, sep, checkpoint = where.rpartition(':')
        for path, what in ((config, 'config'), (checkpoint, 'checkpoint')):
            if not sep or not osp.isfile(path):
                raise UsageError(f'--model {spec!r}: {what} {path!r} not found')
        import torch

        from mmceph.apis import LandmarkPredictor
        torch.set_num_threads(threads)
        models.append((name, LandmarkPredictor(config, checkpoint, check_orientation=False)))
    return models


def main(argv=None):
    args = parse_args(argv)
    from mmceph.evaluation.averaged_predictions import average_dumps, candidates, predict_split
    from mmceph.evaluation.protocol import REFERENCES, data_root
    from mmceph.evaluation.rescore import RADII, rescore
    from mmceph.predictor.averaging import AveragedPredictor
    from mmceph.utils.cli import UsageError

    ann = {(r, s): osp.join(data_root(args.data, r), 'annotations', f'{s}.json')
           for r in REFERENCES for s in ('val', 'test1')}
    missing = [a for a in ann.values() if not osp.isfile(a)]
    if missing:
        raise UsageError(f'{missing[0]} not found: convert ISBI 2015 for the senior, junior '
                         'and mean annotations first (tools/isbi_model.sh, step 1)')
    image_root = osp.join(args.data, 'raw')
    models = load_models(args.model, args.threads)
    cands = candidates([name for name, _ in models], args.shifts, args.scales)

    def predict(split, members, views, cache):
        parts = []
        for i in members:
            for view in views:
                if (i, view) not in cache:
                    cache[(i, view)] = predict_split(
                        AveragedPredictor([models[i][1]], [view]),
                        ann[('senior', split)], image_root, args.limit)
                parts.append(cache[(i, view)])
        return average_dumps(parts)

    val_cache, val_scores = {}, []
    for name, members, views in cands:
        mre = rescore(predict('val', members, views, val_cache),
                      ann[(args.choose_against, 'val')])[0]
        val_scores.append((mre, len(members) * len(views), name, members, views))
    print(f'\nValidation split ({args.choose_against}), every candidate:\n')
    print(f'| candidate | passes | val MRE ({args.choose_against}) |\n|---|---|---|')
    for mre, passes, name, _, _ in val_scores:
        print(f'| {name} | {passes} | {mre:.3f} |')
    chosen = min(val_scores, key=lambda s: (s[0], s[1]))
    print(f'\nchosen on the validation split: {chosen[2]}\n', flush=True)

    rows = [s for s in val_scores if s[1] == 1]          # the baselines: one model, one view
    if chosen not in rows:
        rows.append(chosen)
    head = ['test-time views / ensemble', 'selected on', f'val MRE ({args.choose_against})',
            'Test1 MRE senior', 'junior', 'mean', 'SDR 2 mm (senior)', '2.5 mm', '3 mm',
            '4 mm', 'passes', f'model s/image ({args.threads} thread{"s" * (args.threads != 1)})']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    test_cache = {}
    for row in rows:
        mre, passes, name, members, views = row
        dump = predict('test1', members, views, test_cache)
        scores = {r: rescore(dump, ann[(r, 'test1')]) for r in REFERENCES}
        sdr = scores['senior'][1]
        how = 'validation split (chosen)' if row is chosen else \
            'baseline (identity view, one model)'
        lines.append('| ' + ' | '.join([
            name, how, f'{mre:.3f}', *[f'{scores[r][0]:.3f}' for r in REFERENCES],
            *[f'{100 * v:.1f} %' for v in sdr], str(passes), f'{dump["seconds"]:.3f}']) + ' |')
    print(f'Test1 ({len(dump["images"])} images), scored once per row; SDR radii '
          f'{", ".join(f"{r:g}" for r in RADII)} mm:\n')
    print('\n'.join(lines))
    return 0


if __name__ == '__main__':
    from mmceph.utils.cli import guarded_main
    sys.exit(guarded_main(main))
