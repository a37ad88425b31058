"""The torch-free runtime: a cascade exported to ONNX predicts what the PyTorch pipeline
predicts (within 0.05 px on every landmark), and runs in a venv that has only
onnxruntime, numpy, OpenCV and Pillow.

The model: a real ``LandmarkCascade`` with every step the runtime reproduces (crop,
global pass, decode, refiner patches over two rounds and two test views, decode, mean).
Both its global model and its refiner carry the demo recipe's trained weights
(``demo_model``), decoded by CompensatedHeatmap: the refiner was not trained on patches,
but its heatmaps are a trained network's smooth peaks. (With random refiner weights the
decoder's choices on noise -- which pixel is the peak, which pass the fit threshold -- flip
on float rounding: one landmark moved 0.28 px.) A second cascade carries the Lite0 recipe's
refiner (ImageNet EfficientNet-Lite0 + FinestFPN, untrained head) and is checked on a colour
image: with the refiner patches rounded to uint8 (before issue 28) its landmarks differed by
2.9 px, with the BGR->RGB conversion dropped by 63 px; exactly sampled, by 0.001 px.
"""
import json
import os
import os.path as osp
import subprocess
import sys
import venv

import numpy as np
import pytest
from conftest import cached_build, skip_unless_required, source_key
from runtime_fixtures import REFINE_ONLY, RUNTIME_PACKAGES, cascade_config, config_path

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOLERANCE_PX = 0.05


@pytest.fixture(scope='module')
def exported(demo_model):
    """(config, checkpoint, export folder, test images) of the demo cascade; cached
    between runs (conftest.cached_build) by the demo model and the sources of the
    export: this file, the exporter and the package."""
    data, work, _ = demo_model
    key = source_key(('tests/test_runtime/test_onnx_runtime.py', 'tools/deployment',
                      'mmceph'), str(work), sys.version)
    tmp = cached_build('onnx-export', key, lambda folder: _export(work, folder))
    with open(data / 'annotations' / 'test.json') as f:
        images = [str(data / im['file_name']) for im in json.load(f)['images']]
    return str(tmp / 'cascade.py'), str(tmp / 'cascade.pth'), tmp / 'exported', images


def _export(work, tmp):
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    cfg_path = cascade_config(tmp)
    init_default_scope('mmpose')
    model = MODELS.build(Config.fromfile(cfg_path).model)
    demo = torch.load(work / 'best_MRE.pth', map_location='cpu', weights_only=False)
    state = dict(demo['state_dict'])
    state.update({'refiner.' + k: v for k, v in demo['state_dict'].items()})
    model.load_state_dict(state, strict=True)
    ckpt = str(tmp / 'cascade.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=demo['meta']), ckpt)
    out = tmp / 'exported'
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools/deployment/export_onnx.py'),
                           cfg_path, ckpt, str(out)], cwd=tmp, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1'),
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]


def test_export_folder_says_what_the_runtime_needs(exported):
    _, _, out, _ = exported
    meta = json.loads((out / 'mmceph_export.json').read_text())
    assert meta['opset'] == 17 and (out / 'global.onnx').is_file()
    assert (out / 'refiner0.onnx').is_file() and len(meta['cascade']['refiners']) == 1
    assert meta['cascade']['refine_only'] == REFINE_ONLY
    assert meta['format_version'] == 1 and 'landmark_patch_scales' not in meta['cascade']
    assert len(meta['keypoint_names']) == 19 and len(meta['roi_prior']) == 4
    assert meta['global']['codec']['input_size'] == [160, 192]
    assert meta['normalisation']['bgr_to_rgb'] is True
    assert 'default_pixel_spacing' in meta and meta['source']['checkpoint_sha256']


def test_onnx_landmarks_equal_pytorch_within_tolerance(exported):
    from mmceph.apis.onnx_parity import compare, summary
    cfg, ckpt, out, images = exported
    s = summary(compare(cfg, ckpt, str(out), images, threads=1))
    print(f'parity on {s["images"]} synthetic test images: max {s["max_px"]:.2e} px, '
          f'mean {s["mean_px"]:.2e} px')
    assert s['images'] >= 4
    assert s['max_px'] <= TOLERANCE_PX, s
    assert s['max_score_diff'] < 1e-3, s


LITE0_PATCH_SCALES = [1.0] * 15 + [1.3, 0.8, 1.0, 1.3]


def lite0_cascade_config(tmp):
    """The demo cascade with the Lite0 recipe's refiner, made tiny: ImageNet
    EfficientNet-Lite0 + FinestFPN (bilinear upsampling, as in
    ``_base_/models/efficientnet_lite0_fpn.py``) narrowed to 16 channels + a 1x1 heatmap
    head, on 64x64 patches; every landmark refined (issue 28: this path differed), three
    of them with wider or narrower patches (``landmark_patch_scales``)."""
    from mmengine.config import Config
    cfg = Config.fromfile(cascade_config(tmp))
    lite0 = Config.fromfile(config_path('_base_/models/efficientnet_lite0_fpn.py'))
    backbone, neck = (dict(lite0[k].to_dict()) for k in ('lite0_backbone', 'lite0_neck'))
    for part in (backbone, neck):
        part.pop('_delete_')
    cfg.model.refiner = dict(
        type='TopdownPoseEstimator', backbone=backbone, neck=dict(neck, out_channels=16),
        head=dict(type='HeatmapHead', in_channels=16, out_channels=19, deconv_out_channels=None,
                  loss=dict(type='KeypointMSELoss', use_target_weight=True),
                  decoder=cfg.model.refiner.head.decoder))
    cfg.model.refine_only = None
    cfg.model.landmark_patch_scales = LITE0_PATCH_SCALES
    path = str(tmp / 'cascade_lite0.py')
    cfg.dump(path)
    return path


def colour_cephalogram(grey_path, out_path):
    """A colour PNG of a grey test image whose B, G and R differ everywhere the anatomy is
    (linear, dimmed, gamma): feeding it in the wrong channel order changes every network's
    input."""
    import cv2
    grey = cv2.imread(grey_path, cv2.IMREAD_GRAYSCALE).astype(np.float64)
    bgr = np.dstack([grey, 0.75 * grey + 20, 255 * (grey / 255) ** 0.6])
    cv2.imwrite(out_path, np.round(bgr).clip(0, 255).astype(np.uint8))
    return out_path


@pytest.fixture(scope='module')
def lite0_exported(demo_model, tmp_path_factory):
    """(config, checkpoint, export folder, colour image) of a tiny Lite0-refiner cascade:
    the demo global model, the refiner with ImageNet weights and an untrained neck/head."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    data, work, _ = demo_model
    tmp = tmp_path_factory.mktemp('onnx_lite0')
    cfg_path = lite0_cascade_config(tmp)
    init_default_scope('mmpose')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(cfg_path).model)
    model.init_weights()                                   # the refiner's ImageNet weights
    demo = torch.load(work / 'best_MRE.pth', map_location='cpu', weights_only=False)
    missing = model.load_state_dict(demo['state_dict'], strict=False).missing_keys
    assert missing and all(k.startswith('refiner.') for k in missing)
    ckpt = str(tmp / 'cascade_lite0.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=demo['meta']), ckpt)
    from mmceph.apis.onnx_export import export_onnx
    out = tmp / 'exported'
    assert export_onnx(cfg_path, ckpt, str(out)) == 1           # one refiner
    with open(data / 'annotations' / 'test.json') as f:
        grey = str(data / json.load(f)['images'][0]['file_name'])
    return cfg_path, ckpt, out, colour_cephalogram(grey, str(tmp / 'colour.png'))


def test_lite0_refiner_cascade_on_a_colour_image_passes_the_parity_tool(lite0_exported, capsys):
    """onnx_parity.py on the tiny Lite0 cascade: within 0.05 px on a colour image, and its
    last line says PASS, where the worst landmark was and the tolerance; a tolerance below
    the measured difference makes it say FAIL and exit 1."""
    from run_tool import run_tool
    cfg, ckpt, out, colour = lite0_exported
    meta = json.loads((out / 'mmceph_export.json').read_text())
    assert meta['cascade']['refiners'][0]['patch_size'] == [64, 64]
    # per-landmark patch sides: recorded, and the folder marked format 2 (older runtimes,
    # which would cut every patch the same size, refuse it)
    assert meta['cascade']['landmark_patch_scales'] == LITE0_PATCH_SCALES
    assert meta['format_version'] == 2
    assert meta['normalisation']['bgr_to_rgb'] is True
    import cv2
    b, g, r = cv2.split(cv2.imread(colour))
    assert (b != r).mean() > 0.5 and (b != g).mean() > 0.5       # a colour image indeed
    report = out.parent / 'parity.json'
    assert run_tool('tools/deployment/onnx_parity.py',
                    [cfg, ckpt, out, colour, '--threads', '1', '--json', report]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    s = json.loads(report.read_text())['summary']
    print(f'Lite0 refiner cascade, colour image: max {s["max_px"]:.2e} px')
    assert 0 < s['max_px'] <= TOLERANCE_PX, s
    names = meta['keypoint_names']
    row = json.loads(report.read_text())['images'][0]
    assert last == (f"PASS: max {s['max_px']:.4f} px (image colour.png, landmark "
                    f"{row['worst_landmark']} {names[row['worst_landmark'] - 1]}) <= tolerance "
                    f"0.05 px over 1 images")
    below = f"{s['max_px'] / 2:.3g}"
    assert run_tool('tools/deployment/onnx_parity.py',
                    [cfg, ckpt, out, colour, '--threads', '1', '--tolerance', below]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith('FAIL: max ') and last.endswith(f'> tolerance {below} px over 1 images')


def test_crop_matches_mmpose_topdown_pipeline():
    """mmceph.core.warp reproduces GetBBoxCenterScale + TopdownAffine (and its matrix)."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import TRANSFORMS
    from mmpose.structures.bbox import get_warp_matrix

    from mmceph.core.warp import crop, topdown_box
    from mmceph.core.warp import get_warp_matrix as core_warp
    init_default_scope('mmpose')
    rng = np.random.default_rng(0)
    for size, box in (((160, 192), [10.5, 20.0, 180.0, 230.0]), ((448, 576), [0, 0, 1935, 2400]),
                      ((64, 64), [30.0, 5.0, 50.0, 200.0])):
        image = rng.integers(0, 255, (260, 200, 3), np.uint8)
        results = dict(img=image, bbox=np.array([box], np.float32))
        for step in (dict(type='GetBBoxCenterScale', padding=1.0),
                     dict(type='TopdownAffine', input_size=size)):
            results = TRANSFORMS.build(step).transform(results)
        center, scale = topdown_box(box, size, 1.0)
        np.testing.assert_allclose(center, results['bbox_center'][0], rtol=1e-6)
        np.testing.assert_allclose(scale, results['bbox_scale'][0], rtol=1e-6)
        assert np.array_equal(crop(image, center, scale, size), results['img'])
        for rot in (0.0, 12.5, -40.0):
            assert np.array_equal(core_warp(center, scale, rot, size),
                                  get_warp_matrix(center, scale, rot, size))


def test_prediction_patches_are_exact_bilinear_samples():
    """warp_patches(exact=True), what both backends' refiners see: bilinear samples in float
    (scipy's map_coordinates, an independent implementation, agrees), zeros outside the
    image, a grey image's equal channels as a colour image's; and continuous in the patch
    centre, where uint8 patches jump by whole grey levels (issue 28)."""
    from scipy.ndimage import map_coordinates

    from mmceph.core.warp import sample_bilinear, warp_patches
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (70, 50, 3), np.uint8)
    grey = np.repeat(rng.integers(0, 256, (70, 50, 1), np.uint8), 3, axis=2)
    centres = np.array([[25.3, 35.1], [1.0, 2.0], [49.6, 69.2], [-40.0, 90.0], [25.0, 35.0]])
    sides = [30.0, 25.0, 33.3, 10.0, 120.0]          # inside, across borders, outside, larger
    for image in (colour, grey):
        patches, warps = warp_patches(image, centres, sides, [0.0] * 5, (16, 12), exact=True)
        assert patches.dtype == np.float32 and patches.shape == (5, 3, 12, 16)
        for patch, warp in zip(patches, warps):
            inv = np.linalg.inv(np.vstack([warp, [0, 0, 1]]))
            ys, xs = np.mgrid[0:12, 0:16]
            x, y = (inv[i, 0] * xs + inv[i, 1] * ys + inv[i, 2] for i in (0, 1))
            for c in range(3):
                expected = map_coordinates(image[..., c].astype(float), [y, x], order=1,
                                           mode='grid-constant', cval=0.0)
                np.testing.assert_allclose(patch[c], expected, atol=2e-3)
    assert not patches[3].any()                       # a patch off the image: all zeros
    # a centre 1e-3 px away: every sample moves by at most 1e-3 px x the steepest gradient
    moved, _ = warp_patches(colour, centres + 1e-3, sides, [0.0] * 5, (16, 12), exact=True)
    still, _ = warp_patches(colour, centres, sides, [0.0] * 5, (16, 12), exact=True)
    assert 0 < np.abs(moved - still).max() <= 255 * 2e-3
    rounded = [warp_patches(colour, c, sides, [0.0] * 5, (16, 12))[0].astype(int)
               for c in (centres, centres + 1e-3)]
    assert np.abs(rounded[0] - rounded[1]).max() >= 1          # what uint8 patches did
    with pytest.raises(ValueError, match='unrotated'):
        sample_bilinear(colour, warp_patches(colour, centres[:1], [30.0], [10.0], (16, 12))[1],
                        (16, 12))


def runtime_venv(cache):
    """A venv with only RUNTIME_PACKAGES (reused between runs); skip when pip cannot
    reach a package index."""
    folder = osp.join(cache, 'venv-' + '-'.join(p.replace('==', '') for p in RUNTIME_PACKAGES))
    python = osp.join(folder, 'bin', 'python')
    if osp.isfile(osp.join(folder, '.complete')):
        return python
    venv.create(folder, with_pip=True, clear=True)
    proc = subprocess.run([python, '-m', 'pip', 'install', '--disable-pip-version-check',
                           '--no-input', '--timeout', '30', *RUNTIME_PACKAGES],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode:
        text = proc.stdout + proc.stderr
        # only an unreachable index is something a fresh machine may lack; a package
        # that cannot be found or built is a real failure (a pin gone wrong)
        if any(s in text for s in ('NewConnectionError', 'Temporary failure', 'Network is',
                                   'ConnectTimeout', 'ProxyError', 'ReadTimeout')):
            skip_unless_required('pip cannot reach a package index to build the '
                                 'runtime-only venv: ' + text.strip().splitlines()[-1][:200])
        raise AssertionError(text[-3000:])
    open(osp.join(folder, '.complete'), 'w').close()
    return python


def test_runtime_predicts_in_a_venv_without_torch(exported, tmp_path):
    """The clinic's install: onnxruntime, numpy, OpenCV, Pillow -- and mmceph's source."""
    from mmceph.apis.inference import LandmarkPredictor
    cfg, ckpt, out, images = exported
    cache = os.environ.get('MMCEPH_RUNTIME_VENV_CACHE',
                           osp.join(osp.expanduser('~'), '.cache', 'mmceph-runtime-test'))
    python = runtime_venv(cache)
    script = (
        'import json, sys\n'
        'from mmceph.runtime import OnnxLandmarkPredictor\n'
        'p = OnnxLandmarkPredictor(sys.argv[1], threads=1)\n'
        'result, image, kpts = p.predict(sys.argv[2])\n'
        'heavy = sorted(m for m in ("torch", "mmcv", "mmengine", "mmpose") if m in sys.modules)\n'
        'print(json.dumps(dict(result=result, heavy=heavy)))\n')
    # -E -s: no PYTHONPATH, no user site; mmceph's source from the working folder (REPO)
    proc = subprocess.run([python, '-E', '-s', '-c', script, str(out), images[0]], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found['heavy'] == []
    # tools/infer.py on the exported folder, in the same venv: the same files as with torch
    infer = [osp.join(REPO, 'tools', 'infer.py'), images[0]]
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=REPO)
    runtime_out, torch_out = tmp_path / 'infer_onnx', tmp_path / 'infer_torch'
    proc = subprocess.run([python, *infer, str(out), '--out-dir', str(runtime_out)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode in (0, 3), proc.stderr[-3000:]
    proc = subprocess.run([python, *infer, str(out), 'extra.pth', '--out-dir', str(torch_out)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2 and 'exported model folder' in proc.stderr   # one line
    proc = subprocess.run([sys.executable, *infer, cfg, ckpt, '--out-dir', str(torch_out)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode in (0, 3), proc.stderr[-3000:]
    name = osp.basename(images[0])
    assert sorted(os.listdir(runtime_out)) == sorted(os.listdir(torch_out))
    a, b = (json.loads((d / f'{name}.landmarks.json').read_text())
            for d in (runtime_out, torch_out))
    assert {k: v for k, v in a.items() if k not in ('landmarks', 'provenance')} == \
        {k: v for k, v in b.items() if k not in ('landmarks', 'provenance')}
    assert a['provenance']['backend']['name'] == 'onnxruntime'    # what made each file
    assert b['provenance']['backend']['name'] == 'pytorch'
    try:                                   # the venv really has no torch to fall back on
        subprocess.run([python, '-I', '-c', 'import torch'], check=True, capture_output=True)
        pytest.fail('the runtime-only venv has torch')
    except subprocess.CalledProcessError:
        pass
    expected, _, _ = LandmarkPredictor(cfg, ckpt).predict(images[0])
    got = found['result']
    for key in ('status', 'width', 'height', 'pixel_spacing_mm', 'pixel_spacing_source',
                'roi_xyxy_px'):
        assert got[key] == expected[key], key
    assert [lm['name'] for lm in got['landmarks']] == [lm['name'] for lm in
                                                       expected['landmarks']]
    for a, b in zip(got['landmarks'], expected['landmarks']):
        assert abs(a['x_px'] - b['x_px']) <= TOLERANCE_PX + 0.01     # JSON rounds to 0.01
        assert abs(a['y_px'] - b['y_px']) <= TOLERANCE_PX + 0.01
        assert a['flags'] == b['flags']


def test_runtime_gives_isbi_measurements_only_to_isbi_names(exported, tmp_path):
    """The demo export (ISBI names) relabelled with the lateral photographs' 19 names, with
    a spacing: the same landmarks and no ISBI measurement, in the runtime and infer.py."""
    import shutil

    from mmceph.metainfo.lateral_photo import KEYPOINTS as PHOTO
    from mmceph.runtime import OnnxLandmarkPredictor
    _, _, out, images = exported
    photo = tmp_path / 'photo_export'
    shutil.copytree(out, photo)
    meta = json.loads((photo / 'mmceph_export.json').read_text())
    meta['keypoint_names'] = list(PHOTO)
    (photo / 'mmceph_export.json').write_text(json.dumps(meta))
    isbi, _, _ = OnnxLandmarkPredictor(str(out), threads=1).predict(images[0], (0.5, 0.5))
    got, _, _ = OnnxLandmarkPredictor(str(photo), threads=1).predict(images[0], (0.5, 0.5))
    assert isbi['status'] != 'rejected' and got['status'] == isbi['status']
    assert 'measurement_units' in isbi and (isbi.get('measurements')
                                            or isbi.get('measurements_withheld'))
    assert not [k for k in got if k.startswith('measurement')]
    assert [lm['x_px'] for lm in got['landmarks']] == [lm['x_px'] for lm in isbi['landmarks']]
    proc = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'infer.py'), images[0],
                           str(photo), '--out-dir', str(tmp_path / 'infer'),
                           '--pixel-spacing', '0.5'], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, OMP_NUM_THREADS='1',
                                                PYTHONPATH=REPO))
    assert proc.returncode in (0, 3), proc.stderr[-3000:]
    written = json.loads((tmp_path / 'infer' / f'{osp.basename(images[0])}.landmarks.json')
                         .read_text())
    assert written['pixel_spacing_mm'] == [0.5, 0.5]
    assert not [k for k in written if k.startswith('measurement')]
