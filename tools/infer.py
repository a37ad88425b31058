"""Predict cephalometric landmarks on an image or a folder of images.

For each input image NAME.EXT it writes, into --out-dir (keeping the sub-folders of the
input folder with --recursive):
  NAME.EXT.landmarks.json  landmarks in pixels and mm with a confidence (0..1) and flags
                           each; the image's quality status; for models with the 19
                           ISBI landmarks by name the 8 clinical measurements (only for
                           images that pass the quality gate); the spacing and where it
                           came from; the coordinate frame (EXIF orientation) and the
                           frame used.
  NAME.EXT.overlay.png     the image under a status banner (red: rejected, no lines),
                           labelled landmarks (orange: flagged), the measurement lines,
                           a scale bar, and a panel with the measurement table and
                           legend (not with --no-overlay)
and for a folder mmceph_landmarks.csv / mmceph_measurements.csv (only images that
passed: status ok or review). The full input name is kept (x.png and x.jpg do not
collide), no input file is ever written to, and files named *.landmarks.json or
*.overlay.png are never taken as inputs, so --out-dir may be the input folder itself.

Quality status per image: "ok"; "review" (some landmarks flagged as low-confidence or
outside the image: the measurements that use them are withheld); "rejected" (blank,
too small, or the model does not recognise a lateral cephalogram it can judge: no
measurement is given). See README "Inference you can trust".

Spacing: --pixel-spacing, else the file's own (DICOM PixelSpacing / ImagerPixelSpacing;
a file whose own spacing is invalid needs --pixel-spacing), else the training set's
single spacing (assumed: the status becomes review and says so), else pixels only. The
JSON's fields: docs/inference_json.md. Inputs: BMP/PNG/JPEG/TIFF (8/16-bit, grey or colour,
EXIF orientation applied) and DICOM; multi-frame files use their first frame (the JSON
says so). A truncated or corrupt file is refused, reported and skipped.

Exit status: 0 every image predicted with status ok; 3 every image predicted, some with
status review or rejected; 1 some images could not be read or their outputs not written
(the others are written); 2 nothing done (bad arguments, config or checkpoint, no
supported image). A run that writes nothing leaves no output folder behind.

Example:
    python tools/infer.py data/synthetic/images/0050.png \\
        configs/synthetic/td-hm_hrnetv2-w18-small_1xb8-30e_synthetic-192x160.py \\
        work_dirs/demo/best_MRE.pth \\
        --out-dir demo_out
"""
import argparse
import sys

from mmceph.apis.batch_inference import infer_images


def parse_args(argv=None):
    from mmceph.imaging.image_io import DEFAULT_MAX_PIXELS
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('input', help='an image file or a folder of images')
    p.add_argument('config', help='model config, or a model folder exported by '
                   'tools/deployment/export_onnx.py (ONNX Runtime, no torch needed)')
    p.add_argument('checkpoint', nargs='?', help='model checkpoint (e.g. best_MRE.pth); '
                   'not with an exported folder')
    p.add_argument('--out-dir', required=True, help='where JSON, PNG and CSV files go '
                   '(created if needed; may be the input folder)')
    p.add_argument('--pixel-spacing', type=float, nargs='+', metavar='MM',
                   help='mm per pixel: one value (square pixels) or two (x y); overrides '
                        'the spacing stored in the file')
    p.add_argument('--recursive', action='store_true', help='also images in sub-folders')
    p.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N (default: %(default)s)')
    p.add_argument('--max-pixels', type=int, default=DEFAULT_MAX_PIXELS, metavar='N',
                   help='refuse images with more pixels than this, checked before decoding '
                        '(decompression bombs; default: %(default)s)')
    p.add_argument('--no-overlay', action='store_true', help='skip the overlay PNGs')
    p.add_argument('--no-orientation-check', action='store_true',
                   help='skip the quality gate\'s check for mirrored or upside-down images '
                        '(it predicts twice more per image; only for images known to be '
                        'the right way round)')
    p.add_argument('--debug', action='store_true', help='show tracebacks of errors')
    args = p.parse_args(argv)
    from mmceph.imaging.image_io import check_spacing
    if args.pixel_spacing:
        try:
            args.pixel_spacing = check_spacing(args.pixel_spacing, '--pixel-spacing')
        except ValueError as err:
            p.error(str(err))
    if args.max_pixels < 1:
        p.error('--max-pixels must be a positive number of pixels')
    return args


def main(argv=None):
    return infer_images(parse_args(argv))


if __name__ == '__main__':
    from mmceph.utils.cli import guarded_main
    sys.exit(guarded_main(main))
