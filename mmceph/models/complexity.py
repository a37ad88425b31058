"""Compute cost of a model, counted the same way for every recipe: MMEngine's FLOP counter
on the network's tensor forward at its input size, plus, for a ``LandmarkCascade``, its
refiners once per patch it reads."""
import torch
from mmengine.analysis import get_model_complexity_info

from .heatmap_net import HeatmapNet


def gflops(model, input_size) -> float:
    """GFLOPs of ``model``'s network (normalised input -> heatmaps) on one
    ``input_size`` (w, h) image."""
    w, h = input_size
    info = get_model_complexity_info(HeatmapNet(model), inputs=(torch.zeros(1, 3, h, w), ),
                                     show_table=False, show_arch=False)
    return info['flops'] / 1e9


def cascade_patches(model) -> int:
    """Refiner patches a ``LandmarkCascade`` reads per image: refine steps x test views x
    refined landmarks (0 for any other model)."""
    if type(model).__name__ != 'LandmarkCascade':
        return 0
    return model.refine_steps * model.views_per_landmark * model.refined_landmarks


def refiner_gflops(model) -> float:
    """GFLOPs of one patch through every refiner of a ``LandmarkCascade``."""
    return sum(gflops(r, r.head.decoder.input_size) for r in model.refiners)


def model_gflops(model, input_size) -> float:
    """GFLOPs per image: the global network, plus every refiner patch of a cascade."""
    flops = gflops(model, input_size)
    patches = cascade_patches(model)
    return flops + patches * refiner_gflops(model) if patches else flops
