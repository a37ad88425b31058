"""Export a trained mmceph model to ONNX, for the torch-free runtime (mmceph.runtime).

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT OUT_DIR [--opset 17]

Writes into OUT_DIR:
  global.onnx          the global model: normalised crop (N, 3, h, w) -> heatmaps (N, K, H, W)
  refiner0.onnx ...    one per LandmarkCascade refiner: normalised patches -> heatmaps
  mmceph_export.json   what the runtime needs around them: opset, input/patch sizes, the
                       normalisation (mean, std, channel order), the box padding, the codec
                       settings (CompensatedHeatmap), the cascade's prediction settings,
                       the site offsets (tools/adapt.py), the ROI prior, the landmark
                       names and the default pixel spacing, and each .onnx file's SHA-256
                       (the runtime refuses a truncated, altered or missing file).
The folder is assembled next to OUT_DIR and moved into place when complete: a failed
export leaves no folder and no partial file behind.
Pre-processing, decoding and the cascade's patch logic are not in the graphs: the runtime
runs the PyTorch pipeline's own numpy code for them (mmceph.core). After writing, each
network is run once in ONNX Runtime and in PyTorch on the same input and the largest
heatmap difference is printed (--no-verify skips it).

Supported: top-down heatmap models whose decoder is CompensatedHeatmap (the S2D models
and their cascades) with flip test off and the standard test pipeline (LoadCephalogram,
[KeepFullImage,] ApplyRoiPrior, GetBBoxCenterScale, TopdownAffine, PackPoseInputs);
anything else is refused with the reason.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys
import tempfile

OPSET = 17
PIPELINE_STEPS = ('LoadCephalogram', 'LoadImage', 'KeepFullImage', 'ApplyRoiPrior',
                  'GetBBoxCenterScale', 'TopdownAffine', 'PackPoseInputs')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('out_dir')
    p.add_argument('--opset', type=int, default=OPSET, help='ONNX opset (default: %(default)s)')
    p.add_argument('--no-verify', action='store_true', help='skip the ONNX Runtime check')
    p.add_argument('--debug', action='store_true', help='show tracebacks of errors')
    return p.parse_args(argv)


def pipeline_settings(cfg):
    """Box padding and input size of the test pipeline, refusing steps the runtime lacks."""
    from mmceph.utils.cli import UsageError
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
    from mmceph.models.heatmap_net import HeatmapNet
    return HeatmapNet(model).eval()


def codec_settings(model, what):
    from mmceph.core.heatmap_decode import CompensatedHeatmapDecoder
    from mmceph.utils.cli import UsageError
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


def main(argv=None):
    args = parse_args(argv)
    from mmengine.config import Config

    from mmceph.apis.checkpoint import check_checkpoint_file
    from mmceph.apis.inference import LandmarkPredictor
    from mmceph.runtime.onnx_predictor import EXPORT_META, FORMAT_VERSION
    from mmceph.utils.atomic import write_atomic
    from mmceph.utils.cli import UsageError
    from mmceph.utils.digest import file_sha256
    if not osp.isfile(args.config):
        raise UsageError(f'{args.config}: config not found')
    check_checkpoint_file(args.checkpoint)
    cfg = Config.fromfile(args.config)
    padding, input_size = pipeline_settings(cfg)
    predictor = LandmarkPredictor(cfg, args.checkpoint)   # strict checkpoint fit, meta
    model = predictor.model
    pre = model.data_preprocessor
    channels = int(pre.mean.numel()) if getattr(pre, 'mean', None) is not None else 3
    normalisation = dict(mean=pre.mean.flatten().tolist(), std=pre.std.flatten().tolist(),
                         bgr_to_rgb=bool(getattr(pre, '_channel_conversion', False)))
    meta = dict(format_version=FORMAT_VERSION, opset=args.opset,
                source=dict(config=osp.basename(args.config),
                            checkpoint=osp.basename(args.checkpoint),
                            checkpoint_sha256=predictor.provenance['checkpoint']['sha256']),
                keypoint_names=predictor.names, roi_prior=predictor.roi_prior,
                default_pixel_spacing=predictor.default_spacing,
                site_adaptation=getattr(predictor, 'site_adaptation', None),
                normalisation=normalisation, cascade=None)
    nets = [('global.onnx', heatmap_net(model), (1, channels, input_size[1], input_size[0]))]
    offsets = getattr(model, 'site_offsets', None)      # CephalometricEstimator's buffer
    meta['global'] = dict(file='global.onnx', input_size=list(input_size), bbox_padding=padding,
                          codec=codec_settings(model, 'global model'),
                          site_offsets=[] if offsets is None else offsets.tolist())
    if type(model).__name__ == 'LandmarkCascade':
        refiners = []
        for i, r in enumerate(model.refiners):
            w, h = model._patch_size(r)
            name = f'refiner{i}.onnx'
            nets.append((name, heatmap_net(r), (1, channels, h, w)))
            refiners.append(dict(file=name, patch_fraction=model.patch_fraction[i],
                                 patch_size=[w, h], codec=codec_settings(r, f'refiner {i}')))
        meta['cascade'] = dict(refiners=refiners, refine_steps=model.refine_steps,
                               test_shifts=model.test_shifts.tolist(),
                               test_scales=model.test_scales.tolist(),
                               test_reduce=model.test_reduce, max_shift=model.max_shift,
                               refine_only=model.refine_only)
    if osp.exists(args.out_dir) and not osp.isdir(args.out_dir):
        raise UsageError(f'{args.out_dir}: exists and is not a folder')
    parent = osp.dirname(osp.abspath(args.out_dir))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f'.{osp.basename(osp.abspath(args.out_dir))}.',
                               suffix='.part', dir=parent)
    try:
        files = {}
        for name, net, shape in nets:
            path = osp.join(staging, name)
            export_net(net, shape, path, args.opset)
            files[name] = file_sha256(path)
            line = f'{osp.join(args.out_dir, name)}: opset {args.opset}, input {shape[1:]}'
            if not args.no_verify:
                diff, scale = verify(net, path, shape)
                line += (f', max |heatmap difference| vs PyTorch {diff:.2e} '
                         f'(heatmap max {scale:.2f})')
            print(line)
        meta['files_sha256'] = files
        write_atomic(osp.join(staging, EXPORT_META), json.dumps(meta, indent=1))
        publish(staging, args.out_dir, [name for name, _, _ in nets] + [EXPORT_META])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f'{osp.join(args.out_dir, EXPORT_META)}: {len(predictor.names)} landmarks, '
          f'{len(nets) - 1} refiner(s)')
    return 0


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


if __name__ == '__main__':
    from mmceph.utils.cli import guarded_main
    sys.exit(guarded_main(main))
