"""isbi_protocol.py: the recipe config it writes, its commands (dry run), and how it reads
the validation logs and compare_methods' table."""
import json
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmceph.evaluation.protocol import best_validation, markdown_row, table

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'analysis_tools', 'isbi_protocol.py')
LITE0 = osp.join(REPO, 'configs', 'isbi2015', 'td-hm_lite0-fpn_1xb4-40e_isbi2015-576x448.py')


def dry_run(tmp_path, *extra):
    proc = subprocess.run([sys.executable, SCRIPT, LITE0, '--work-dir', str(tmp_path / 'w'),
                           '--dry-run', *extra], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, Config.fromfile(str(tmp_path / 'w' / 'recipe.py'))


def test_dry_run_random_target_selected_on_validation(tmp_path):
    out, cfg = dry_run(tmp_path, '--target', 'random', '--epochs', '30')
    first = cfg.train_dataloader.dataset.pipeline[0]
    assert (first.type, first.target) == ('PickAnnotator', 'random')
    assert cfg.train_dataloader.dataset.pipeline[1].type == 'LoadCephalogram'
    assert cfg.val_dataloader.dataset.ann_file == 'annotations/val.json'
    assert cfg.val_dataloader.dataset.data_root == 'data/isbi2015_mean/'   # random -> mean
    assert cfg.test_dataloader.dataset.ann_file == 'annotations/test1.json'
    assert cfg.test_dataloader.dataset.data_root == 'data/isbi2015/'
    cosine = cfg.param_scheduler[1]
    assert (cfg.train_cfg.max_epochs, cosine.end, cosine.T_max) == (30, 30, 30)
    assert cfg.train_cfg.val_interval == 3
    lines = out.splitlines()
    assert lines[0].split()[2:] == ['tools/train.py', str(tmp_path / 'w' / 'recipe.py'),
                                    '--work-dir', str(tmp_path / 'w')]
    assert 'compare_methods.py' in lines[1]
    assert 'junior=data/isbi2015_junior/annotations/test1.json' in lines[1]
    assert 'mean=data/isbi2015_mean/annotations/test1.json' in lines[1]


def test_dry_run_literature_protocol_and_cfg_options(tmp_path):
    _, cfg = dry_run(tmp_path, '--select-on', 'test1', '--target', 'senior',
                     '--cfg-options', 'optim_wrapper.optimizer.lr=0.002')
    assert cfg.val_dataloader.dataset.ann_file == 'annotations/test1.json'
    assert cfg.val_dataloader.dataset.data_root == 'data/isbi2015/'
    assert cfg.optim_wrapper.optimizer.lr == 0.002
    assert cfg.train_cfg.max_epochs == 40 and cfg.train_cfg.val_interval == 5   # untouched


def test_missing_data_is_refused_before_anything_runs(tmp_path):
    proc = subprocess.run([sys.executable, SCRIPT, LITE0, '--work-dir', str(tmp_path / 'w'),
                           '--data', str(tmp_path / 'none')], capture_output=True, text=True,
                          cwd=REPO)
    assert proc.returncode == 2 and 'not found' in proc.stderr
    assert not osp.exists(tmp_path / 'w')


def test_best_validation_is_the_lowest_mre(tmp_path):
    run = tmp_path / '20261203_000000' / 'vis_data'
    run.mkdir(parents=True)
    rows = [dict(loss=0.1, step=10), dict(MRE=1.30, step=3), dict(MRE=1.0616, step=9),
            dict(MRE=1.0617, step=12)]
    (run / 'scalars.json').write_text(''.join(json.dumps(r) + '\n' for r in rows))
    assert best_validation(str(tmp_path)) == (1.0616, 9)
    assert best_validation(str(tmp_path / 'empty')) is None


def test_table_from_compare_methods_output():
    out = ('log line\n| method | epochs | training wall time | test MRE (mm, senior) | '
           'SDR 2 mm | 2.5 mm | 3 mm | 4 mm | test MRE (mm, junior) | SDR 2 mm (junior) | '
           'test MRE (mm, mean) | SDR 2 mm (mean) | inference (s/image) | '
           'model alone (s/image) | GFLOPs |\n|' + '---|' * 15 + '\n'
           '| m | 30 | 41 min | 1.601 | 80.0 % | 86.0 % | 90.0 % | 95.0 % | 1.700 | 70.0 % '
           '| 1.200 | 88.0 % | 0.310 | 0.250 | 2.33 |\n')
    row = markdown_row(out)
    assert row['test MRE (mm, mean)'] == '1.200' and row['GFLOPs'] == '2.33'
    text = table('m', 'Test1 (literature protocol)', 'mean', 'mean', (1.0616, 9), row, 2)
    head, _, cells = text.splitlines()
    assert dict(zip(head.split(' | '), cells.split(' | ')))['Test1 MRE senior'] == '1.601'
    assert '| m | Test1 (literature protocol) | mean | 30 | 1.062 (epoch 9) | 1.601 | 1.700 | ' \
           '1.200 | 80.0 % | 86.0 % | 90.0 % | 95.0 % | 41 min | 2.33 | 0.310 |' == cells
    with pytest.raises(ValueError, match='no Markdown table'):
        markdown_row('no table here')
