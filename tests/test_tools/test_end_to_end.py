"""Train -> test -> infer through the real mim CLI and MMPose runner, on tiny synthetic data."""
import json
import math
import os
import os.path as osp
import re
import subprocess
import sys

import pytest
from conftest import CONFIG, data_options, run, tool_main
from dicom_files import write_dicom

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BIN = osp.dirname(sys.executable)


@pytest.fixture(scope='module')
def trained(demo_model):
    return demo_model


def test_training_writes_checkpoints_and_best_alias(trained):
    data, work, out = trained
    assert (work / 'epoch_30.pth').is_file()
    assert (work / 'best_MRE.pth').is_file()
    best = [f for f in os.listdir(work) if f.startswith('best_MRE_epoch_')]
    assert len(best) == 1 and osp.samefile(work / best[0], work / 'best_MRE.pth')
    assert 'MRE:' in out


def test_mim_test_loads_the_checkpoint_and_prints_its_metrics(trained, tmp_path):
    """Tested on the validation split, `mim test` must reproduce the validation MRE that
    training recorded for the best checkpoint: a run that ignored the checkpoint (random
    weights) or scored another split would not."""
    import torch
    data, work, _ = trained
    out = run(['mim', 'test', 'mmceph', CONFIG, '--checkpoint', str(work / 'best_MRE.pth'),
               '--work-dir', str(tmp_path), '--cfg-options', *data_options(data),
               'test_dataloader.dataset.ann_file=annotations/val.json'], tmp_path)
    found = dict(re.findall(r'(MRE|SDR_2\.0mm|SDR_4\.0mm): ([0-9.eE+-]+|nan)', out))
    assert set(found) == {'MRE', 'SDR_2.0mm', 'SDR_4.0mm'}, out[-2000:]
    assert all(math.isfinite(float(v)) for v in found.values())
    assert 0 <= float(found['SDR_2.0mm']) <= float(found['SDR_4.0mm']) <= 1
    best = torch.load(work / 'best_MRE.pth', map_location='cpu', weights_only=False)
    recorded = best['message_hub']['runtime_info']['best_score']
    assert float(found['MRE']) == pytest.approx(recorded, abs=1e-4), out[-2000:]


def test_infer_writes_json_and_overlay(trained, tmp_path):
    data, work, _ = trained
    image = json.load(open(data / 'annotations/test.json'))['images'][0]
    run([sys.executable, osp.join(REPO, 'tools/infer.py'), str(data / image['file_name']), CONFIG,
         str(work / 'best_MRE.pth'), '--out-dir', str(tmp_path / 'out')], REPO, expect=3)
    name = osp.basename(image['file_name'])
    result = json.load(open(tmp_path / 'out' / f'{name}.landmarks.json'))
    assert (tmp_path / 'out' / f'{name}.overlay.png').stat().st_size > 1000
    # no spacing in a PNG: the training set's is assumed, and the status says so
    assert result['status'] == 'review' and result['pixel_spacing_assumed'] is True
    assert 'no pixel spacing' in result['status_reasons'][-1], result['status_reasons']
    assert len(result['landmarks']) == 19 and result['landmarks'][0]['name'] == 'sella'
    assert result['pixel_spacing_mm'] == [0.1, 0.1]            # the training set's spacing
    assert result['pixel_spacing_source'] == 'dataset default'
    lm = result['landmarks'][3]
    assert lm['x_mm'] == pytest.approx(lm['x_px'] * 0.1, abs=1e-2)
    roi = json.load(open(data / 'roi_prior.json'))['roi_xyxy_normalised']
    assert result['roi_xyxy_px'][0] == pytest.approx(roi[0] * image['width'], abs=0.1)


def test_infer_folder_of_formats_with_a_corrupt_file(trained, tmp_path):
    import cv2
    import numpy as np

    from mmceph.clinical import analyse
    data, work, _ = trained
    image = json.load(open(data / 'annotations/test.json'))['images'][0]
    grey = cv2.imread(str(data / image['file_name']), cv2.IMREAD_GRAYSCALE)
    folder = tmp_path / 'in'
    folder.mkdir()
    cv2.imwrite(str(folder / 'a_colour.jpg'), cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    cv2.imwrite(str(folder / 'b_16bit.tif'), grey.astype(np.uint16) * 257)
    cv2.imwrite(str(folder / 'c_grey.bmp'), grey)
    write_dicom(folder / 'd_scan.dcm', grey.astype(np.uint16) * 16, (0.2, 0.15))
    (folder / 'e_corrupt.png').write_bytes(b'\x89PNG\r\n\x1a\n not really a png')
    # in-process (conftest.tool_main); the test above runs infer.py as a real process
    proc = tool_main('infer.py', folder, CONFIG, work / 'best_MRE.pth', '--out-dir',
                     tmp_path / 'out')
    assert proc.returncode == 1, proc.stderr[-2000:]       # 1: some image was skipped
    assert 'e_corrupt.png' in proc.stderr and 'not a readable image' in proc.stderr
    out = tmp_path / 'out'
    for name in ('a_colour.jpg', 'b_16bit.tif', 'c_grey.bmp', 'd_scan.dcm'):
        assert (out / f'{name}.landmarks.json').is_file()
        assert (out / f'{name}.overlay.png').is_file()
    assert not list(out.glob('e_corrupt*'))
    dcm = json.load(open(out / 'd_scan.dcm.landmarks.json'))
    assert dcm['status'] == 'ok', dcm['status_reasons']
    assert dcm['pixel_spacing_source'] == 'DICOM PixelSpacing'
    assert dcm['pixel_spacing_mm'] == [0.15, 0.2]                # (x = column, y = row)
    kpts = np.array([[lm['x_px'], lm['y_px']] for lm in dcm['landmarks']])
    # status ok: the demo model's landmarks are distinct, so every measurement is given
    assert 'measurements' in dcm, dcm.get('measurements_error')
    expected = analyse(kpts, (0.15, 0.2))
    for name, m in dcm['measurements'].items():
        assert m['value'] == pytest.approx(expected[name]['value'], abs=0.05)
        assert m['class'] == expected[name]['class']
    a = json.load(open(out / 'a_colour.jpg.landmarks.json'))
    c = json.load(open(out / 'c_grey.bmp.landmarks.json'))
    assert a['landmarks'][0]['x_px'] == pytest.approx(c['landmarks'][0]['x_px'], abs=1.0)
    rows = (out / 'mmceph_landmarks.csv').read_text().splitlines()
    assert len(rows) == 1 + 4 * 19
    assert (out / 'mmceph_measurements.csv').read_text().count('\n') == 1 + 4 * 8


def test_mmpose_inferencer_uses_the_roi_prior(trained):
    from mmpose.apis import MMPoseInferencer

    from mmceph.apis import LandmarkPredictor
    data, work, _ = trained
    image = str(data / json.load(open(data / 'annotations/test.json'))['images'][0]['file_name'])
    inferencer = MMPoseInferencer(pose2d=CONFIG, pose2d_weights=str(work / 'best_MRE.pth'),
                                  device='cpu')
    result = next(inferencer(image, return_vis=False))
    pred = result['predictions'][0][0]
    ours, _, _ = LandmarkPredictor(CONFIG, str(work / 'best_MRE.pth')).predict(image)
    assert len(pred['keypoints']) == 19
    for (x, y), lm in zip(pred['keypoints'], ours['landmarks']):
        assert x == pytest.approx(lm['x_px'], abs=0.05) and y == pytest.approx(lm['y_px'], abs=0.05)
    roi = ours['roi_xyxy_px']
    assert pred['bbox'][0] == pytest.approx(roi, abs=0.2)


@pytest.mark.parametrize('value', ['nan', '-0.1', '0'])
def test_infer_refuses_a_bad_pixel_spacing(value, tmp_path):
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools/infer.py'), 'x.png', CONFIG,
                           'ckpt.pth', '--out-dir', str(tmp_path), '--pixel-spacing', value],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and '--pixel-spacing must be one or two numbers' in proc.stderr
