"""mmceph: cephalometric landmark detection for MMPose 1.x.

Importing this package registers its datasets, metrics, hooks, codecs and models into
MMPose's registries (configs use ``default_scope='mmpose'`` and
``custom_imports=dict(imports=['mmceph'])``), and allow-lists the few safe globals that
MMEngine checkpoints need under torch's ``weights_only`` loading.
"""
from .version import __version__
from .engine import safe_checkpoint  # noqa: F401  (allow-list before any checkpoint loads)
from . import codecs, datasets, engine, evaluation, models  # noqa: F401,E402  (registration)

__all__ = ['__version__']
