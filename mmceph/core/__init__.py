"""Torch-free numerical cores, one owner each, shared by the PyTorch models (MMPose path)
and the ONNX runtime (:mod:`mmceph.runtime`):

- :mod:`.heatmap_decode`: the CompensatedHeatmap grid convention and decoder;
- :mod:`.warp`: MMPose's top-down crop (bbox -> centre/scale -> affine) and the refiner
  patches (cut, map back);
- :mod:`.cascade`: the refinement rounds of ``LandmarkCascade`` (patch views, decode,
  combination, trust region), given a function that turns uint8 patches into heatmaps;
- :mod:`.site_offsets`: a site's per-landmark offsets added to a prediction.

Only numpy and OpenCV are imported here (never torch, mmcv, mmengine or mmpose).
"""
