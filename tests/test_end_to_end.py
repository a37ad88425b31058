"""Train -> test -> infer through the real mim CLI and MMPose runner, on tiny synthetic data."""
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs/synthetic/td-hm_hrnetv2-w18-small_1xb8-30e_synthetic-160x192.py')
BIN = osp.dirname(sys.executable)


def run(cmd, cwd):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'])
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f'{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc.stdout + proc.stderr


def data_options(root):
    return [f'{loader}.dataset.data_root={root}/'
            for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('e2e')
    data, work = tmp / 'data', tmp / 'work'
    run([sys.executable, '-m', 'data_converters', 'synthetic', '--out', str(data),
         '--num-images', '12', '--width', '192', '--height', '240'], REPO)
    # Run from an unrelated directory: mim must find mmceph's train.py in the installed package.
    out = run(['mim', 'train', 'mmceph', CONFIG, '--work-dir', str(work), '--cfg-options',
               'train_cfg.max_epochs=2', 'train_cfg.val_interval=1',
               'train_dataloader.batch_size=4', *data_options(data)], tmp)
    return data, work, out


def test_training_writes_checkpoints_and_best_alias(trained):
    data, work, out = trained
    assert (work / 'epoch_2.pth').is_file()
    assert (work / 'best_MRE.pth').is_file()
    best = [f for f in os.listdir(work) if f.startswith('best_MRE_epoch_')]
    assert len(best) == 1 and osp.samefile(work / best[0], work / 'best_MRE.pth')
    assert 'MRE:' in out


def test_mim_test_loads_the_checkpoint_and_prints_finite_metrics(trained, tmp_path):
    data, work, _ = trained
    out = run(['mim', 'test', 'mmceph', CONFIG, '--checkpoint', str(work / 'best_MRE.pth'),
               '--work-dir', str(tmp_path), '--cfg-options', *data_options(data)], tmp_path)
    found = dict(re.findall(r'(MRE|SDR_2\.0mm|SDR_4\.0mm): ([0-9.eE+-]+|nan)', out))
    assert set(found) == {'MRE', 'SDR_2.0mm', 'SDR_4.0mm'}, out[-2000:]
    assert all(math.isfinite(float(v)) for v in found.values())
    assert 0 <= float(found['SDR_2.0mm']) <= 1


def test_infer_writes_json_and_overlay(trained, tmp_path):
    data, work, _ = trained
    image = json.load(open(data / 'annotations/test.json'))['images'][0]
    run([sys.executable, osp.join(REPO, 'tools/infer.py'), str(data / image['file_name']), CONFIG,
         str(work / 'best_MRE.pth'), '--out-dir', str(tmp_path / 'out')], REPO)
    stem = osp.splitext(osp.basename(image['file_name']))[0]
    result = json.load(open(tmp_path / 'out' / f'{stem}.json'))
    assert (tmp_path / 'out' / f'{stem}.png').stat().st_size > 1000
    assert len(result['landmarks']) == 19 and result['landmarks'][0]['name'] == 'sella'
    assert result['pixel_spacing_mm'] == [0.1, 0.1]            # the training set's spacing
    assert result['pixel_spacing_source'] == 'dataset default'
    lm = result['landmarks'][3]
    assert lm['x_mm'] == pytest.approx(lm['x_px'] * 0.1, abs=1e-2)
    roi = json.load(open(data / 'roi_prior.json'))['roi_xyxy_normalised']
    assert result['roi_xyxy_px'][0] == pytest.approx(roi[0] * image['width'], abs=0.1)
