from .landmark_cascade import LandmarkCascade

__all__ = ['LandmarkCascade']
