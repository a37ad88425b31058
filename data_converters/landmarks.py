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


def refuse_shortfall(short, count, dataset):
    """Refuse images that lack landmarks of a release that labels every point.

    ``short``: ``[(origin file, image label, [missing landmark labels])]`` in image order.
    The error names the first image and ALL its missing landmarks in one line (and how
    many more images fall short); ``--allow-missing`` is the way to convert them anyway.
    """
    from .errors import ConversionError
    if not short:
        return
    origin, image, missing = short[0]
    more = f'; {len(short) - 1} more image(s) lack points too' if len(short) > 1 else ''
    raise ConversionError(origin, f'{image} lacks {len(missing)} of its {count} landmarks: '
                          + ', '.join(missing) + f'{more}. Every {dataset} image is released '
                          f'with all {count}, so this file is damaged or edited; '
                          '--allow-missing converts it with those points missing (v=0)')
