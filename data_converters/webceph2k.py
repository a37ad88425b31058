"""WebCeph2k CSVs -> COCO-keypoint JSON.

CSV files accepted in --csv-dir (names matched case-insensitively; one file per split):
  train*.csv -> train,  val*.csv (e.g. valid.csv, validation.csv) -> valid,  test*.csv -> test
(the release's data/Github_csv/{TrainingData,ValidData,TestData}.csv match). The release's
preparation step (GetROI_before_train.py) writes <name>_roi.csv beside each raw CSV, with
the same landmarks plus scale, center_w, center_h: when both are there the RAW CSV wins (it
is the release's annotation; the extra columns are upstream's crop, which --roi replaces)
and the choice is printed; a *_roi.csv alone is read as well. At least one CSV must
exist; the ROI prior (default) needs the training CSV.

Columns (matched by name, so the _roi.csv's extra columns do no harm): img_path, pixels
(mm per pixel, used for both x and y), then <NAME>_v, <NAME>_x, <NAME>_y for the 26
landmarks. A point with _v == 0 or y <= 0 is missing: written as v=0, never invented (_v is
0, 1 or 2, anything else is an error). Header names are matched after stripping spaces,
case-insensitively; two columns with one name are an error. Files are UTF-8 (a byte-order
mark is allowed). Writes OUT/annotations/{train,valid,test}.json.

img_path as released ("/images/NAME.jpg", "./images/NAME.jpg" or a bare "NAME.jpg") is
looked up under --image-root, which may be the release's data/ or data/images/: the path
itself, its base name, then images/<base name> are tried (and, for each, the one image with
the same stem and another extension); a missing image is an error listing every path tried.

Landmarks outside their image (expected now and then from nine centres): all of them are
listed in one error (file, row, landmark); --outside drop writes them as missing points
(v=0) instead and counts them in the summary. They are never moved inside.
"""
import argparse
import csv
import io
import os
import os.path as osp
import re

import numpy as np
from tqdm import tqdm

from mmceph.formats.spacing import spacing_problem

from .errors import ConversionError, read_utf8_text
from .images import add_dedupe_arg, find_image, image_size, warn_duplicates
from .landmarks import load, names_and_skeleton
from .writer.coco import ImageRecord
from .writer.dataset import add_output_args, write_dataset

SPLIT_PATTERNS = {'train': r'train.*\.csv', 'valid': r'val.*\.csv', 'test': r'test.*\.csv'}


def find_csvs(csv_dir, verbose=False):
    """``{split: path}`` for the CSVs present; two candidates for one split are an error,
    except a raw CSV and its ``_roi`` copy (the raw one wins, and ``verbose`` says so)."""
    if not osp.isdir(csv_dir):
        raise ConversionError(csv_dir, 'CSV folder not found')
    found = {}
    for split, pattern in SPLIT_PATTERNS.items():
        hits = sorted(n for n in os.listdir(csv_dir) if re.fullmatch(pattern, n, re.IGNORECASE))
        raw = {h.lower() for h in hits}
        roi_copies = [h for h in hits if re.fullmatch(r'(.*)_roi\.csv', h, re.IGNORECASE)
                      and h[:-len('_roi.csv')].lower() + '.csv' in raw]
        if roi_copies and len(hits) == 2 * len(roi_copies):
            if verbose:
                for h in roi_copies:
                    print(f'{split}: using {h[:-len("_roi.csv")]}.csv (the raw release CSV); '
                          f'ignoring {h} (its copy with upstream\'s crop columns)')
            hits = [h for h in hits if h not in roi_copies]
        if len(hits) > 1:
            raise ConversionError(csv_dir, f'several CSVs for the {split} split: {", ".join(hits)}')
        if hits:
            found[split] = osp.join(csv_dir, hits[0])
    if not found:
        raise ConversionError(csv_dir, 'no train*.csv, val*.csv or test*.csv found')
    return found


def _number(text, path, line, column):
    try:
        value = float(text)
    except ValueError:
        value = float('nan')
    if not np.isfinite(value):
        raise ConversionError(path, f'column {column}: expected a finite number, got {text!r}',
                              line=line)
    return value


def _rows(reader, path):
    """The reader's rows; a CSV syntax error (e.g. a field over the csv module's size limit)
    becomes a ConversionError naming the line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise ConversionError(path, f'malformed CSV: {err}', line=reader.line_num) from None
        yield row


def read_csv(path, csv_names, image_root):
    """Yield ``(line, image path, file_name, spacing, points (K, 2) with NaN = missing)``."""
    reader = csv.reader(io.StringIO(read_utf8_text(path, 'the CSV'), newline=''))
    rows = _rows(reader, path)
    header = next(rows, None)
    if header is None:
        raise ConversionError(path, 'empty CSV', line=1)
    index = {}
    for i, h in enumerate(header):
        key = h.strip().upper()
        if key in index:
            raise ConversionError(path, f'two columns named {h.strip()!r} '
                                  f'(columns {index[key] + 1} and {i + 1})', line=1)
        index[key] = i
    wanted = ['IMG_PATH', 'PIXELS'] + [f'{n}_{c}' for n in csv_names for c in 'VXY']
    missing = [w for w in wanted if w not in index]
    if missing:
        raise ConversionError(path, 'missing columns: ' + ', '.join(missing), line=1)
    root = osp.abspath(image_root)
    for row in rows:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header) or any(cell.strip() for cell in row[len(header):]):
            raise ConversionError(path, f'{len(row)} fields, the header has {len(header)}',
                                  line=line)
        cell = {col: row[i].strip() for col, i in index.items()}
        spacing = _number(cell['PIXELS'], path, line, 'pixels')
        problem = spacing_problem(spacing)
        if problem:
            raise ConversionError(path, f'column pixels (the pixel spacing): {problem}',
                                  line=line)
        points = np.full((len(csv_names), 2), np.nan)
        for k, name in enumerate(csv_names):
            visible = _number(cell[f'{name}_V'], path, line, f'{name}_v')
            if visible not in (0, 1, 2):
                raise ConversionError(path, f'column {name}_v: expected 0 (missing), 1 or 2 '
                                      f'(labelled), got {cell[f"{name}_V"]!r}', line=line)
            if visible == 0:
                continue
            x, y = (_number(cell[f'{name}_{c}'], path, line, f'{name}_{c.lower()}')
                    for c in 'XY')
            if y > 0:
                points[k] = x, y
        image = resolve_image(cell['IMG_PATH'], root, path, line)
        file_name = osp.relpath(image, root).replace(os.sep, '/')
        yield line, image, file_name, spacing, points


def image_candidates(img_path, root):
    """Where an img_path as released may point under ``root`` (``data`` or ``data/images``):
    the path itself (a leading "/" or "./" stripped), its base name, images/<base name>."""
    rel = img_path.replace('\\', '/')              # CSVs written on Windows
    rel = re.sub(r'^(?:\./|/)+', '', rel)
    base = rel.rsplit('/', 1)[-1]
    seen = []
    for cand in (rel, base, f'images/{base}'):
        full = osp.normpath(osp.join(root, cand))
        if full not in seen:
            seen.append(full)
    return rel, seen


def resolve_image(img_path, root, path, line):
    """The image file an img_path names (see the module docstring); errors name the CSV
    line and every path tried."""
    if not img_path:
        raise ConversionError(path, 'empty img_path', line=line)
    rel, candidates = image_candidates(img_path, root)
    inside = osp.relpath(candidates[0], root)
    if '\0' in rel or not rel or inside == os.pardir or inside.startswith(os.pardir + os.sep):
        raise ConversionError(path, f'img_path {img_path!r} lies outside --image-root',
                              line=line)
    errors = []
    for cand in candidates:
        try:
            return find_image(cand)
        except ConversionError as err:
            errors.append(err)
    ambiguous = [str(e) for e in errors if 'several' in str(e)]
    if ambiguous:       # an image is there, but which one is a silent choice
        raise ConversionError(path, f'img_path {img_path!r}: {ambiguous[0]}', line=line)
    raise ConversionError(path, f'img_path {img_path!r}: image not found; tried '
                          + ', '.join(candidates) + ' (any image extension)', line=line)


def collect(csv_dir, image_root, outside='error'):
    """Validate every CSV row and image; build ``{split: [ImageRecord]}``.

    Returns ``(splits, dropped)``: with ``outside='drop'`` landmarks outside their image
    become missing points and ``dropped`` counts them; with ``'error'`` every offender is
    listed in one ConversionError.
    """
    csvs = find_csvs(csv_dir, verbose=True)
    if not osp.isdir(image_root):
        raise ConversionError(image_root, 'image root folder not found')
    csv_names = load('webceph2k').CSV_NAMES
    splits, offenders = {}, []
    for split, path in csvs.items():
        splits[split] = []
        for line, image, file_name, spacing, points in tqdm(
                read_csv(path, csv_names, image_root), desc=f'webceph2k {split}', unit='img'):
            try:
                width, height = image_size(image)
            except ConversionError as err:  # name the CSV line that refers to the image
                raise ConversionError(path, f'img_path of this row: {err}', line=line) from None
            rec = ImageRecord(file_name, width, height, points, (spacing, spacing), 'webceph2k',
                              origin=path, row=line)
            for k in rec.outside():
                offenders.append((rec, int(k)))
            splits[split].append(rec)
    if offenders and outside == 'error':
        raise outside_error(offenders, csv_names)
    for rec, k in offenders:
        rec.keypoints[k] = np.nan
    return splits, len(offenders)


def outside_error(offenders, csv_names):
    """One error listing every landmark outside its image (file:row landmark (x, y))."""
    items = [f'{rec.origin}:{rec.row} landmark {k + 1} {csv_names[k]} ({rec.keypoints[k, 0]:g}, '
             f'{rec.keypoints[k, 1]:g}) outside {rec.file_name} ({rec.width}x{rec.height})'
             for rec, k in offenders]
    first = offenders[0][0]
    return ConversionError(f'{first.origin}', f'{len(items)} landmark(s) lie outside their '
                           'image (use --outside drop to write them as missing points): '
                           + '; '.join(items))


def run(args):
    splits, dropped = collect(args.csv_dir, args.image_root, args.outside)
    splits = warn_duplicates(splits, args.image_root, args.dedupe)
    names, skeleton = names_and_skeleton('webceph2k')
    notes = [f'--outside drop: {dropped} landmark(s) outside their image written as missing '
             '(v=0)'] if args.outside == 'drop' else []
    return write_dataset(splits, args.out, names, skeleton, args.roi, args.roi_margin, 'webceph2k',
                         origins=find_csvs(args.csv_dir), margin_px=args.roi_margin_px,
                         notes=notes)


def add_parser(sub):
    p = sub.add_parser('webceph2k', help='WebCeph2k (Train/Valid/Test CSVs + images)',
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--csv-dir', required=True, help='folder holding the train/valid/test CSVs')
    p.add_argument('--image-root', required=True,
                   help='the release\'s data/ or data/images/ folder (img_path is looked up '
                        'as described above; file_name is written relative to it)')
    p.add_argument('--outside', choices=['error', 'drop'], default='error',
                   help='landmarks outside their image: "error" lists them all and stops; '
                        '"drop" writes them as missing points (v=0), counted in the summary '
                        '(default: %(default)s)')
    add_dedupe_arg(p)
    add_output_args(p)
    p.set_defaults(func=run)
