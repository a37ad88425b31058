"""Landmark names and skeletons, read from mmceph/metainfo without importing mmceph
(whose import registers into MMPose and is slow): the metainfo files are the one source
of truth for both the converters and the datasets."""
import importlib.util
import os.path as osp
import runpy


def _metainfo_dir():
    spec = importlib.util.find_spec('mmceph')
    return osp.join(list(spec.submodule_search_locations)[0], 'metainfo')


def load(dataset):
    """Return the metainfo module's globals (KEYPOINTS, SKELETON, dataset_info, ...)."""
    return runpy.run_path(osp.join(_metainfo_dir(), f'{dataset}.py'))


def names_and_skeleton(dataset):
    """Keypoint names and the skeleton as 1-based index pairs (COCO convention)."""
    meta = load(dataset)
    names = meta['KEYPOINTS']
    index = {n: i + 1 for i, n in enumerate(names)}
    return names, [(index[a], index[b]) for a, b in meta['SKELETON']]
