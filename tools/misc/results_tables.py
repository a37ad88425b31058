"""Write the results tables of the docs and config READMEs from configs/*/metafile.yml.

Results have one source, the metafiles; every table in README.md, docs/**/*.md and
configs/*/README.md sits between two marker comments and is generated here:

    <!-- mmceph-results isbi2015 -->          one dataset folder's configs
    <!-- mmceph-results recipes -->           the models whose metafile entry names a Recipe
    <!-- /mmceph-results -->

``--check`` rewrites nothing and exits 1 naming every file whose table disagrees with the
metafiles (make test runs it), so a number cannot be edited in one place only.

    python tools/misc/results_tables.py            # regenerate the tables in place
    python tools/misc/results_tables.py --check    # exit 1 when a table is out of date
"""
import argparse
import glob
import os
import os.path as osp
import re
import sys

import yaml

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# a marker is a line of its own (a marker quoted inside a sentence is text, not a table)
MARKER = re.compile(r'^<!-- mmceph-results ([^>]*?) -->\n(.*?)^<!-- /mmceph-results -->$',
                    re.S | re.M)
OPEN = re.compile(r'^<!-- mmceph-results ', re.M)
CLOSE = re.compile(r'^<!-- /mmceph-results -->$', re.M)
# reference annotations in the order the tables show them; metrics shown per reference
REFERENCES = ('senior', 'mean of both annotators', 'junior')
SDR_KEYS = ('SDR 2mm', 'SDR 2.5mm', 'SDR 3mm', 'SDR 4mm')


def short(reference):
    """A reference as a column header names it: 'mean of both annotators' -> 'mean'."""
    return 'mean' if reference == 'mean of both annotators' else reference.split(' (')[0]


class TableError(Exception):
    """A marker or metafile the generator cannot use (exit 2, one line naming the file)."""


def load_metafiles(root):
    """``{folder: [model, ...]}`` of every configs/FOLDER/metafile.yml, in file order."""
    folders = {}
    for path in sorted(glob.glob(osp.join(root, 'configs', '*', 'metafile.yml'))):
        with open(path) as f:
            data = yaml.safe_load(f)
        if not isinstance(data, dict) or not isinstance(data.get('Models'), list):
            raise TableError(f'{path}: no Models list')
        for model in data['Models']:
            for result in model.get('Results') or []:
                for key in ('Reference Annotation', 'Checkpoint Selection', 'Metrics'):
                    if key not in result:
                        raise TableError(f'{path}: {model.get("Name")}: a result has no '
                                         f'{key!r} (fields: docs/model_guides/results.md)')
        folders[osp.basename(osp.dirname(path))] = data['Models']
    return folders


def _results(model):
    """``{reference: result}`` of one model."""
    return {r['Reference Annotation']: r for r in model.get('Results') or []}


def _config(model):
    """The config file name, with the variant (what follows the stem in Name) after it."""
    stem = osp.basename(model['Config'])
    variant = model['Name'][len(osp.splitext(stem)[0]):].strip()
    return f'`{stem}`' + (f' {variant}' if variant else '')


def _num(value, digits, unit=''):
    return '—' if value is None else f'{value:.{digits}f}{unit}'


def _minutes(meta):
    t = meta.get('Training Time (min)')
    return '—' if t is None else f'{t} min'


def _row(cells):
    return '| ' + ' | '.join(cells) + ' |'


def _selection(results):
    """One model's checkpoint selection(s), as a table cell."""
    return '; '.join(sorted({r['Checkpoint Selection'] for r in results.values()}))


def _selections(models):
    return sorted({r['Checkpoint Selection'] for m in models for r in m.get('Results') or []})


def _test_splits(models):
    """The test split of each result, without the reference that Dataset also names."""
    return sorted({r['Dataset'].rsplit(', ', 1)[0] for m in models
                   for r in m.get('Results') or []})


def folder_table(models):
    """One dataset folder: a column group per reference annotation found in its results."""
    groups = []
    present = {ref for m in models for ref in _results(m)}
    for ref in [r for r in REFERENCES if r in present] + sorted(present - set(REFERENCES)):
        sdr = [k for k in SDR_KEYS
               if any(k in _results(m).get(ref, {}).get('Metrics', {}) for m in models)]
        groups.append((ref, sdr))
    selections = _selections(models)
    head = ['config', 'trained on', 'epochs', 'training time']
    for ref, sdr in groups:
        head += [f'MRE (mm), {short(ref)}'] + [f'SDR {k[4:-2]} mm, {short(ref)}' for k in sdr]
    if not groups:
        head.append('result')
    head += ['inference (s/image)', 'GFLOPs']
    if len(selections) > 1:
        head.append('checkpoint selection')
    lines = [_row(head), _row(['---'] * len(head))]
    for m in models:
        meta, results = m['Metadata'], _results(m)
        cells = [_config(m), meta.get('Training Annotation', '—'), str(meta.get('Epochs', '—')),
                 _minutes(meta)]
        if not results:
            why = meta.get('Note') or 'not trained yet'
            cells += [why] + [''] * max(0, sum(1 + len(sdr) for _, sdr in groups) - 1)
        for ref, sdr in groups if results else ():
            metrics = results.get(ref, {}).get('Metrics', {})
            cells += [_num(metrics.get('MRE (mm)'), 3)]
            cells += [_num(metrics.get(k), 1, ' %') for k in sdr]
        cells += [_num(meta.get('Inference Time (s/image)'), 3), _num(meta.get('FLOPs (G)'), 2)]
        if len(selections) > 1:
            cells.append(_selection(results))
        lines.append(_row(cells))
    refs = [ref for ref, _ in groups]
    caption = []
    if len(refs) == 1:
        caption.append(f'Reference annotation: {refs[0]}.')
    elif refs:
        named = [f'{short(r)} = {r}' if short(r) != r else r for r in refs]
        caption.append('Reference annotations (a column group each): ' + ', '.join(named) + '.')
    if _test_splits(models):
        caption.append('Test split: ' + '; '.join(_test_splits(models)) + '.')
    if len(selections) == 1:
        caption.append(f'Checkpoint selection, every row: {selections[0]}.')
    return '\n'.join(caption + [''] + lines) if caption else '\n'.join(lines)


def untrained_table(folders):
    """Several folders without results: which config, which reference it will be scored on."""
    lines = [_row(['dataset', 'config', 'reference annotation', 'result']), _row(['---'] * 4)]
    for name, models in folders:
        for m in models:
            lines.append(_row([name, _config(m), m['Metadata'].get('Training Annotation', '—'),
                               'not trained yet' if not m.get('Results') else 'see its README']))
    return '\n'.join(lines)


def recipes_table(folders):
    """The models a metafile marks with a Recipe: what a user picks from."""
    picked = [m for models in folders.values() for m in models if m['Metadata'].get('Recipe')]
    picked.sort(key=lambda m: not m['Metadata']['Recipe'].startswith('recommended'))
    head = ['recipe', 'trained on', 'MRE vs senior (SDR 2 mm)',
            'MRE vs mean of both (SDR 2 mm)', 'GFLOPs', 'inference s/image (PyTorch / ONNX)',
            'training (2-core CPU)', 'config']
    selections = _selections(picked)
    if len(selections) > 1:                    # rows chosen differently: say it per row
        head.append('checkpoint selection')
    lines = [_row(head), _row(['---'] * len(head))]
    for m in picked:
        meta, results = m['Metadata'], _results(m)

        def mre(ref, results=results):
            metrics = results.get(ref, {}).get('Metrics', {})
            if 'MRE (mm)' not in metrics:
                return '—'
            sdr = metrics.get('SDR 2mm')
            return f'{metrics["MRE (mm)"]:.3f} mm' + (f' ({sdr:.1f} %)' if sdr is not None else '')
        speed = _num(meta.get('Inference Time (s/image)'), 3) + ' / ' + _num(
            meta.get('Inference Time ONNX (s/image)'), 3)
        lines.append(_row([f'**{meta["Recipe"]}**', meta.get('Training Annotation', '—'),
                           mre('senior'), mre('mean of both annotators'),
                           _num(meta.get('FLOPs (G)'), 2), speed,
                           f'{meta.get("Epochs")} epochs, {_minutes(meta)}', _config(m)]
                          + ([_selection(results)] if len(selections) > 1 else [])))
    caption = ('Test split: ' + '; '.join(_test_splits(picked)) + '. '
               + (f'Checkpoint selection, every row: {selections[0]}. ' if len(selections) == 1
                  else '') + 'Inference: 2 threads, median seconds per '
               'image, each row from its own run (the conditions are in metafile.yml).')
    return caption + '\n\n' + '\n'.join(lines)


def render(args, folders, where):
    names = args.split()
    if names == ['recipes']:
        return recipes_table(folders)
    unknown = [n for n in names if n not in folders]
    if unknown:
        raise TableError(f'{where}: no configs/{unknown[0]}/metafile.yml for this table')
    if len(names) == 1:
        return folder_table(folders[names[0]])
    return untrained_table([(n, folders[n]) for n in names])


def targets(root):
    readme = osp.join(root, 'README.md')
    return ([readme] if osp.isfile(readme) else []) + sorted(
        glob.glob(osp.join(root, 'docs', '**', '*.md'), recursive=True)) + sorted(
        glob.glob(osp.join(root, 'configs', '*', 'README.md')))


def regenerate(text, folders, path):
    """The file's text with every marked table generated anew."""
    def one(match):
        line = text.count('\n', 0, match.start()) + 1
        table = render(match.group(1), folders, f'{path}:{line}')
        return f'<!-- mmceph-results {match.group(1)} -->\n{table}\n<!-- /mmceph-results -->'
    return MARKER.sub(one, text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--check', action='store_true',
                        help='write nothing; exit 1 naming each file whose tables are stale')
    parser.add_argument('--root', default=REPO, help='repository root (default: this one)')
    args = parser.parse_args(argv)
    try:
        folders = load_metafiles(args.root)
        stale = []
        for name in folders:              # a folder's README shows its own metafile's table
            readme = osp.join(args.root, 'configs', name, 'README.md')
            if osp.isfile(readme) and f'<!-- mmceph-results {name} -->' not in open(
                    readme, encoding='utf-8').read():
                raise TableError(f'{readme}: no <!-- mmceph-results {name} --> table of '
                                 'its metafile.yml')
        for path in targets(args.root):
            with open(path, encoding='utf-8') as f:
                text = f.read()
            if len(OPEN.findall(text)) != len(CLOSE.findall(text)):
                raise TableError(f'{path}: a results marker is not closed')
            new = regenerate(text, folders, path)
            if new == text:
                continue
            stale.append(osp.relpath(path, args.root))
            if not args.check:
                tmp = f'{path}.tmp{os.getpid()}'
                with open(tmp, 'w', encoding='utf-8') as f:
                    f.write(new)
                os.replace(tmp, path)            # atomic: a reader never sees half a file
    except (TableError, OSError, yaml.YAMLError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    for path in stale:
        if args.check:
            print(f'{path}: a results table disagrees with configs/*/metafile.yml '
                  '(run python tools/misc/results_tables.py)', file=sys.stderr)
        else:
            print(f'updated {path}')
    return 1 if args.check and stale else 0


if __name__ == '__main__':
    sys.exit(main())
