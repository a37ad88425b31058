"""Torch-free landmark prediction with ONNX Runtime, for clinics.

Imports only onnxruntime, numpy, OpenCV (and PIL/pydicom through the image reader):
no torch, mmcv, mmengine or mmpose. A model folder comes from
``tools/deployment/export_onnx.py CONFIG CHECKPOINT OUT_DIR``::

    from mmceph.runtime import OnnxLandmarkPredictor
    predictor = OnnxLandmarkPredictor('exported/isbi_cascade', threads=2)
    result, image, kpts = predictor.predict('ceph.bmp')   # as LandmarkPredictor.predict

Every numerical step is the PyTorch pipeline's own code (:mod:`mmceph.core`: crop,
decode, refiner patches, cascade rounds; :mod:`mmceph.imaging.image_io`: reading and the
intensity mapping; :mod:`mmceph.predictor.quality`: the gate); only the networks run in ONNX
Runtime. ``tests/test_runtime`` checks that the landmarks equal PyTorch's within 0.05 px.
"""
from .export_format import EXPORT_META, load_export_meta
from .onnx_predictor import OnnxLandmarkPredictor

__all__ = ['OnnxLandmarkPredictor', 'EXPORT_META', 'load_export_meta']
