"""Predict cephalometric landmarks on an image or a folder of images.

Writes, per image, DIR/<name>.json (landmarks in pixels and millimetres with a
confidence each, the spacing used and where it came from; for 19-landmark ISBI models the
8 clinical measurements with their class and its meaning) and DIR/<name>.png (overlay:
landmarks, names, the lines behind the measurements; orange = confidence < 0.3); for a
folder, also DIR/landmarks.csv and DIR/measurements.csv. Inputs: BMP/PNG/JPEG/TIFF, 8 or
16 bit, grey or colour, and DICOM. Spacing: --pixel-spacing, else the file's own
(DICOM PixelSpacing / ImagerPixelSpacing), else the training set's single spacing, else
pixels only. A file that cannot be read is reported and skipped; the rest goes on.

Example:
    python tools/infer.py data/synthetic/images/0050.png CONFIG work_dirs/demo/best_MRE.pth --out-dir demo_out
"""
import argparse
import csv
import io
import json
import os
import os.path as osp
import sys

import cv2
from tqdm import tqdm

IMAGE_EXTS = ('.bmp', '.png', '.jpg', '.jpeg', '.tif', '.tiff', '.dcm', '.dicom')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('input', help='an image file or a folder of images')
    p.add_argument('config', help='model config')
    p.add_argument('checkpoint', help='model checkpoint (e.g. best_MRE.pth)')
    p.add_argument('--out-dir', required=True, help='where JSON, PNG and CSV files go')
    p.add_argument('--pixel-spacing', type=float, nargs='+', metavar='MM',
                   help='mm per pixel: one value (square pixels) or two (x y); '
                        'overrides the spacing stored in the file')
    p.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0 (default: %(default)s)')
    p.add_argument('--no-overlay', action='store_true', help='skip the overlay PNGs')
    args = p.parse_args(argv)
    if args.pixel_spacing and len(args.pixel_spacing) not in (1, 2):
        p.error('--pixel-spacing takes one or two values')
    if args.pixel_spacing and not all(0 < v < 100 for v in args.pixel_spacing):
        p.error('--pixel-spacing must be positive finite millimetres per pixel (below 100)')
    if args.pixel_spacing and len(args.pixel_spacing) == 1:
        args.pixel_spacing *= 2
    return args


def list_inputs(path):
    if osp.isdir(path):
        return sorted(osp.join(path, f) for f in os.listdir(path)
                      if f.lower().endswith(IMAGE_EXTS))
    if osp.isfile(path):
        return [path]
    raise SystemExit(f'error: input not found: {path}')


def write_atomic(path, data):
    """Write bytes or text to a temporary name, then rename: no half-written files."""
    tmp = path + '.tmp'
    binary = isinstance(data, bytes)
    with open(tmp, 'wb' if binary else 'w', newline=None if binary else '') as f:
        f.write(data)
    os.replace(tmp, path)


def main(argv=None):
    args = parse_args(argv)
    files = list_inputs(args.input)
    from mmceph.apis import ImageReadError, LandmarkPredictor
    from mmceph.apis.overlay import draw_overlay
    predictor = LandmarkPredictor(args.config, args.checkpoint, args.device)
    os.makedirs(args.out_dir, exist_ok=True)
    rows, failures = [], []
    for path in tqdm(files, desc='images', unit='img', disable=len(files) < 2):
        try:
            result, image, kpts = predictor.predict(path, args.pixel_spacing)
        except ImageReadError as err:
            failures.append(str(err))
            print(f'skipped: {err}', file=sys.stderr)
            continue
        stem = osp.join(args.out_dir, osp.splitext(osp.basename(path))[0])
        write_atomic(stem + '.json', json.dumps(result, indent=1))
        if not args.no_overlay:
            scores = [lm['confidence'] for lm in result['landmarks']]
            overlay = draw_overlay(image, kpts, predictor.names, predictor.measurement_lines, scores)
            write_atomic(stem + '.png', cv2.imencode('.png', overlay)[1].tobytes())
        rows.append(result)
    if osp.isdir(args.input) and rows:
        write_atomic(osp.join(args.out_dir, 'landmarks.csv'), _csv_text(rows))
        if any('measurements' in r for r in rows):
            write_atomic(osp.join(args.out_dir, 'measurements.csv'), _measurements_csv(rows))
    print(f'{len(rows)} image(s) written to {args.out_dir}'
          + (f'; {len(failures)} skipped' if failures else ''))
    return 1 if failures and not rows else 0


def _csv_text(rows):
    f = io.StringIO()
    w = csv.writer(f)
    w.writerow(['image', 'landmark', 'x_px', 'y_px', 'x_mm', 'y_mm', 'confidence'])
    for r in rows:
        for lm in r['landmarks']:
            w.writerow([r['image'], lm['name'], lm['x_px'], lm['y_px'], lm.get('x_mm', ''),
                        lm.get('y_mm', ''), lm['confidence']])
    return f.getvalue()


def _measurements_csv(rows):
    f = io.StringIO()
    w = csv.writer(f)
    w.writerow(['image', 'measurement', 'value', 'unit', 'class', 'meaning'])
    for r in rows:
        for name, m in r.get('measurements', {}).items():
            w.writerow([r['image'], name, m['value'], r['measurement_units'][name], m['class'],
                        m['meaning']])
    return f.getvalue()


if __name__ == '__main__':
    sys.exit(main())
