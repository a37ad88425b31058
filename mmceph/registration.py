"""Importing this module registers every mmceph class into MMPose's registries.

Configs import it through ``custom_imports`` (``configs/_base_/default_runtime.py``), so
MMEngine's runner, MMPose's ``init_model`` and ``MMPoseInferencer`` -- which all build
from a config -- find mmceph's datasets, transforms (``LoadCephalogram``,
``ApplyRoiPrior``, ``KeepFullImage``), codecs, models, metric, hooks and the
``atomic_local`` file backend. Code that builds modules without a config (tests, small
scripts) imports it directly: ``import mmceph.registration``.

The checkpoint allow-list (:mod:`mmceph.engine.safe_checkpoint`) is installed first, so
it is in place before MMEngine loads any checkpoint.
"""
from .engine import safe_checkpoint  # noqa: F401  (allow-list before any checkpoint loads)
from . import codecs, datasets, engine, evaluation, models  # noqa: F401,E402  (registration)
