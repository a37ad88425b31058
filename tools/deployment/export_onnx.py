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
import sys

from mmceph.apis.onnx_export import OPSET, export_onnx


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


def main(argv=None):
    args = parse_args(argv)
    export_onnx(args.config, args.checkpoint, args.out_dir, args.opset,
                check=not args.no_verify)
    return 0


if __name__ == '__main__':
    from mmceph.utils.cli import guarded_main
    sys.exit(guarded_main(main))
