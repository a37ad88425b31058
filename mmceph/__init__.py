"""mmceph: cephalometric landmark detection for MMPose 1.x.

``import mmceph`` is light: it imports neither torch nor MMPose, so the converters, the
metainfo and the clinical measurements can be used on their own. Registration into
MMPose's registries happens where MMPose does it, from the config: every mmceph config
inherits ``custom_imports=dict(imports=['mmceph.registration'])`` from
``configs/_base_/default_runtime.py`` (see :mod:`mmceph.registration`).
"""
from .version import __version__

__all__ = ['__version__']
