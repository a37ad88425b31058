from .cephalometric_estimator import CephalometricEstimator
from .landmark_cascade import LandmarkCascade

__all__ = ['CephalometricEstimator', 'LandmarkCascade']
