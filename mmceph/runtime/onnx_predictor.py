"""``OnnxLandmarkPredictor``: an exported model folder, predicted with ONNX Runtime.

The folder (written by ``tools/deployment/export_onnx.py``) is described in
:mod:`mmceph.runtime.export_format`.
"""
import os.path as osp
from typing import Optional

import numpy as np

from ..core.cascade import Refiner, landmark_scales, refine_landmarks
from ..core.heatmap_decode import CompensatedHeatmapDecoder
from ..core.site_offsets import add_site_offsets
from ..core.warp import crop, crop_to_image, topdown_box
from ..predictor.base import PredictorBase, base_provenance
from ..utils.digest import file_sha256
from .export_format import EXPORT_META, ExportIntegrityError, checked_model_file, load_export_meta


class Normaliser:
    """BGR 0-255 (N, C, h, w) (uint8 crops, float32 patches) -> float32 network input:
    the data preprocessor's mapping (channel order, then (x - mean) / std), with the
    exported mean/std."""

    def __init__(self, mean, std, bgr_to_rgb: bool):
        self.mean = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
        self.std = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
        self.bgr_to_rgb = bool(bgr_to_rgb)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        x = np.asarray(batch, np.float32)
        if self.bgr_to_rgb and x.shape[1] == 3:
            x = x[:, ::-1]
        return np.ascontiguousarray((x - self.mean) / self.std, np.float32)


class OnnxNetwork:
    """One exported network: normalised input (N, C, h, w) -> heatmaps (N, K, H, W)."""

    def __init__(self, path: str, normalise: Normaliser, threads: Optional[int] = None):
        import onnxruntime as ort
        from onnxruntime.capi.onnxruntime_pybind11_state import (
            Fail,
            InvalidGraph,
            InvalidProtobuf,
            NoSuchFile,
        )
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(path, options,
                                                providers=['CPUExecutionProvider'])
        except (Fail, InvalidGraph, InvalidProtobuf, NoSuchFile) as err:  # unhashed exports
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise ExportIntegrityError(f'{path}: ONNX Runtime cannot load it ({first[:200]})'
                                       ) from None
        self.input = self.session.get_inputs()[0].name
        self.normalise = normalise

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        if not len(batch):
            return np.zeros((0, 0, 0, 0), np.float32)
        return self.session.run(None, {self.input: self.normalise(batch)})[0]


def _provenance(folder: str, meta: dict, network_digests: dict) -> dict:
    """The export folder's files by digest (the networks' as ``checked_model_file`` read
    them), and what it was exported from as its metadata records it."""
    import onnxruntime as ort
    source = meta.get('source') or {}
    return base_provenance(
        dict(name='onnxruntime', onnxruntime=ort.__version__, device='cpu'),
        config=source.get('config'),
        checkpoint=dict(path=source.get('checkpoint'), sha256=source.get('checkpoint_sha256')),
        export=dict(path=osp.abspath(folder),
                    sha256={EXPORT_META: file_sha256(osp.join(folder, EXPORT_META)),
                            **network_digests}))


class OnnxLandmarkPredictor(PredictorBase):
    """Load an exported model folder once, then predict like ``LandmarkPredictor``
    (same result dicts, same quality gate). ``threads``: ONNX Runtime intra-op threads
    (default: its own choice)."""

    def __init__(self, folder: str, threads: Optional[int] = None,
                 check_orientation: bool = True):
        meta = self.meta = load_export_meta(folder)
        self.check_orientation = check_orientation
        self.names = list(meta['keypoint_names'])
        self.roi_prior = meta.get('roi_prior')
        self.default_spacing = meta.get('default_pixel_spacing')
        self.site_adaptation = meta.get('site_adaptation')
        g = meta['global']
        self.input_size = tuple(g['input_size'])
        self.padding = float(g['bbox_padding'])
        norm = Normaliser(**meta['normalisation'])
        digests = {}    # each network file read once: checked, then recorded in provenance

        def network(name: str) -> OnnxNetwork:
            path, digests[name] = checked_model_file(folder, meta, name)
            return OnnxNetwork(path, norm, threads)

        self.network = network(g['file'])
        self.decoder = CompensatedHeatmapDecoder(**g['codec'])
        self.site_offsets = np.asarray(g.get('site_offsets') or [], np.float32).reshape(-1, 2)
        cascade = meta.get('cascade')
        self.cascade = cascade
        factors = landmark_scales((cascade or {}).get('landmark_patch_scales'), len(self.names))
        self.refiners = [
            Refiner(float(r['patch_fraction']), tuple(r['patch_size']),
                    network(r['file']),
                    CompensatedHeatmapDecoder(**r['codec']), factors)
            for r in (cascade or {}).get('refiners', [])]
        self.provenance = _provenance(folder, meta, digests)

    def predict_image(self, image: np.ndarray, bbox_xyxy):
        """(K, 2) keypoints (image pixels) and (K, ) raw scores of a uint8 BGR image (the
        output of ``to_uint8_bgr``) cropped to ``bbox_xyxy``: crop, global network,
        decode, back to the image, the cascade's refinement rounds, the site offsets
        (fractions of the crop size, added once at the end)."""
        center, scale = topdown_box(bbox_xyxy, self.input_size, self.padding)
        patch = crop(image, center, scale, self.input_size)
        patch = patch.reshape(patch.shape[0], patch.shape[1], -1).transpose(2, 0, 1)[None]
        heatmaps = self.network(patch)[0]
        kpts, scores = self.decoder.decode(heatmaps)
        kpts = crop_to_image(kpts[0], center, scale, self.input_size)
        scores = scores[0]
        if self.refiners:
            c = self.cascade
            kpts, scores = refine_landmarks(self.refiners, image, kpts, scores, float(scale[0]),
                                            c['refine_steps'], c['test_shifts'],
                                            c['test_scales'], c['test_reduce'], c['max_shift'],
                                            c.get('refine_only'))
        kpts = np.asarray(kpts, np.float32)
        if len(self.site_offsets):     # as CephalometricEstimator.predict: once, last
            kpts = add_site_offsets(kpts, self.site_offsets, scale)
        return kpts, np.asarray(scores, np.float32)

    def _landmarks(self, pixels, bbox):
        from ..imaging.image_io import to_uint8_bgr  # LoadCephalogram's mapping
        kpts, scores = self.predict_image(to_uint8_bgr(pixels), np.asarray(bbox).reshape(-1))
        return kpts.astype(float), np.clip(np.nan_to_num(scores.astype(float)), 0.0, 1.0)
