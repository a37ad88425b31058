"""Registration: configs' ``custom_imports`` register every mmceph module into MMPose's
registries; ``import mmceph`` and the converters stay light (no torch, no MMPose)."""
import inspect
import os.path as osp
import subprocess
import sys

from mmpose.registry import DATASETS, HOOKS, KEYPOINT_CODECS, METRICS, MODELS, TRANSFORMS

import mmceph.registration  # noqa: F401  (what custom_imports imports)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
EXPECTED = {
    'DATASETS': {'CephalometricDataset', 'ISBI2015Dataset', 'WebCeph2kDataset',
                 'LateralPhotoDataset', 'CLDetection2023Dataset', 'AarizDataset'},
    'METRICS': {'CephalometricMetric'},
    'HOOKS': {'BestCheckpointAliasHook'},
    'TRANSFORMS': {'ApplyRoiPrior', 'KeepFullImage', 'LoadCephalogram', 'SampleRefinerPatches',
                   'PickAnnotator'},
    'MODELS': {'S2DHRNet', 'DepthToSpaceHeatmapHead', 'UNetPlusPlus', 'KeypointL1Loss',
               'PatchVotingHead', 'SemanticFusionNeck', 'TwoStageRegressionHead',
               'LandmarkCascade', 'CephalometricEstimator', 'EfficientNetLite0', 'FinestFPN',
               'EfficientNetLite1', 'EfficientNetLite2'},
    'KEYPOINT_CODECS': {'CompensatedHeatmap', 'PatchVotingLabel'},
}
REGISTRIES = dict(DATASETS=DATASETS, METRICS=METRICS, HOOKS=HOOKS, MODELS=MODELS,
                  TRANSFORMS=TRANSFORMS, KEYPOINT_CODECS=KEYPOINT_CODECS)


def registered_by_mmceph(registry):
    return {name for name, obj in registry.module_dict.items()
            if inspect.getmodule(obj).__name__.startswith('mmceph')}


def python(code):
    """Run ``code`` in a fresh interpreter (nothing imported yet); return its stdout."""
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env={'PYTHONPATH': REPO, 'OMP_NUM_THREADS': '1',
                                                       'PATH': osp.dirname(sys.executable)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_every_mmceph_module_is_registered_where_expected():
    assert mmceph.__version__
    for key, registry in REGISTRIES.items():
        assert registered_by_mmceph(registry) == EXPECTED[key], key


def test_registered_classes_resolve_through_mmpose_scope():
    for key, names in EXPECTED.items():
        for name in names:
            assert REGISTRIES[key].get(name).__module__.startswith('mmceph')


def test_config_custom_imports_register_everything_and_the_allow_list():
    """A fresh interpreter that only reads a config has every mmceph class (what the runner,
    ``init_model`` and ``MMPoseInferencer`` need) and the checkpoint allow-list."""
    out = python(
        'from mmengine.config import Config\n'
        "Config.fromfile('configs/synthetic/td-hm_hrnetv2-w18-small_1xb8-30e_synthetic-192x160.py')\n"
        'import torch.serialization as s, mmpose.registry as r\n'
        f'expected = {EXPECTED!r}\n'
        'missing = [n for k, names in expected.items() for n in names\n'
        '           if getattr(r, k).get(n) is None]\n'
        'from mmengine.fileio.backends import backends\n'
        "print(missing, 'atomic_local' in backends,\n"
        "      any(getattr(g, '__name__', '') == 'HistoryBuffer' for g in s.get_safe_globals()))\n")
    assert out.split() == ['[]', 'True', 'True']


def test_import_mmceph_is_light():
    out = python('import sys, mmceph, mmceph.metainfo.isbi2015, mmceph.clinical\n'
                 "print(sorted(m for m in ('torch', 'mmpose', 'mmengine', 'mmcv', 'cv2')"
                 ' if m in sys.modules))')
    assert out.strip() == '[]'


def test_converters_import_neither_torch_nor_mmpose():
    out = python('import sys\nfrom data_converters.__main__ import build_parser\nbuild_parser()\n'
                 "print(sorted(m for m in ('torch', 'mmpose', 'mmengine', 'mmcv')"
                 ' if m in sys.modules))')
    assert out.strip() == '[]'
