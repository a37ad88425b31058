"""Aariz (1000 cephalograms, seven devices, 29 landmarks, CVM stage) -> COCO-keypoint JSON.

Reads the release as it ships, for each of train, valid, test (the archive's folders are
lower-case; Train/Valid/Test, as the official loader spells them, are read too):
  ROOT/<split>/Cephalograms/<id>.(png|jpg|bmp|...)
  ROOT/<split>/Annotations/Cephalometric Landmarks/{Senior,Junior} Orthodontists/<id>.json
      {"landmarks": [{"symbol": "S", "value": {"x": ..., "y": ...}}, ...]} (optional
      "ceph_id", which must then be <id>)
  ROOT/<split>/Annotations/CVM Stages/<id>.json   {"cvm_stage": {"value": 1..6}}
  ROOT/cephalogram_machine_mappings.csv           the pixel size of each image's machine
and writes OUT/annotations/{train,valid,test}.json with file_name relative to ROOT.

Landmarks are matched by SYMBOL to the repository's order (config.py), never by position;
an unknown or repeated symbol is an error naming the file. Every released image has all
29 landmarks from both annotators, so a file that lacks some is refused, naming it and
every absent symbol (a damaged or edited file); --allow-missing converts it with those
points missing (v=0, never invented).

Annotator: senior (default), junior, or mean = the exact mean of both (the official loader
averages them too, rounding up with ceil; we do not round, so no half-pixel bias). Every
JSON records it as "reference"; say which you used when you compare results.

Spacing: from the archive's ROOT/cephalogram_machine_mappings.csv (cephalogram_id,
machine, pixel_size, image_format, mode) when it is there, or from --machine-csv, which
overrides it: every image gets its device's pixel_size in mm/px (and a "machine" field);
which file was used and how many images each machine has is printed on stderr. An image
missing from the CSV is an error, as is a pixel_size outside mmceph's plausible range.
Without either file no spacing is written and the summary says the metric will be in
pixels: a spacing is never guessed.

The CVM stage is kept as the image field "cvm_stage" (1-6), when the CVM Stages folder
is there.
"""
import argparse
import csv
import io
import json
import math
import os
import os.path as osp
import sys
from collections import Counter

import numpy as np
from tqdm import tqdm

from mmceph.formats.spacing import SPACING_RANGE_MM, parse_spacing_mm

from .errors import ConversionError, read_utf8_text
from .images import add_dedupe_arg, image_size, list_images, warn_duplicates
from .landmarks import load, names_and_skeleton, refuse_shortfall
from .writer.coco import ImageRecord
from .writer.dataset import add_output_args, write_dataset

SPLITS = ('train', 'valid', 'test')      # folder names as released; case is not checked
ANNOTATOR_FOLDERS = {'senior': 'Senior Orthodontists', 'junior': 'Junior Orthodontists'}
LANDMARK_DIR = osp.join('Annotations', 'Cephalometric Landmarks')
CVM_DIR = osp.join('Annotations', 'CVM Stages')
MACHINE_CSV = 'cephalogram_machine_mappings.csv'


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
        size = parse_spacing_mm(text)
        if size is None:
            lo, hi = SPACING_RANGE_MM
            raise ConversionError(path, f'pixel_size must be mm per pixel between {lo:g} and '
                                  f'{hi:g}, got {text!r}', line=line)
        if cid in found:
            raise ConversionError(path, f'cephalogram_id {cid!r} listed twice', line=line)
        machine = row[col['machine']].strip() if 'machine' in col else ''
        found[cid] = (size, machine)
    return found


def load_points(ann_dirs, stem, needed, symbols, short):
    """The image's points of the annotator, or the mean of both (NaN where either lacks
    the landmark); each file that lacks landmarks is added to ``short`` (for the
    shortfall check) as (file, image label, [absent symbols])."""
    found = []
    for a in needed:
        path = osp.join(ann_dirs[a], f'{stem}.json')
        points = read_landmarks(path, stem, symbols)
        lacking = np.flatnonzero(np.isnan(points[:, 0]))
        if len(lacking):
            short.append((path, f'image {stem} ({a} annotation)',
                          [symbols[k] for k in lacking]))
        found.append(points)
    return sum(found) / len(found)


def split_folders(root):
    """``{split: folder name}`` of the split folders in ``root``, matched without regard to
    case (the archive has train/, the official loader asks for Train/); two spellings of
    one split side by side are refused rather than one picked."""
    if not osp.isdir(root):
        raise ConversionError(root, 'Aariz root folder not found')
    found = {}
    for name in sorted(os.listdir(root)):
        split = name.lower()
        if split in SPLITS and osp.isdir(osp.join(root, name)):
            if split in found:
                raise ConversionError(root, f'two folders for the {split} split: '
                                      f'{found[split]}/ and {name}/ (keep one)')
            found[split] = name
    if not found:
        raise ConversionError(root, 'no split folder found (expected any of '
                              + ', '.join(f'{s}/' for s in SPLITS) + ', in any case)')
    return {s: found[s] for s in SPLITS if s in found}


def collect(root, annotator, machines, allow_missing=False):
    """Validate the layout and build ``{split: [ImageRecord]}``; writes nothing."""
    folders = split_folders(root)
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
                                  + ', '.join(unknown[:5]) + ' (a spacing is never guessed)')
    splits, short = {s: [] for s in folders}, []
    for split, folder, stem, name in tqdm(todo, desc='aariz', unit='img'):
        path = osp.join(root, folder, 'Cephalograms', name)
        width, height = image_size(path)
        points = load_points(ann_dirs[split], stem, needed, symbols, short)
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
    if not allow_missing:
        refuse_shortfall(short, len(symbols), 'Aariz')
    return splits


def machine_table(args):
    """``(csv path, {id: (mm, machine)})`` from --machine-csv, else from the archive's own
    ROOT/cephalogram_machine_mappings.csv, else None (no spacing at all)."""
    path = args.machine_csv or osp.join(args.root, MACHINE_CSV)
    if not args.machine_csv and not osp.isfile(path):
        return None
    return path, read_machine_csv(path)


def report_machines(machines, splits, given):
    """Say on stderr which CSV gave the spacing and how many images each machine has."""
    path, table = machines
    counts = Counter(table[osp.splitext(osp.basename(r.file_name))[0]]
                     for recs in splits.values() for r in recs)
    print(f'pixel spacing from {path} ({"--machine-csv" if given else "found in the root"}): '
          + ', '.join(f'{machine or "(no machine name)"} {n} image(s) at {size:g} mm/px'
                      for (size, machine), n in sorted(counts.items(), key=lambda c: c[0][1])),
          file=sys.stderr)


def run(args):
    machines = machine_table(args)
    splits = warn_duplicates(collect(args.root, args.annotator, machines, args.allow_missing),
                             args.root, args.dedupe)
    if machines:
        report_machines(machines, splits, bool(args.machine_csv))
    names, skeleton = names_and_skeleton('aariz')
    with_cvm = sum('cvm_stage' in r.extra for recs in splits.values() for r in recs)
    total = sum(len(r) for r in splits.values())
    notes = [f'CVM stage kept for {with_cvm} of {total} images',
             f'pixel spacing from {machines[0]}' if machines else
             f'no pixel spacing (no {MACHINE_CSV} in the root, no --machine-csv): the metric '
             'will be in pixels']
    folders = split_folders(args.root)
    origins = {s: osp.join(args.root, f) for s, f in folders.items() if s in splits}
    return write_dataset(splits, args.out, names, skeleton, args.roi, args.roi_margin, 'aariz',
                         origins=origins, reference=args.annotator,
                         margin_px=args.roi_margin_px, notes=notes)


def add_parser(sub):
    p = sub.add_parser('aariz', help='Aariz (train/valid/test with per-image JSON)',
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--root', required=True,
                   help='the release folder holding train/, valid/, test/ (any case) and '
                        f'{MACHINE_CSV}')
    p.add_argument('--annotator', choices=['senior', 'junior', 'mean'], default='senior',
                   help='whose landmarks: senior (default), junior, or mean of both (needs '
                        'both folders); recorded as "reference" in every JSON')
    p.add_argument('--machine-csv', default=None,
                   help=f'a machine table like {MACHINE_CSV} (per-image pixel_size in mm), used '
                        f'instead of ROOT/{MACHINE_CSV}; with neither no spacing is written')
    p.add_argument('--allow-missing', action='store_true',
                   help='convert annotation files that lack some of the 29 landmarks (written '
                        'as missing) instead of refusing them: the release labels every point')
    add_dedupe_arg(p)
    add_output_args(p)
    p.set_defaults(func=run)
