"""Lateral-photograph pickle ("1501 patient records") -> PNG images + COCO-keypoint JSON.

The pickle is a pandas DataFrame, one row per patient: patient_id, Image (224x224x3 uint8,
or flattened to 50176x3), optional depth_feature (224x224), optional set (train/dev/test),
and <name>_x, <name>_y columns (pixels of the stored image) for the 19 points. It is loaded
with a restricted unpickler (only the numpy/pandas classes a DataFrame needs): a pickle
naming anything else is refused, so a malicious file cannot run code.

Column names are normalised (lower case, spaces and hyphens -> "_", repeats collapsed),
so "Gonion _x", "upper 1 tip_x" and "A point_x" all match. NaN coordinates are missing
points (v=0), never invented. Only the columns named here are read: the "patient" column
(a text id holding the patient's NAME) never reaches any output.

Pixel spacing: none by default (metrics in pixels). The release's ruler columns
ruler_point_up_x/_y, ruler_point_down_x/_y (in the ORIGINAL photograph's pixels) give it
with --ruler-mm L, the ruler's length in mm: spacing = L / |up - down| * --photo-size /
stored width, per image. The authors' repositories disagree on L (10 mm everywhere in
one, 20 mm for some patients in another), so it is your choice, and it is recorded in each
image ("ruler_mm") and in the summary. Rows without ruler points get no spacing (null);
the summary says for how many images a spacing was found. The metric needs a spacing on
every evaluated image to report mm.

Writes OUT/images/<patient_id>.png (the id sanitised to letters, digits, "._-"; an
existing OUT/images is replaced, only once everything succeeded) and
OUT/annotations/{train,val,test}.json with file_name relative to OUT. Channels are written
in the order stored (read as RGB). Splits: the "set" column when present (dev -> val);
otherwise a seeded random split (--seed) with --val-fraction and --test-fraction of the
patients (rounded), the rest train. Giving those options with a "set" column is an error.

--depth writes depth_feature instead of the photograph: a uint8 map is written as is,
any other dtype is scaled linearly per image from its min..max to 0..255 (a constant map
becomes 0), because the depth maps carry relative, not absolute, depth.
"""
import argparse
import os
import os.path as osp
import re
import shutil
import tempfile

import numpy as np
from PIL import Image
from tqdm import tqdm

from mmceph.formats.spacing import spacing_problem

from .errors import ConversionError
from .images import add_dedupe_arg, warn_duplicates
from .landmarks import names_and_skeleton
from .safe_pickle import load_dataframe
from .splits import seed_arg, seeded_split
from .writer.coco import ImageRecord
from .writer.dataset import add_output_args, swap_in_folder, write_dataset

SET_NAMES = {'train': 'train', 'dev': 'val', 'val': 'val', 'valid': 'val',
             'validation': 'val', 'test': 'test'}
DEFAULT_VAL, DEFAULT_TEST, DEFAULT_SEED = 0.1, 0.1, 0


def normalise(column):
    """'Gonion _x' -> 'gonion_x', 'upper 1 tip_x' -> 'upper_1_tip_x'."""
    return re.sub(r'_+', '_', re.sub(r'[\s-]', '_', str(column).strip().lower())).strip('_')


def map_columns(df, path, keypoints, depth):
    """``{normalised name: original column}`` for every column; errors list the needed ones
    that are missing, and two columns that normalise alike are refused, not guessed."""
    by_norm = {}
    for col in df.columns:
        key = normalise(col)
        if key in by_norm:
            raise ConversionError(path, f'columns {by_norm[key]!r} and {col!r} both mean {key!r}')
        by_norm[key] = col
    needed = ['patient_id', 'image'] + [f'{k}_{c}' for k in keypoints for c in 'xy']
    if depth:
        needed.append('depth_feature')
    missing = [n for n in needed if n not in by_norm]
    if missing:
        raise ConversionError(path, 'missing columns (after normalising names): '
                              + ', '.join(missing) + '; found: '
                              + ', '.join(map(repr, df.columns)))
    return by_norm


def _as_array(value, where, what):
    """``np.asarray`` of a cell, which may hold anything (ragged lists, huge integers...)."""
    try:
        return np.asarray(value)
    except (TypeError, ValueError, OverflowError) as err:
        raise ConversionError(where, f'{what} is not an array: {err}') from None


def as_image(value, where):
    """An (H, W, 3) uint8 array from a stored Image cell (3-D or flattened N x 3)."""
    arr = _as_array(value, where, 'Image')
    if arr.ndim == 2 and arr.shape[1] == 3 and round(arr.shape[0] ** 0.5) ** 2 == arr.shape[0]:
        side = round(arr.shape[0] ** 0.5)
        arr = arr.reshape(side, side, 3)
    if arr.ndim != 3 or arr.shape[2] != 3 or not arr.size:
        raise ConversionError(where, f'Image has shape {arr.shape}, expected (H, W, 3) or (H*W, 3) '
                              'with H == W, not empty')
    return _to_uint8(arr, where, 'Image')


def as_depth(value, where):
    """An (H, W) uint8 depth map: uint8 as is, otherwise min..max -> 0..255 per image."""
    arr = _as_array(value, where, 'depth_feature')
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 1 and round(arr.size ** 0.5) ** 2 == arr.size:
        side = round(arr.size ** 0.5)
        arr = arr.reshape(side, side)
    if arr.ndim != 2 or arr.dtype.kind not in 'uif' or not arr.size:
        raise ConversionError(where, f'depth_feature has shape {arr.shape} and dtype {arr.dtype}, '
                              'expected a numeric, non-empty (H, W) map')
    if arr.dtype == np.uint8:
        return arr
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ConversionError(where, 'depth_feature has non-finite values')
    lo, hi = arr.min(), arr.max()
    # halved first (exact in floating point), or hi - lo overflows for values beyond 9e307
    scaled = (arr / 2 - lo / 2) / (hi / 2 - lo / 2) * 255 if hi > lo else np.zeros_like(arr)
    return np.round(scaled).astype(np.uint8)


def _to_uint8(arr, where, what):
    """Accept uint8, or whole numbers in 0..255 of another dtype; never rescale silently."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind in 'uif' and np.isfinite(arr).all() and arr.min() >= 0 \
            and arr.max() <= 255 and (arr == np.round(arr)).all():
        return arr.astype(np.uint8)
    raise ConversionError(where, f'{what} has dtype {arr.dtype} with values outside whole '
                          'numbers 0..255; convert it to uint8 first')


MAX_STEM = 200      # file names are limited to 255 bytes on most file systems


def sanitise(patient_id):
    """A safe file stem from a patient id (12.0 -> '12', 'a/b c' -> 'a_b_c')."""
    if isinstance(patient_id, (float, np.floating)) and float(patient_id).is_integer():
        patient_id = int(patient_id)
    return re.sub(r'[^A-Za-z0-9._-]', '_', str(patient_id).strip()).lstrip('.')


def assign_splits(df, path, set_column, val_fraction, test_fraction, seed):
    """The split of every row: from the ``set`` column, or a seeded random split."""
    if set_column is not None:
        options = {'--val-fraction': val_fraction, '--test-fraction': test_fraction, '--seed': seed}
        given = [o for o, v in options.items() if v is not None]
        if given:
            raise ConversionError(path, f'the pickle has a {set_column!r} column, which defines '
                                  f'the splits; {", ".join(given)} would be ignored: '
                                  'leave them out')
        splits = []
        for row, value in enumerate(df[set_column]):
            split = SET_NAMES.get(str(value).strip().lower())
            if split is None:
                raise ConversionError(path, f'row {row}: unknown {set_column!r} value {value!r} '
                                      f'(expected one of {", ".join(SET_NAMES)})')
            splits.append(split)
        return splits
    return seeded_split(len(df), DEFAULT_VAL if val_fraction is None else val_fraction,
                        DEFAULT_TEST if test_fraction is None else test_fraction,
                        DEFAULT_SEED if seed is None else seed)


RULER_COLUMNS = ['ruler_point_up_x', 'ruler_point_up_y', 'ruler_point_down_x',
                 'ruler_point_down_y']
DEFAULT_PHOTO_SIZE = 600


def ruler_spacing(rows, row, cols, ruler, width, height, where):
    """``(sx, sy)`` mm per stored pixel from the row's ruler points, or None without them.

    ``ruler`` is ``(ruler_mm, photo_size)``; the points are in photo_size-px coordinates.
    """
    if ruler is None:
        return None
    try:
        ux, uy, dx, dy = (float(rows.at[row, cols[c]]) for c in RULER_COLUMNS)
    except (TypeError, ValueError, OverflowError) as err:
        raise ConversionError(where, f'non-numeric ruler coordinate: {err}') from None
    if not np.isfinite([ux, uy, dx, dy]).all():
        return None
    length_px = float(np.hypot(ux - dx, uy - dy))
    if not length_px > 0:
        raise ConversionError(where, 'the ruler\'s two points coincide (length 0 px)')
    ruler_mm, photo_size = ruler
    per_photo_px = ruler_mm / length_px
    spacing = (per_photo_px * photo_size / width, per_photo_px * photo_size / height)
    problem = spacing_problem(spacing[0]) or spacing_problem(spacing[1])
    if problem:
        raise ConversionError(where, f'the ruler ({length_px:g} px for {ruler_mm:g} mm) gives '
                              f'an implausible pixel spacing: {problem}')
    return spacing


def convert(df, path, cols, image_dir, keypoints, depth, row_splits, ruler=None):
    """Check each row and write its PNG into ``image_dir``; return ``{split: [records]}``."""
    stems = {}
    splits = {'train': [], 'val': [], 'test': []}
    rows = df.reset_index(drop=True)
    for row in tqdm(range(len(rows)), desc='photo-pickle', unit='img'):
        pid = rows.at[row, cols['patient_id']]
        where = f'{path}: row {row} (patient_id {str(pid)!r})'
        stem = sanitise(pid)
        if not stem or stem in stems or len(stem) > MAX_STEM:
            raise ConversionError(where, 'empty patient_id' if not stem else
                                  f'patient_id longer than {MAX_STEM} characters'
                                  if len(stem) > MAX_STEM else
                                  f'file name {stem}.png already used by row {stems.get(stem)}')
        stems[stem] = row
        if depth:
            pixels = as_depth(rows.at[row, cols['depth_feature']], where)
        else:
            pixels = as_image(rows.at[row, cols['image']], where)
        try:
            kp = np.array([[rows.at[row, cols[f'{k}_{c}']] for c in 'xy'] for k in keypoints],
                          float)
        except (TypeError, ValueError, OverflowError) as err:
            raise ConversionError(where, f'non-numeric landmark coordinate: {err}') from None
        if kp.shape != (len(keypoints), 2):     # e.g. a cell holding an array
            raise ConversionError(where, 'a landmark coordinate is not a single number')
        kp[np.isnan(kp).any(1)] = np.nan
        spacing = ruler_spacing(rows, row, cols, ruler, pixels.shape[1], pixels.shape[0], where)
        extra = dict(patient_id=str(pid), modality='depth' if depth else 'photo')
        if spacing is not None:
            extra['ruler_mm'] = ruler[0]
        rec = ImageRecord(f'images/{stem}.png', pixels.shape[1], pixels.shape[0], kp, spacing,
                          'lateral_photo', extra=extra, origin=str(path), row=row)
        rec.check_inside(where)
        Image.fromarray(np.ascontiguousarray(pixels)).save(osp.join(image_dir, f'{stem}.png'),
                                                           compress_level=1)
        splits[row_splits[row]].append(rec)
    return splits


def run(args):
    path = args.pickle
    df = load_dataframe(path)
    keypoints, skeleton = names_and_skeleton('lateral_photo')
    if not len(df):
        raise ConversionError(path, 'the DataFrame has no rows')
    cols = map_columns(df, path, keypoints, args.depth)
    row_splits = assign_splits(df, path, cols.get('set'), args.val_fraction, args.test_fraction,
                               args.seed)
    has_ruler = all(c in cols for c in RULER_COLUMNS)
    if args.ruler_mm is not None and not has_ruler:
        raise ConversionError(path, '--ruler-mm needs the ruler columns '
                              + ', '.join(RULER_COLUMNS) + '; missing: '
                              + ', '.join(c for c in RULER_COLUMNS if c not in cols))
    if args.photo_size < 1:
        raise ValueError(f'--photo-size must be >= 1 px, got {args.photo_size}')
    ruler = (args.ruler_mm, args.photo_size) if args.ruler_mm is not None else None
    os.makedirs(args.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.photo-pickle-', dir=args.out)
    try:
        os.mkdir(osp.join(tmp, 'images'))
        splits = convert(df, path, cols, osp.join(tmp, 'images'), keypoints, args.depth,
                         row_splits, ruler)
        kept = warn_duplicates(splits, tmp, args.dedupe)
        for split, records in splits.items():       # drop the PNGs of removed duplicates
            names = {r.file_name for r in kept[split]}
            for rec in records:
                if rec.file_name not in names:
                    os.unlink(osp.join(tmp, rec.file_name))
        total = sum(len(r) for r in kept.values())
        if ruler is not None:
            found = sum(r.pixel_spacing is not None for recs in kept.values() for r in recs)
            notes = [f'pixel spacing from the ruler (--ruler-mm {args.ruler_mm:g}, original '
                     f'photo {args.photo_size} px) for {found} of {total} images (MRE in mm '
                     'for those; rows without ruler points have none)']
        else:
            notes = ['no pixel spacing (metrics in pixels)' + (
                '; the pickle has ruler columns: --ruler-mm L gives mm' if has_ruler else '')]
        summary = write_dataset(kept, args.out, keypoints, skeleton, args.roi, args.roi_margin,
                                'lateral_photo', origins={s: path for s in kept},
                                margin_px=args.roi_margin_px, notes=notes)
        swap_in_folder(osp.join(tmp, 'images'), osp.join(args.out, 'images'))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary


def _positive(text):
    """argparse type of --ruler-mm: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float('nan')
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f'expected a number > 0, got {text!r}')
    return value


def add_parser(sub):
    p = sub.add_parser('photo-pickle', help='lateral photographs from a pickled DataFrame',
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--pickle', required=True, help='the pickled pandas DataFrame (untrusted: '
                   'loaded with a restricted unpickler)')
    p.add_argument('--val-fraction', type=float, default=None,
                   help=f'without a "set" column: fraction of patients for val '
                        f'(default: {DEFAULT_VAL})')
    p.add_argument('--test-fraction', type=float, default=None,
                   help=f'without a "set" column: fraction of patients for test '
                        f'(default: {DEFAULT_TEST})')
    p.add_argument('--seed', type=seed_arg, default=None,
                   help=f'without a "set" column: seed of the random split '
                        f'(default: {DEFAULT_SEED})')
    p.add_argument('--ruler-mm', type=_positive, default=None,
                   help='length of the ruler in mm: turns the ruler columns into a per-image '
                        'pixel spacing (default: none, metrics in pixels; the source '
                        'repositories disagree between 10 and 20 mm, so it is your choice, '
                        'recorded in the output)')
    p.add_argument('--photo-size', type=int, default=DEFAULT_PHOTO_SIZE,
                   help='side in px of the original photograph the ruler columns are measured '
                        'in (default: %(default)s)')
    p.add_argument('--depth', action='store_true',
                   help='write depth_feature (scaled to uint8, see above) instead of the '
                        'photograph')
    add_dedupe_arg(p)
    add_output_args(p)
    p.set_defaults(func=run)
