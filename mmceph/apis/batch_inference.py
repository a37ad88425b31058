"""Landmarks for an image or a folder of images, written as files (what ``tools/infer.py``
runs): per image ``NAME.EXT.landmarks.json`` (+ ``NAME.EXT.overlay.png``), for a folder
the landmark and measurement CSVs, each image's files all or nothing, no input ever
written to; exit status 0 (all ok), 3 (some review/rejected), 1 (some skipped), 2 (nothing
done). The tool's docstring is the user's description."""
import csv
import io
import json
import os
import os.path as osp
import shutil
import sys
import tempfile

from ..imaging.image_io import READABLE_EXTENSIONS
from ..utils.atomic import write_atomic
from ..utils.cli import UsageError

OUTPUT_SUFFIXES = ('.landmarks.json', '.overlay.png')
CSV_NAMES = ('mmceph_landmarks.csv', 'mmceph_measurements.csv')
EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, EXIT_GATED = 0, 1, 2, 3


def check_device(device):
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise UsageError(f'--device {device!r}: not a device (use cpu, cuda or cuda:N)') from None
    if dev.type == 'cuda':
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (dev.index or 0) >= count:
            raise UsageError(f'--device {device!r}: this machine has {count} usable CUDA '
                             'device(s)')
    elif dev.type != 'cpu':
        raise UsageError(f'--device {device!r}: only cpu and cuda devices are supported')


def prepare_out_dir(out_dir):
    """Create ``out_dir`` (remembering whether we did) and prove it is writable."""
    created = not osp.exists(out_dir)
    try:
        os.makedirs(out_dir, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix='.mmceph-probe-', dir=out_dir)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UsageError(f'--out-dir {out_dir}: cannot write there ({err.strerror})') from None
    return created


def list_inputs(path, recursive, out_dir):
    """``[(file, name relative to the input)]`` of supported images, sorted."""
    if osp.isfile(path):
        return [(path, osp.basename(path))]
    if not osp.isdir(path):
        raise UsageError(f'{path}: input not found')
    out_real = osp.realpath(out_dir)
    found = []
    for folder, subdirs, files in os.walk(path):
        if not recursive and osp.realpath(folder) != osp.realpath(path):
            subdirs[:] = []
            continue
        # the out-dir (and what lies under it) is never walked into
        subdirs[:] = sorted(d for d in subdirs if not d.startswith('.')
                            and osp.realpath(osp.join(folder, d)) != out_real)
        for f in files:
            if f.lower().endswith(READABLE_EXTENSIONS) and not f.endswith(OUTPUT_SUFFIXES) \
                    and not f.startswith('.'):
                full = osp.join(folder, f)
                found.append((full, osp.relpath(full, path)))
    if not found:
        raise UsageError(f'{path}: no supported image in this folder'
                         + ('' if recursive else ' (use --recursive for sub-folders)')
                         + f'; extensions read: {" ".join(READABLE_EXTENSIONS)}')
    return sorted(found, key=lambda t: t[1])


def infer_images(args) -> int:
    """Predict every image ``args`` names and write the outputs (``tools/infer.py``: its
    parsed command line); the exit status."""
    # An exported model folder (mmceph.runtime, ONNX Runtime on the CPU): same outputs,
    # quality gate and exit codes; torch is never imported on this path.
    args.exported = osp.isdir(args.config)
    if args.exported:
        if args.checkpoint or args.device != 'cpu':
            raise UsageError(f'{args.config} is an exported model folder: give no checkpoint '
                             'and no --device (it runs on the CPU)')
        from ..runtime import load_export_meta
        load_export_meta(args.config)
    else:
        from .checkpoint import check_checkpoint_file
        if not osp.isfile(args.config):
            raise UsageError(f'{args.config}: config not found')
        if not args.checkpoint:
            raise UsageError('give the checkpoint after the config')
        check_checkpoint_file(args.checkpoint)
        check_device(args.device)
    inputs = list_inputs(args.input, args.recursive, args.out_dir)
    created = prepare_out_dir(args.out_dir)
    try:
        return predict_all(args, inputs)
    finally:
        if created:                                      # leave no empty folder behind
            remove_if_empty(args.out_dir)


def predict_all(args, inputs):
    import cv2
    from tqdm import tqdm

    from ..imaging.image_io import ImageReadError
    from .overlay import draw_overlay
    if getattr(args, 'exported', False):          # an exported folder: mmceph.runtime
        from ..runtime import OnnxLandmarkPredictor
        predictor = OnnxLandmarkPredictor(args.config,
                                          check_orientation=not args.no_orientation_check)
    else:
        from .inference import LandmarkPredictor
        predictor = LandmarkPredictor(args.config, args.checkpoint, args.device,
                                      check_orientation=not args.no_orientation_check)
    protected = {osp.realpath(f) for f, _ in inputs}
    rows, failures, statuses = [], [], []
    for path, rel in tqdm(inputs, desc='images', unit='img', disable=len(inputs) < 2):
        try:
            result, image, kpts = predictor.predict(path, args.pixel_spacing, args.max_pixels)
        except ImageReadError as err:
            failures.append(str(err))
            tqdm.write(f'skipped: {err}', file=sys.stderr)
            continue
        target = osp.join(args.out_dir, rel)
        outputs = {target + '.landmarks.json': json.dumps(result, indent=1, allow_nan=False)}
        if not args.no_overlay and len(kpts):
            overlay = draw_overlay(image, result, kpts)     # status banner, table, legend
            outputs[target + '.overlay.png'] = cv2.imencode('.png', overlay)[1].tobytes()
        for out in outputs:
            if osp.realpath(out) in protected:           # never reachable by the naming,
                raise UsageError(f'{out}: would overwrite an input')   # but never allowed
        try:
            write_outputs(outputs)
        except OSError as err:           # this image only: the others are still written
            failures.append(f'{err.filename or path}: cannot write ({err.strerror or err})')
            tqdm.write(f'skipped: {failures[-1]}', file=sys.stderr)
            continue
        statuses.append(result['status'])
        if result['status'] != 'rejected':
            rows.append(dict(result, image=rel))
    if osp.isdir(args.input) and rows:
        write_atomic(osp.join(args.out_dir, CSV_NAMES[0]), _landmarks_csv(rows))
        if any(r.get('measurements') for r in rows):
            write_atomic(osp.join(args.out_dir, CSV_NAMES[1]), _measurements_csv(rows))
    gated = sum(s != 'ok' for s in statuses)
    print(f'{len(statuses)} image(s) written to {args.out_dir}: '
          f'{len(statuses) - gated} ok, {statuses.count("review")} review, '
          f'{statuses.count("rejected")} rejected'
          + (f'; {len(failures)} skipped (unreadable or not writable)' if failures else ''))
    if failures:
        return EXIT_SKIPPED
    return EXIT_GATED if gated else EXIT_OK


def write_outputs(outputs):
    """Write one image's ``{path: data}`` all or nothing: on an error the files already
    written for this image are removed, so no image is left half-written."""
    done = []
    try:
        for out, data in outputs.items():
            write_atomic(out, data)
            done.append(out)
    except BaseException:
        for out in done:
            os.unlink(out)
        raise


def remove_if_empty(folder):
    """Remove ``folder`` when it holds no file at any depth (a run that wrote nothing)."""
    if all(not files for _, _, files in os.walk(folder)):
        shutil.rmtree(folder, ignore_errors=True)


def _landmarks_csv(rows):
    f = io.StringIO()
    w = csv.writer(f)
    w.writerow(['image', 'status', 'landmark', 'x_px', 'y_px', 'x_mm', 'y_mm', 'confidence',
                'flags'])
    for r in rows:
        for lm in r['landmarks']:
            w.writerow([r['image'], r['status'], lm['name'], lm['x_px'], lm['y_px'],
                        lm.get('x_mm', ''), lm.get('y_mm', ''), lm['confidence'],
                        ' '.join(lm['flags'])])
    return f.getvalue()


def _measurements_csv(rows):
    f = io.StringIO()
    w = csv.writer(f)
    w.writerow(['image', 'measurement', 'value', 'unit', 'class', 'meaning'])
    for r in rows:
        for name, m in (r.get('measurements') or {}).items():
            w.writerow([r['image'], name, m['value'], m['unit'], m['class'],
                        m['meaning']])
    return f.getvalue()
