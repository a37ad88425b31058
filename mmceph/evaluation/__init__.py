"""Evaluation: ``CephalometricMetric`` (MRE, SDR, and the clinical measurements of
:mod:`mmceph.clinical` against the ground truth)."""
from .metrics import CephalometricMetric

__all__ = ['CephalometricMetric']
