"""The torch-free runtime: a cascade exported to ONNX predicts what the PyTorch pipeline
predicts (within 0.05 px on every landmark), and runs in a venv that has only
onnxruntime, numpy, OpenCV and Pillow.

The model: a real ``LandmarkCascade`` with every step the runtime reproduces (crop,
global pass, decode, refiner patches over two rounds and two test views, decode, mean).
Both its global model and its refiner carry the demo recipe's trained weights
(``demo_model``), decoded by CompensatedHeatmap: the refiner was not trained on patches,
but its heatmaps are a trained network's smooth peaks. (With random refiner weights the
decoder's choices on noise -- which pixel is the peak, which pass the fit threshold -- flip
on float rounding: one landmark moved 0.28 px.)
"""
import copy
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import venv

import numpy as np
import pytest
from conftest import cached_build, skip_unless_required, source_key

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOLERANCE_PX = 0.05


def opencv_here():
    """The OpenCV wheel version this environment imports. The clinic's venv gets the same
    OpenCV (headless): resampling and blurring differ between OpenCV releases (4.11 vs 5.0
    moved a landmark of the demo cascade by 0.07 px), and the runtime's promise is equality
    with the PyTorch path given the same libraries."""
    import importlib.metadata as md

    import cv2
    for dist in ('opencv-python', 'opencv-python-headless', 'opencv-contrib-python'):
        try:
            version = md.version(dist)
        except md.PackageNotFoundError:
            continue
        if version.startswith(cv2.__version__ + '.'):
            return version
    return '4.11.0.86'


# what the clinic's venv gets (+ tqdm, the progress bar of tools/infer.py)
RUNTIME_PACKAGES = ('onnxruntime==1.32.0', 'numpy==2.3.5',
                    f'opencv-python-headless=={opencv_here()}', 'pillow==11.2.1',
                    'tqdm==4.67.1')


def config_path(pattern):
    found = sorted(glob.glob(osp.join(REPO, 'configs', pattern)))
    assert found, pattern
    return found[0]


REFINE_ONLY = [0, 5, 11, 12, 13, 14, 15, 16, 17, 18]


def cascade_config(tmp):
    """The demo config with a LandmarkCascade model (demo global model + tiny refiner)."""
    from mmengine.config import Config
    cfg = Config.fromfile(config_path('synthetic/*.py'))
    meta_keys = Config.fromfile(config_path('isbi2015/*cascade_*.py')).meta_keys
    glob_codec = dict(type='CompensatedHeatmap', input_size=cfg.codec['input_size'],
                      heatmap_size=cfg.codec['heatmap_size'], sigma=2.0)
    model = copy.deepcopy(cfg.model.to_dict())
    model['head']['decoder'] = glob_codec
    refiner = {k: copy.deepcopy(model[k]) for k in ('type', 'backbone', 'neck', 'head')}
    # the same fully convolutional network on 64x64 patches: 7.5x cheaper than 160x192
    refiner['head']['decoder'] = dict(type='CompensatedHeatmap', input_size=(64, 64),
                                      heatmap_size=(16, 16), sigma=2.0)
    cfg.model = dict(model, type='LandmarkCascade', refiner=refiner, patch_fraction=0.6,
                     refine_steps=2, test_shifts=[(0, 0), (0.05, -0.05)],
                     refine_only=REFINE_ONLY)   # the runtime must refine the same subset
    pipeline = cfg.test_dataloader.dataset.pipeline
    pipeline.insert(1, dict(type='KeepFullImage'))
    pipeline[-1] = dict(type='PackPoseInputs', meta_keys=meta_keys)
    path = str(tmp / 'cascade.py')
    cfg.dump(path)
    return path


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
    assert len(meta['keypoint_names']) == 19 and len(meta['roi_prior']) == 4
    assert meta['global']['codec']['input_size'] == [160, 192]
    assert meta['normalisation']['bgr_to_rgb'] is True
    assert 'default_pixel_spacing' in meta and meta['source']['checkpoint_sha256']


def test_onnx_landmarks_equal_pytorch_within_tolerance(exported):
    sys.path.insert(0, osp.join(REPO, 'tools', 'deployment'))
    from onnx_parity import compare, summary
    cfg, ckpt, out, images = exported
    s = summary(compare(cfg, ckpt, str(out), images, threads=1))
    print(f'parity on {s["images"]} synthetic test images: max {s["max_px"]:.2e} px, '
          f'mean {s["mean_px"]:.2e} px')
    assert s['images'] >= 4
    assert s['max_px'] <= TOLERANCE_PX, s
    assert s['max_score_diff'] < 1e-3, s


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
    proc = subprocess.run([python, '-I', '-c', f'import sys; sys.path.insert(0, {REPO!r})\n'
                           + script, str(out), images[0]], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, OMP_NUM_THREADS='1'))
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
