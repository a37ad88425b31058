"""Site adaptation (tools/adapt.py, CephalometricEstimator.site_offsets): a known offset is
recovered exactly, one wild label cannot move it, it survives a checkpoint file, every
prediction path applies it (mim-test's test_step, MMPoseInferencer, infer.py), old
checkpoints load strictly, and bad adaptation sets are refused with nothing written."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import tool_main

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = sorted(glob.glob(osp.join(REPO, 'configs/synthetic/*.py')))[0]
ADAPT = osp.join(REPO, 'tools', 'adapt.py')
BIN = osp.dirname(sys.executable)


def tool(script, *args):
    """A real process (the ``site`` fixture's adaptation); the other adaptations and
    refusals run in-process (conftest.tool_main: seconds, not a torch+MMPose start each)."""
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'], PYTHONPATH=REPO)
    return subprocess.run([sys.executable, script, *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


# ------------------------------------------------------------------ the estimate itself
def synthetic(n=10, K=19, seed=0):
    rng = np.random.default_rng(seed)
    pred = rng.uniform(100, 900, (n, K, 2))
    scale = rng.uniform(500, 800, (n, 2))
    offsets = rng.uniform(-0.02, 0.02, (K, 2))
    gt = pred + offsets[None] * scale[:, None]
    return pred, gt, np.ones((n, K), bool), scale, offsets


def test_known_offset_is_recovered_exactly():
    from mmceph.apis.adaptation import estimate_offsets
    from mmceph.core.site_offsets import add_site_offsets
    pred, gt, vis, scale, offsets = synthetic()
    est = estimate_offsets(pred, gt, vis, scale)
    np.testing.assert_allclose(est, offsets, atol=1e-12)
    np.testing.assert_allclose(add_site_offsets(pred, est, scale, dtype=float), gt, atol=1e-9)


def test_one_wild_label_and_missing_landmarks_do_not_move_it():
    from mmceph.apis.adaptation import estimate_offsets
    pred, gt, vis, scale, offsets = synthetic()
    gt[3, 5] += 400.0               # a landmark clicked on the wrong structure
    vis[7, 2] = False                # not labelled (v=0) on one image
    gt[7, 2] = 0.0
    np.testing.assert_allclose(estimate_offsets(pred, gt, vis, scale), offsets, atol=1e-12)


def test_leave_one_out_check_sees_a_real_offset_and_its_absence():
    from mmceph.apis.adaptation import leave_one_out
    pred, gt, vis, scale, _ = synthetic()
    check = leave_one_out(pred, gt, vis, scale, [(0.1, 0.1)] * len(pred))
    assert check['unit'] == 'mm' and check['mre_adapted'] < 1e-6 < check['mre_unadapted']
    noise = np.random.default_rng(5).normal(0, 5.0, gt.shape)   # no offset, only noise
    check = leave_one_out(pred, pred + noise, vis, scale)
    assert check['unit'] == 'px' and check['change'] > 0


def test_leave_one_out_runs_from_the_adaptation_minimum_of_three_images():
    """k = 3: each image is scored with the other two's median (= their mean); worked by
    hand: x residuals 2, 4, 9 px -> before mean 5; after |2-6.5|, |4-5.5|, |9-3| -> 4."""
    from mmceph.apis.adaptation import MIN_IMAGES, leave_one_out
    assert MIN_IMAGES == 3
    K = 19
    pred = np.full((3, K, 2), 500.0)
    gt = pred + np.array([2.0, 4.0, 9.0])[:, None, None] * [1.0, 0.0]
    scale, vis = np.full((3, 2), 100.0), np.ones((3, K), bool)
    check = leave_one_out(pred, gt, vis, scale)
    assert check == dict(unit='px', mre_unadapted=5.0, mre_adapted=4.0, change=-1.0)
    assert leave_one_out(pred[:2], gt[:2], vis[:2], scale[:2]) is None     # below it
    vis[1, 7] = False                  # one landmark labelled on 2 of the 3 images
    assert leave_one_out(pred, gt, vis, scale) is None


def test_too_few_labelled_images_are_refused_naming_the_landmark():
    from mmceph.apis.adaptation import AdaptationError, estimate_offsets
    pred, gt, vis, scale, _ = synthetic(n=4)
    vis[:2, 9] = False
    names = [f'L{k}' for k in range(19)]
    with pytest.raises(AdaptationError, match=r'L9 \(2\)'):
        estimate_offsets(pred, gt, vis, scale, names)


# ------------------------------------------------------------------ the model
def tiny_estimator():
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    import mmceph.registration  # noqa: F401
    init_default_scope('mmpose')
    cfg = Config.fromfile(CONFIG)
    cfg.model.type = 'CephalometricEstimator'
    return MODELS.build(cfg.model)


def test_offsets_travel_in_the_state_dict_and_old_checkpoints_load_strictly(tmp_path):
    from mmceph.apis.checkpoint import load_fitting_checkpoint
    model = tiny_estimator()
    plain = {k: v for k, v in model.state_dict().items() if k != 'site_offsets'}
    torch.save(dict(meta={}, state_dict=plain), tmp_path / 'old.pth')
    load_fitting_checkpoint(model, str(tmp_path / 'old.pth'), 19)   # no missing key
    assert model.site_offsets.shape == (0, 2) and not model.is_adapted
    offsets = np.random.default_rng(1).uniform(-0.01, 0.01, (19, 2))
    model.set_site_offsets(offsets)
    torch.save(dict(meta={}, state_dict=model.state_dict()), tmp_path / 'adapted.pth')
    fresh = tiny_estimator()
    load_fitting_checkpoint(fresh, str(tmp_path / 'adapted.pth'), 19)
    assert fresh.is_adapted
    np.testing.assert_allclose(fresh.site_offsets.numpy(), offsets, atol=1e-7)


def test_prediction_adds_offsets_times_the_crop_once():
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample
    model = tiny_estimator().eval()
    offsets = np.full((19, 2), 0.01)
    offsets[:, 1] = -0.02
    model.set_site_offsets(offsets)
    sample = PoseDataSample(metainfo=dict(input_scale=np.array([200.0, 300.0])))
    sample.pred_instances = InstanceData(keypoints=np.zeros((1, 19, 2), np.float32))
    out = model.apply_site_offsets([sample])[0].pred_instances.keypoints
    np.testing.assert_allclose(out[0], np.tile([2.0, -6.0], (19, 1)), atol=1e-5)


# ------------------------------------------------------------------ the tool, end to end
@pytest.fixture(scope='module')
def site(demo_model, tmp_path_factory):
    """The demo model, an estimator config for it, and a "new site": the synthetic test
    set with every label moved by a known amount."""
    data, work, _ = demo_model
    tmp = tmp_path_factory.mktemp('site')
    cfg = tmp / 'estimator.py'
    cfg.write_text(f"_base_ = [{CONFIG!r}]\nmodel = dict(type='CephalometricEstimator')\n"
                   + ''.join(f"{loader} = dict(dataset=dict(data_root={str(data) + '/'!r}))\n"
                             for loader in ('train_dataloader', 'val_dataloader',
                                            'test_dataloader')))
    with open(data / 'annotations' / 'test.json') as f:
        doc = json.load(f)
    shift = (4.0, -3.0)                     # pixels, the same on every image
    for ann in doc['annotations']:
        k = ann['keypoints']
        for i in range(0, len(k), 3):
            if k[i + 2] > 0:
                k[i] += shift[0]
                k[i + 1] += shift[1]
    (tmp / 'annotations').mkdir()
    ann_file = tmp / 'annotations' / 'site.json'
    ann_file.write_text(json.dumps(doc))
    os.symlink(data / 'images', tmp / 'images')
    out = tmp / 'adapted.pth'
    proc = tool(ADAPT, cfg, work / 'best_MRE.pth', '--ann', ann_file, '--out', out,
                '--data-root', data, '--img-prefix', '')
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(data=data, work=work, cfg=str(cfg), ann=ann_file, doc=doc, out=out,
                shift=shift, tmp=tmp, stdout=proc.stdout)


def _predict(cfg, ckpt, image):
    from mmceph.apis import LandmarkPredictor
    predictor = LandmarkPredictor(cfg, str(ckpt), check_orientation=False)
    return predictor, predictor.predict(image)[0]


def test_adapted_checkpoint_records_provenance_and_moves_predictions(site):
    import hashlib

    from mmengine.runner.checkpoint import _load_checkpoint

    ckpt = _load_checkpoint(str(site['out']), map_location='cpu')
    record = ckpt['meta']['site_adaptation']
    assert record['images'] == len(site['doc']['images'])
    assert record['ann_file'] == 'site.json' and record['ann_sha256'] == hashlib.sha256(
        site['ann'].read_bytes()).hexdigest()
    assert record['method'] == 'median offset' and record['date'].startswith('20')
    assert ckpt['meta']['dataset_meta']['site_adaptation'] == record
    assert record['leave_one_out']['change'] < 0           # a shifted site: it pays
    assert ckpt['state_dict']['site_offsets'].shape == (19, 2)
    image = sorted((site['data'] / 'images').glob('*.png'))[-1]
    before, plain = _predict(site['cfg'], site['work'] / 'best_MRE.pth', image)
    after, adapted = _predict(site['cfg'], site['out'], image)
    assert plain['site_adaptation'] is None
    assert adapted['site_adaptation']['ann_sha256'] == record['ann_sha256']
    # every landmark moved by its offset times the crop size (one size per axis)
    moved = np.array([[a['x_px'] - b['x_px'], a['y_px'] - b['y_px']]
                      for a, b in zip(adapted['landmarks'], plain['landmarks'])])
    offsets = ckpt['state_dict']['site_offsets'].numpy()
    assert np.abs(moved).max() > 0.5
    big = np.abs(offsets) > 1e-3
    crop = [np.median(moved[big[:, i], i] / offsets[big[:, i], i]) for i in (0, 1)]
    np.testing.assert_allclose(moved, offsets * crop, atol=0.02)


def test_the_known_shift_is_recovered_exactly_end_to_end(site, tmp_path):
    """Adapting on the unshifted and on the shifted labels of the same images (all of one
    size, so one crop size): the offsets differ by exactly the shift over the crop size."""
    from mmengine.config import Config
    from mmengine.runner.checkpoint import _load_checkpoint

    from mmceph.apis.adaptation import build_site_dataset
    plain_out = tmp_path / 'plain.pth'
    proc = tool_main('adapt.py', site['cfg'], site['work'] / 'best_MRE.pth', '--ann',
                     site['data'] / 'annotations' / 'test.json', '--out', plain_out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a = _load_checkpoint(str(site['out']), map_location='cpu')['state_dict']['site_offsets']
    b = _load_checkpoint(str(plain_out), map_location='cpu')['state_dict']['site_offsets']
    ds = build_site_dataset(Config.fromfile(site['cfg']), site['ann'], str(site['data']), '')
    scales = {tuple(np.asarray(ds[i]['data_samples'].metainfo['input_scale']).reshape(-1)[:2])
              for i in range(len(ds))}
    assert len(scales) == 1
    expected = np.asarray(site['shift']) / np.asarray(scales.pop())
    np.testing.assert_allclose((a - b).numpy(), np.tile(expected, (19, 1)), rtol=1e-4,
                               atol=1e-7)


def test_mmposeinferencer_and_infer_py_apply_it(site, tmp_path):
    from mmpose.apis import MMPoseInferencer
    image = sorted((site['data'] / 'images').glob('*.png'))[-1]
    _, adapted = _predict(site['cfg'], site['out'], image)
    inferencer = MMPoseInferencer(pose2d=site['cfg'], pose2d_weights=str(site['out']),
                                  device='cpu')
    pred = next(inferencer(str(image), return_vis=False))['predictions'][0][0]
    for (x, y), q in zip(pred['keypoints'], adapted['landmarks']):
        assert abs(x - q['x_px']) <= 0.05 and abs(y - q['y_px']) <= 0.05
    proc = tool_main('infer.py', image, site['cfg'], site['out'], '--out-dir', tmp_path,
                     '--no-overlay', '--no-orientation-check')
    assert proc.returncode in (0, 3), proc.stderr[-3000:]
    with open(tmp_path / f'{image.name}.landmarks.json') as f:
        result = json.load(f)
    assert result['site_adaptation']['images'] == len(site['doc']['images'])
    for p, q in zip(result['landmarks'], adapted['landmarks']):
        assert abs(p['x_px'] - q['x_px']) <= 0.01 and abs(p['y_px'] - q['y_px']) <= 0.01


# ------------------------------------------------------------------ refusals
def _refused(site, tmp_path, doc=None, *extra, cfg=None):
    ann = tmp_path / 'bad.json'
    if doc is not None:
        ann.write_text(json.dumps(doc))
    out = tmp_path / 'out' / 'adapted.pth'
    proc = tool_main('adapt.py', cfg or site['cfg'], site['work'] / 'best_MRE.pth', '--ann',
                     ann, '--out', out, '--data-root', site['data'], '--img-prefix', '', *extra)
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert lines[-1].startswith('error: ') and 'Traceback' not in proc.stderr
    assert not out.exists() and not list(tmp_path.glob('out/*'))
    return lines[-1]


def test_bad_adaptation_sets_are_refused_with_nothing_written(site, tmp_path):
    import copy
    doc = copy.deepcopy(site['doc'])
    doc['categories'][0]['keypoints'][4] = 'porion_2'
    assert 'landmark names' in _refused(site, tmp_path, doc)
    doc = copy.deepcopy(site['doc'])
    doc['categories'][0]['keypoints'] = doc['categories'][0]['keypoints'][:18]
    for ann in doc['annotations']:
        ann['keypoints'] = ann['keypoints'][:54]
    assert '18 keypoint names' in _refused(site, tmp_path, doc)
    doc = copy.deepcopy(site['doc'])
    for ann in doc['annotations'][2:]:          # menton labelled on two images only
        ann['keypoints'][3 * 7:3 * 7 + 3] = [0, 0, 0]
    assert 'menton (2)' in _refused(site, tmp_path, doc)
    doc = copy.deepcopy(site['doc'])
    del doc['annotations'][0]['bbox']
    assert 'bbox' in _refused(site, tmp_path, doc)
    assert 'at least 3' in _refused(site, tmp_path, site['doc'], '--images', '2')
    # a model type that cannot hold offsets
    plain = tmp_path / 'plain_estimator.py'
    plain.write_text(f"_base_ = [{site['cfg']!r}]\nmodel = dict(type='TopdownPoseEstimator')\n")
    assert 'CephalometricEstimator' in _refused(site, tmp_path, site['doc'], cfg=plain)
