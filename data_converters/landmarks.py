"""Landmark names and skeletons for the converters, from ``mmceph.metainfo``: the one
source of truth for both the converters and the datasets (a plain data package, so
importing it pulls in neither MMPose nor torch)."""
import importlib
from types import ModuleType
from typing import List, Tuple


def load(dataset: str) -> ModuleType:
    """The metainfo module of ``dataset`` (KEYPOINTS, SKELETON, dataset_info, ...)."""
    return importlib.import_module(f'mmceph.metainfo.{dataset}')


def names_and_skeleton(dataset: str) -> Tuple[List[str], List[Tuple[int, int]]]:
    """Keypoint names and the skeleton as 1-based index pairs (COCO convention)."""
    meta = load(dataset)
    index = {n: i + 1 for i, n in enumerate(meta.KEYPOINTS)}
    return list(meta.KEYPOINTS), [(index[a], index[b]) for a, b in meta.SKELETON]
