"""Importing mmceph registers every module it defines into MMPose's registries."""
import inspect

import mmceph
from mmpose.registry import DATASETS, HOOKS, KEYPOINT_CODECS, METRICS, MODELS, TRANSFORMS

EXPECTED = {
    'DATASETS': {'CephalometricDataset', 'ISBI2015Dataset', 'WebCeph2kDataset',
                 'LateralPhotoDataset'},
    'METRICS': {'CephalometricMetric'},
    'HOOKS': {'BestCheckpointAliasHook'},
    'TRANSFORMS': {'ApplyRoiPrior', 'KeepFullImage'},
    'MODELS': {'S2DHRNet', 'DepthToSpaceHeatmapHead', 'UNetPlusPlus', 'KeypointL1Loss',
               'PatchVotingHead', 'SemanticFusionNeck', 'TwoStageRegressionHead',
               'LandmarkCascade'},
    'KEYPOINT_CODECS': {'CompensatedHeatmap', 'PatchVotingLabel'},
}
REGISTRIES = dict(DATASETS=DATASETS, METRICS=METRICS, HOOKS=HOOKS, MODELS=MODELS, TRANSFORMS=TRANSFORMS,
                  KEYPOINT_CODECS=KEYPOINT_CODECS)


def registered_by_mmceph(registry):
    return {name for name, obj in registry.module_dict.items()
            if inspect.getmodule(obj).__name__.startswith('mmceph')}


def test_every_mmceph_module_is_registered_where_expected():
    assert mmceph.__version__
    for key, registry in REGISTRIES.items():
        assert registered_by_mmceph(registry) == EXPECTED[key], key


def test_registered_classes_resolve_through_mmpose_scope():
    for key, names in EXPECTED.items():
        for name in names:
            assert REGISTRIES[key].get(name).__module__.startswith('mmceph')
