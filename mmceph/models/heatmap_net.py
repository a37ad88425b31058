"""A top-down model's tensor path alone: normalised images in, heatmaps out.

``extract_feat`` then ``head.forward``, without MMPose's data samples, codec decoding or
test-time augmentation: the part of the model that runs as a network. ONNX export
(tools/deployment/export_onnx.py) traces it and the GFLOPs count
(tools/analysis_tools/compare_methods.py) measures it, so both see the same graph.
"""
import torch
from torch import nn


class HeatmapNet(nn.Module):
    """Wrap a top-down pose estimator (or a ``LandmarkCascade`` refiner).

    Args:
        model (nn.Module): a model with ``extract_feat`` and ``head.forward``.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.model.head.forward(self.model.extract_feat(inputs))
