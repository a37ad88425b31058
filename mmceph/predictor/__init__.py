"""What a landmark predictor does around its network, whatever runs it (torch-free): the
steps of one prediction (:class:`~.base.PredictorBase`: read, spacing, ROI crop, quality
gate, the result JSON) and the quality gate itself (:mod:`.quality`). The PyTorch
``mmceph.apis.LandmarkPredictor`` and the ONNX ``mmceph.runtime.OnnxLandmarkPredictor`` are
its two backends: each supplies only ``_landmarks``."""
from .base import PredictorBase

__all__ = ['PredictorBase']
