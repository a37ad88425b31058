"""Aariz (1000 cephalograms, seven devices, 29 landmarks, CVM stage) -> COCO-keypoint JSON.

Reads the release as its repository's loader lays it out, for each of Train, Valid, Test:
  ROOT/<Split>/Cephalograms/<id>.(png|jpg|bmp|...)
  ROOT/<Split>/Annotations/Cephalometric Landmarks/{Senior,Junior} Orthodontists/<id>.json
      {"landmarks": [{"symbol": "S", "value": {"x": ..., "y": ...}}, ...]} (optional
      "ceph_id", which must then be <id>)
  ROOT/<Split>/Annotations/CVM Stages/<id>.json   {"cvm_stage": {"value": 1..6}}
and writes OUT/annotations/{train,valid,test}.json with file_name relative to ROOT.

Landmarks are matched by SYMBOL to the repository's order (config.py), never by position;
an unknown or repeated symbol is an error naming the file, and a symbol that is absent is a
missing point (v=0), never invented.

Annotator: senior (default), junior, or mean = the exact mean of both (the official loader
averages them too, rounding up with ceil; we do not round, so no half-pixel bias). Every
JSON records it as "reference"; say which you used when you compare results.

Spacing: Aariz itself ships none. With --machine-csv (cephalogram_machine_mappings.csv:
cephalogram_id, machine, pixel_size, image_format, mode) every image gets its device's
pixel_size in mm/px (and a "machine" field); an image missing from the CSV is an error.
Without it no spacing is written (metrics in pixels): a spacing is never guessed.

The CVM stage is kept as the image field "cvm_stage" (1-6), when the CVM Stages folder
is there.
"""
import argparse
import csv
import io
import json
import math
import os.path as osp

import numpy as np
from tqdm import tqdm

from .coco import ImageRecord
from .errors import ConversionError, read_utf8_text
from .images import add_dedupe_arg, image_size, list_images, warn_duplicates
from .landmarks import load, names_and_skeleton
from .output import add_output_args, write_dataset

SPLIT_FOLDERS = {'train': 'Train', 'valid': 'Valid', 'test': 'Test'}
ANNOTATOR_FOLDERS = {'senior': 'Senior Orthodontists', 'junior': 'Junior Orthodontists'}
LANDMARK_DIR = osp.join('Annotations', 'Cephalometric Landmarks')
CVM_DIR = osp.join('Annotations', 'CVM Stages')
MAX_SPACING_MM = 100


def _read_json(path, what):
    if not osp.isfile(path):
        raise ConversionError(path, f'{what} not found')
    try:
        return json.loads(read_utf8_text(path, what))
    except json.JSONDecodeError as err:
        raise ConversionError(path, f'not valid JSON: {err.msg}', line=err.lineno) from None


def _finite(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def read_landmarks(path, stem, symbols):
    """One annotator's JSON: (29, 2) points in the repository's order, NaN = absent."""
    doc = _read_json(path, 'landmark annotation')
    items = doc.get('landmarks') if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ConversionError(path, 'expected {"landmarks": [...]} at the top level')
    ceph_id = doc.get('ceph_id')
    if ceph_id is not None and str(ceph_id) != stem:
        raise ConversionError(path, f'ceph_id {ceph_id!r} does not match the file name {stem!r}')
    index = {s: k for k, s in enumerate(symbols)}
    points = np.full((len(symbols), 2), np.nan)
    for i, item in enumerate(items):
        where = f'landmarks[{i}]'
        symbol = item.get('symbol') if isinstance(item, dict) else None
        if symbol not in index:
            raise ConversionError(path, f'{where}: unknown landmark symbol {symbol!r} (expected '
                                  'one of ' + ', '.join(symbols) + ')')
        value = item.get('value')
        x, y = (value.get('x'), value.get('y')) if isinstance(value, dict) else (None, None)
        if not (_finite(x) and _finite(y)):
            raise ConversionError(path, f'{where} ({symbol}): "value" must be '
                                  f'{{"x": number, "y": number}}, got {value!r}')
        k = index[symbol]
        if not np.isnan(points[k, 0]):
            raise ConversionError(path, f'{where}: symbol {symbol!r} given twice')
        points[k] = x, y
    return points


def read_cvm(path):
    doc = _read_json(path, 'CVM stage file')
    stage = doc.get('cvm_stage') if isinstance(doc, dict) else None
    value = stage.get('value') if isinstance(stage, dict) else None
    if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 6):
        raise ConversionError(path, f'expected {{"cvm_stage": {{"value": 1..6}}}}, got {doc!r:.80}')
    return value


def read_machine_csv(path):
    """``{cephalogram_id: (pixel_size mm, machine)}`` from the machine mapping CSV."""
    reader = csv.reader(io.StringIO(read_utf8_text(path, 'the machine CSV'), newline=''))
    try:
        rows = list(reader)
    except csv.Error as err:
        raise ConversionError(path, f'malformed CSV: {err}', line=reader.line_num) from None
    if not rows:
        raise ConversionError(path, 'empty CSV', line=1)
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in ('cephalogram_id', 'pixel_size') if c not in header]
    if missing:
        raise ConversionError(path, 'missing columns: ' + ', '.join(missing), line=1)
    col = {c: header.index(c) for c in header}
    found = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise ConversionError(path, f'{len(row)} fields, the header has {len(header)}',
                                  line=line)
        cid, text = row[col['cephalogram_id']].strip(), row[col['pixel_size']].strip()
        try:
            size = float(text)
        except ValueError:
            size = float('nan')
        if not (math.isfinite(size) and 0 < size < MAX_SPACING_MM):
            raise ConversionError(path, f'pixel_size must be a number > 0 and < '
                                  f'{MAX_SPACING_MM} mm, got {text!r}', line=line)
        if cid in found:
            raise ConversionError(path, f'cephalogram_id {cid!r} listed twice', line=line)
        machine = row[col['machine']].strip() if 'machine' in col else ''
        found[cid] = (size, machine)
    return found


def load_points(ann_dirs, stem, annotator, symbols):
    if annotator != 'mean':
        return read_landmarks(osp.join(ann_dirs[annotator], f'{stem}.json'), stem, symbols)
    senior, junior = (read_landmarks(osp.join(ann_dirs[a], f'{stem}.json'), stem, symbols)
                      for a in ('senior', 'junior'))
    return (senior + junior) / 2        # NaN where either lacks the landmark


def collect(root, annotator, machines):
    """Validate the layout and build ``{split: [ImageRecord]}``; writes nothing."""
    if not osp.isdir(root):
        raise ConversionError(root, 'Aariz root folder not found')
    folders = {s: f for s, f in SPLIT_FOLDERS.items() if osp.isdir(osp.join(root, f))}
    if not folders:
        raise ConversionError(root, 'no split folder found (expected any of '
                              + ', '.join(SPLIT_FOLDERS.values()) + ')')
    symbols = load('aariz').SYMBOLS
    needed = ['senior', 'junior'] if annotator == 'mean' else [annotator]
    todo, cvm_dirs, ann_dirs = [], {}, {}
    for split, folder in folders.items():
        images = osp.join(root, folder, 'Cephalograms')
        if not osp.isdir(images):
            raise ConversionError(images, 'image folder not found')
        ann_dirs[split] = {a: osp.join(root, folder, LANDMARK_DIR, ANNOTATOR_FOLDERS[a])
                           for a in needed}
        for a, path in ann_dirs[split].items():
            if not osp.isdir(path):
                raise ConversionError(path, f'{a} annotator folder not found')
        cvm = osp.join(root, folder, CVM_DIR)
        cvm_dirs[split] = cvm if osp.isdir(cvm) else None
        todo += [(split, folder, stem, name) for stem, name in list_images(images).items()]
    if machines is not None:
        unknown = [stem for _, _, stem, _ in todo if stem not in machines[1]]
        if unknown:
            raise ConversionError(machines[0], f'{len(unknown)} image(s) have no row, e.g. '
                                  + ', '.join(unknown[:5]) + ' (a spacing is never guessed; '
                                  'leave out --machine-csv to write none)')
    splits = {s: [] for s in folders}
    for split, folder, stem, name in tqdm(todo, desc='aariz', unit='img'):
        path = osp.join(root, folder, 'Cephalograms', name)
        width, height = image_size(path)
        points = load_points(ann_dirs[split], stem, annotator, symbols)
        extra, spacing = {}, None
        if machines is not None:
            size, machine = machines[1][stem]
            spacing, extra['machine'] = (size, size), machine
        if cvm_dirs[split]:
            extra['cvm_stage'] = read_cvm(osp.join(cvm_dirs[split], f'{stem}.json'))
        rec = ImageRecord(f'{folder}/Cephalograms/{name}', width, height, points, spacing,
                          'aariz', extra=extra, origin=path)
        rec.check_inside(osp.join(ann_dirs[split][needed[0]], f'{stem}.json'))
        splits[split].append(rec)
    return splits


def run(args):
    machines = (args.machine_csv, read_machine_csv(args.machine_csv)) if args.machine_csv \
        else None
    splits = warn_duplicates(collect(args.root, args.annotator, machines), args.root,
                             args.dedupe)
    names, skeleton = names_and_skeleton('aariz')
    with_cvm = sum('cvm_stage' in r.extra for recs in splits.values() for r in recs)
    total = sum(len(r) for r in splits.values())
    notes = [f'CVM stage kept for {with_cvm} of {total} images',
             'pixel spacing from ' + (args.machine_csv if machines else
                                      'nowhere (no --machine-csv): metrics in pixels')]
    origins = {s: osp.join(args.root, f) for s, f in SPLIT_FOLDERS.items() if s in splits}
    return write_dataset(splits, args.out, names, skeleton, args.roi, args.roi_margin, 'aariz',
                         origins=origins, reference=args.annotator,
                         margin_px=args.roi_margin_px, notes=notes)


def add_parser(sub):
    p = sub.add_parser('aariz', help='Aariz (Train/Valid/Test with per-image JSON)',
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--root', required=True, help='the release folder holding Train/, Valid/, Test/')
    p.add_argument('--annotator', choices=['senior', 'junior', 'mean'], default='senior',
                   help='whose landmarks: senior (default), junior, or mean of both (needs '
                        'both folders); recorded as "reference" in every JSON')
    p.add_argument('--machine-csv', default=None,
                   help='cephalogram_machine_mappings.csv: per-image pixel_size in mm (without '
                        'it no spacing is written)')
    add_dedupe_arg(p)
    add_output_args(p)
    p.set_defaults(func=run)
