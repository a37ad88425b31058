"""The honest ISBI 2015 protocol's pieces (tools/analysis_tools/isbi_protocol.py is their
command line): the recipe config with its training target and validation reference, the
best validation read from the logs, and the one results table. Owned here so the tool stays
argparse plus calls, and the tests check these pieces without importing a tool."""
import argparse
import glob
import json
import os.path as osp

TARGETS = ('senior', 'junior', 'mean', 'random')
REFERENCES = ('senior', 'junior', 'mean')


def data_root(prefix, reference):
    """The converted folder holding ``reference``'s annotation (isbi_model.sh's layout)."""
    return prefix.rstrip('/') + ('/' if reference == 'senior' else f'_{reference}/')


def recipe_config(config, target, val_against, select_on, epochs, prefix, cfg_options):
    """The MMEngine Config of the recipe (see the module docstring, step 1)."""
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(config)
    train = cfg.train_dataloader.dataset
    train.data_root = data_root(prefix, 'senior')
    train.pipeline = [dict(type='PickAnnotator', target=target)] + list(train.pipeline)
    cfg.val_dataloader.dataset.data_root = data_root(prefix, val_against)
    cfg.test_dataloader.dataset.data_root = data_root(prefix, 'senior')
    if select_on == 'test1':
        cfg.val_dataloader.dataset.ann_file = 'annotations/test1.json'
    if epochs:
        cfg.train_cfg.max_epochs = epochs
        # about 10 validations, at least the last epoch's (MMEngine validates it always)
        cfg.train_cfg.val_interval = min(cfg.train_cfg.get('val_interval', 1),
                                         max(1, epochs // 10))
        cosine = [s for s in cfg.param_scheduler if s.type == 'CosineAnnealingLR']
        for sched in cosine:
            sched.end = sched.T_max = epochs
    if cfg_options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--o', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(['--o', *cfg_options]).o)
    return cfg


def best_validation(work_dir):
    """(MRE, epoch) of the best validation in ``work_dir``'s logs (the rule save_best uses:
    lowest MRE), or None before any validation."""
    best = None
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))):
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                if 'MRE' in row and (best is None or row['MRE'] < best[0]):
                    best = (row['MRE'], row.get('step'))
    return best


def markdown_row(text):
    """{header: cell} of the first data row of the last Markdown table in ``text``."""
    lines = [ln for ln in text.splitlines() if ln.startswith('|')]
    heads = [i for i, ln in enumerate(lines) if i + 1 < len(lines)
             and set(lines[i + 1].replace('|', '').strip()) <= {'-', ':'}]
    if not heads or heads[-1] + 2 >= len(lines):
        raise ValueError('no Markdown table in the output')
    cells = [[c.strip() for c in lines[i].strip('|').split('|')]
             for i in (heads[-1], heads[-1] + 2)]
    return dict(zip(*cells))


def table(name, selected, target, val_against, val, row, threads):
    """The protocol's one table (Markdown) from the validation and the Test1 results."""
    head = ['recipe', 'selected on', 'trained on', 'epochs', f'val MRE ({val_against})',
            'Test1 MRE senior', 'junior', 'mean', 'SDR 2 mm (senior)', '2.5 mm', '3 mm', '4 mm',
            'training wall time', 'GFLOPs',
            f'latency s/image (PyTorch, {threads} thread{"s" * (threads != 1)})']
    sdr = ['SDR 2 mm', '2.5 mm', '3 mm', '4 mm']
    cells = [name, selected, target, row.get('epochs', '-'),
             '-' if val is None else f'{val[0]:.3f} (epoch {val[1]})',
             row.get('test MRE (mm, senior)', '-'), row.get('test MRE (mm, junior)', '-'),
             row.get('test MRE (mm, mean)', '-'), *[row.get(k, '-') for k in sdr],
             row.get('training wall time', '-'), row.get('GFLOPs', '-'),
             row.get('inference (s/image)', '-')]
    return '\n'.join(['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head),
                      '| ' + ' | '.join(str(c) for c in cells) + ' |'])
