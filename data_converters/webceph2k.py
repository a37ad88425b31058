"""WebCeph2k CSVs -> COCO-keypoint JSON.

CSV files accepted in --csv-dir (names matched case-insensitively; one file per split):
  train*.csv -> train,  val*.csv (e.g. valid.csv, validation.csv) -> valid,  test*.csv -> test.
At least one must exist; the ROI prior (default) needs the training CSV.

Columns: img_path (relative to --image-root; if that exact file is missing, the one
image with the same stem and another extension is used), pixels (mm per pixel, used for
both x and y), then <NAME>_v, <NAME>_x, <NAME>_y for the 26 landmarks. A point with
_v == 0 or y <= 0 is missing: written as v=0, never invented (_v is 0, 1 or 2, anything else
is an error). Header names are matched after stripping spaces, case-insensitively; two
columns with one name are an error. Files are UTF-8 (a byte-order mark is allowed).
Writes OUT/annotations/{train,valid,test}.json.
"""
import argparse
import csv
import io
import os
import os.path as osp
import re

import numpy as np
from tqdm import tqdm

from .coco import ImageRecord
from .errors import ConversionError, read_utf8_text
from .images import add_dedupe_arg, find_image, image_size, warn_duplicates
from .landmarks import load, names_and_skeleton
from .output import add_output_args, write_dataset

MAX_SPACING_MM = 100     # mm per pixel; radiographs have ~0.1, anything near this is a typo
SPLIT_PATTERNS = {'train': r'train.*\.csv', 'valid': r'val.*\.csv', 'test': r'test.*\.csv'}


def find_csvs(csv_dir):
    """``{split: path}`` for the CSVs present; two candidates for one split are an error."""
    if not osp.isdir(csv_dir):
        raise ConversionError(csv_dir, 'CSV folder not found')
    found = {}
    for split, pattern in SPLIT_PATTERNS.items():
        hits = sorted(n for n in os.listdir(csv_dir) if re.fullmatch(pattern, n, re.IGNORECASE))
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
            raise ConversionError(path, f'two columns named {h.strip()!r} (columns {index[key] + 1} '
                                  f'and {i + 1})', line=1)
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
        if not 0 < spacing < MAX_SPACING_MM:
            raise ConversionError(path, f'pixel spacing must be > 0 and < {MAX_SPACING_MM:g} '
                                  f'mm per pixel, got {spacing:g}', line=line)
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
        rel = cell['IMG_PATH'].replace('\\', '/')      # CSVs written on Windows
        if not rel:
            raise ConversionError(path, 'empty img_path', line=line)
        wanted_image = osp.normpath(osp.join(root, rel))
        inside = osp.relpath(wanted_image, root)
        if '\0' in rel or inside == os.pardir or inside.startswith(os.pardir + os.sep):
            raise ConversionError(path, f'img_path {rel!r} lies outside --image-root',
                                  line=line)
        try:
            image = find_image(wanted_image)
        except ConversionError as err:      # name the CSV line too, not only the image
            raise ConversionError(path, f'img_path {rel!r}: {err}', line=line) from None
        file_name = osp.relpath(image, root).replace(os.sep, '/')
        yield line, image, file_name, spacing, points


def collect(csv_dir, image_root):
    """Validate every CSV row and image; build ``{split: [ImageRecord]}``."""
    csvs = find_csvs(csv_dir)
    if not osp.isdir(image_root):
        raise ConversionError(image_root, 'image root folder not found')
    csv_names = load('webceph2k')['CSV_NAMES']
    splits = {}
    for split, path in csvs.items():
        splits[split] = []
        for line, image, file_name, spacing, points in tqdm(
                read_csv(path, csv_names, image_root), desc=f'webceph2k {split}', unit='img'):
            try:
                width, height = image_size(image)
            except ConversionError as err:  # name the CSV line that refers to the image
                raise ConversionError(path, f'img_path of this row: {err}', line=line) from None
            rec = ImageRecord(file_name, width, height, points, (spacing, spacing), 'webceph2k')
            rec.check_inside(f'{path}:{line}')
            splits[split].append(rec)
    return splits


def run(args):
    splits = warn_duplicates(collect(args.csv_dir, args.image_root), args.image_root, args.dedupe)
    names, skeleton = names_and_skeleton('webceph2k')
    return write_dataset(splits, args.out, names, skeleton, args.roi, args.roi_margin, 'webceph2k',
                         origins=find_csvs(args.csv_dir))


def add_parser(sub):
    p = sub.add_parser('webceph2k', help='WebCeph2k (Train/Valid/Test CSVs + images)',
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--csv-dir', required=True, help='folder holding the train/valid/test CSVs')
    p.add_argument('--image-root', required=True,
                   help='folder the img_path column is relative to (file_name is written '
                        'relative to it too)')
    add_dedupe_arg(p)
    add_output_args(p)
    p.set_defaults(func=run)
