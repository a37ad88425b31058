from .cephalometric_metric import CephalometricMetric

__all__ = ['CephalometricMetric']
