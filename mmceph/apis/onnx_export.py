"""Exporting a trained model to ONNX for the torch-free runtime (:mod:`mmceph.runtime`):
the networks as graphs, everything around them as :mod:`mmceph.runtime.export_format`.

Pre-processing, decoding and the cascade's patch logic are not in the graphs: the runtime
runs the PyTorch pipeline's own numpy code for them (:mod:`mmceph.core`). Supported:
top-down heatmap models whose decoder is CompensatedHeatmap (the S2D models and their
cascades) with flip test off and the standard test pipeline (LoadCephalogram,
[KeepFullImage,] ApplyRoiPrior, GetBBoxCenterScale, TopdownAffine, PackPoseInputs);
anything else is refused with the reason (:class:`~mmceph.utils.cli.UsageError`).
"""
import os
import os.path as osp
import shutil
import tempfile

import numpy as np

from ..runtime.export_format import EXPORT_META, export_meta, write_export_meta
from ..utils.cli import UsageError
from ..utils.digest import file_sha256

OPSET = 17
PIPELINE_STEPS = ('LoadCephalogram', 'LoadImage', 'KeepFullImage', 'ApplyRoiPrior',
                  'GetBBoxCenterScale', 'TopdownAffine', 'PackPoseInputs')


def pipeline_settings(cfg):
    """Box padding and input size of the test pipeline, refusing steps the runtime lacks."""
    padding, size = None, None
    for step in cfg.test_dataloader.dataset.pipeline:
        kind = step['type'].split('.')[-1]
        if kind not in PIPELINE_STEPS:
            raise UsageError(f'test pipeline step {kind}: the ONNX runtime reproduces only '
                             f'{", ".join(PIPELINE_STEPS)}')
        if kind == 'GetBBoxCenterScale':
            padding = float(step.get('padding', 1.25))
        if kind == 'TopdownAffine':
            if step.get('use_udp'):
                raise UsageError('TopdownAffine(use_udp=True) is not reproduced by the runtime')
            size = tuple(int(v) for v in step['input_size'])
    if padding is None or size is None:
        raise UsageError('the test pipeline has no GetBBoxCenterScale/TopdownAffine')
    return padding, size


def heatmap_net(model):
    """The network part of ``model`` (normalised input -> heatmaps), in eval mode."""
    from ..models.heatmap_net import HeatmapNet
    return HeatmapNet(model).eval()


def codec_settings(model, what):
    from ..core.heatmap_decode import CompensatedHeatmapDecoder
    decoder = getattr(model.head, 'decoder', None)
    if not isinstance(decoder, CompensatedHeatmapDecoder):
        raise UsageError(f'{what}: decoder {type(decoder).__name__}; the ONNX runtime decodes '
                         'CompensatedHeatmap only')
    if model.test_cfg.get('flip_test'):
        raise UsageError(f'{what}: flip_test is on; the ONNX runtime does not flip')
    return decoder.settings()


def export_net(net, shape, path, opset):
    import torch
    dummy = torch.zeros(shape)
    torch.onnx.export(net, (dummy, ), path, opset_version=opset, dynamo=False,
                      input_names=['input'], output_names=['heatmaps'],
                      dynamic_axes={'input': {0: 'batch'}, 'heatmaps': {0: 'batch'}})


def verify(net, path, shape, seed=0):
    """Largest |heatmap| difference between PyTorch and ONNX Runtime on a random input."""
    import numpy as np
    import onnxruntime as ort
    import torch
    x = np.random.default_rng(seed).standard_normal((2, *shape[1:])).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    out = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    return float(np.abs(out - ref).max()), float(np.abs(ref).max())


def export_onnx(config: str, checkpoint: str, out_dir: str, opset: int = OPSET,
                check: bool = True) -> int:
    """Export ``checkpoint`` of ``config`` into ``out_dir``; the number of refiners.

    The folder is assembled next to ``out_dir`` and moved into place when complete: a
    failed export leaves no folder and no partial file behind. With ``check``, each
    network is run once in ONNX Runtime and in PyTorch on the same input and the largest
    heatmap difference is printed.
    """
    from mmengine.config import Config

    from .checkpoint import check_checkpoint_file
    from .inference import LandmarkPredictor
    if not osp.isfile(config):
        raise UsageError(f'{config}: config not found')
    check_checkpoint_file(checkpoint)
    cfg = Config.fromfile(config)
    padding, input_size = pipeline_settings(cfg)
    predictor = LandmarkPredictor(cfg, checkpoint)   # strict checkpoint fit, meta
    model = predictor.model
    pre = model.data_preprocessor
    channels = int(pre.mean.numel()) if getattr(pre, 'mean', None) is not None else 3
    normalisation = dict(mean=pre.mean.flatten().tolist(), std=pre.std.flatten().tolist(),
                         bgr_to_rgb=bool(getattr(pre, '_channel_conversion', False)))
    nets = [('global.onnx', heatmap_net(model), (1, channels, input_size[1], input_size[0]))]
    offsets = getattr(model, 'site_offsets', None)      # CephalometricEstimator's buffer
    global_model = dict(file='global.onnx', input_size=list(input_size), bbox_padding=padding,
                        codec=codec_settings(model, 'global model'),
                        site_offsets=[] if offsets is None else offsets.tolist())
    cascade = None
    if type(model).__name__ == 'LandmarkCascade':
        refiners = []
        for i, r in enumerate(model.refiners):
            w, h = model._patch_size(r)
            name = f'refiner{i}.onnx'
            nets.append((name, heatmap_net(r), (1, channels, h, w)))
            refiners.append(dict(file=name, patch_fraction=model.patch_fraction[i],
                                 patch_size=[w, h], codec=codec_settings(r, f'refiner {i}')))
        cascade = dict(refiners=refiners, refine_steps=model.refine_steps,
                       test_shifts=model.test_shifts.tolist(),
                       test_scales=model.test_scales.tolist(),
                       test_reduce=model.test_reduce, max_shift=model.max_shift,
                       refine_only=model.refine_only)
        if model.landmark_patch_scales is not None:   # format 2: older runtimes must refuse
            cascade['landmark_patch_scales'] = [   # float32's shortest decimal: 1.3, not 1.29999995
                float(np.format_float_positional(v)) for v in model.landmark_patch_scales]
    if osp.exists(out_dir) and not osp.isdir(out_dir):
        raise UsageError(f'{out_dir}: exists and is not a folder')
    parent = osp.dirname(osp.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f'.{osp.basename(osp.abspath(out_dir))}.',
                               suffix='.part', dir=parent)
    try:
        files = {}
        for name, net, shape in nets:
            path = osp.join(staging, name)
            export_net(net, shape, path, opset)
            files[name] = file_sha256(path)
            line = f'{osp.join(out_dir, name)}: opset {opset}, input {shape[1:]}'
            if check:
                diff, scale = verify(net, path, shape)
                line += (f', max |heatmap difference| vs PyTorch {diff:.2e} '
                         f'(heatmap max {scale:.2f})')
            print(line)
        meta = export_meta(
            opset=opset,
            source=dict(config=osp.basename(config), checkpoint=osp.basename(checkpoint),
                        checkpoint_sha256=predictor.provenance['checkpoint']['sha256']),
            keypoint_names=predictor.names, roi_prior=predictor.roi_prior,
            default_pixel_spacing=predictor.default_spacing,
            site_adaptation=getattr(predictor, 'site_adaptation', None),
            normalisation=normalisation, global_model=global_model, cascade=cascade,
            files_sha256=files)
        write_export_meta(staging, meta)
        publish(staging, out_dir, [name for name, _, _ in nets] + [EXPORT_META])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f'{osp.join(out_dir, EXPORT_META)}: {len(predictor.names)} landmarks, '
          f'{len(nets) - 1} refiner(s)')
    return len(nets) - 1


def publish(staging, out_dir, names):
    """Move the complete export into ``out_dir``: the whole folder when it is new, else
    file by file with the JSON (which names the files and their hashes) last."""
    if not osp.exists(out_dir):
        os.replace(staging, out_dir)
        return
    for name in names:
        try:
            os.replace(osp.join(staging, name), osp.join(out_dir, name))
        except OSError as err:              # name the path in the way, not the staging file
            raise type(err)(err.errno, err.strerror, osp.join(out_dir, name)) from None
