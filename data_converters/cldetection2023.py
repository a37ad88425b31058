"""CL-Detection 2023 (MICCAI challenge) -> PNG images + COCO-keypoint JSON.

The training release is ONE ITK stack, train_stack.mha: slice z (1-based) is image z,
zero-padded at the bottom and right to the stack's common size (2400x2880x3 as released).
The padding is cut off per slice (everything after the last row and the last column that
hold a non-zero pixel, as the challenge's own baseline does), and each image is written as
OUT/images/<z, 3 digits>.png (8-bit; one grey channel when the three are equal). The stack
is read one slice at a time with SimpleITK, so 400 slices never sit in memory together.

Labels (train-gt.json), as released: {"points": [{"name": 1, "point": [x, y, z],
"scale": "0.1"}, ...]}: "name" is the landmark number 1..38 (an integer; the string "1"
is read too), "scale" the image's spacing in mm/px as a JSON string ("0.1", "0.125",
"0.096"; a number is read too). x, y are pixels of slice z. The scale repeats on every
point: points of one image that disagree are refused, not averaged. Every released image
has all 38 points, so an image with fewer is refused, naming it and every landmark it
lacks (a damaged or edited file); --allow-missing converts it with those points missing
(v=0). Refused as well, naming the file: a scale that is not a number of mm/px in
mmceph's plausible range (mmceph.formats.spacing), a label for a slice the stack does not
have, a slice without any label, an unknown landmark name, two points with one name in
one image, a point outside its image once the padding is cut off.

Splits: the release has one pool of 400 labelled images.
  --split baseline2023  the official baselines' split, reproduced exactly: Python's
                        random.seed(2023), then random.shuffle of the list of image ids
                        [1, 2, ..., 400] (the 1-based slice numbers); the first 300 are
                        train, the next 50 val, the last 50 test (first rows 104, 99,
                        278). Their published numbers (MRE 2.199 mm) are only comparable
                        on this split; it is recorded in every JSON's info.split.
  (default) seeded      a numpy-seeded random split (--seed, --val-fraction,
                        --test-fraction; default 300/50/50, the baselines' proportions
                        but NOT their draw: only about 15 of its 50 val images are theirs).
  --split-file F        a JSON {"train": [z, ...], "val": [...], "test": [...]} naming
                        every labelled slice once.
Writes OUT/annotations/{train,val,test}.json with file_name relative to OUT, and the ROI
prior from the training split. For a submission in the challenge's format from a test
run, see `python -m data_converters cldetection2023-submission --help`.
"""
import argparse
import json
import math
import os
import os.path as osp
import random
import shutil
import tempfile
from collections import defaultdict

import numpy as np
from PIL import Image
from tqdm import tqdm

from mmceph.formats.spacing import SPACING_RANGE_MM, parse_spacing_mm

from .errors import ConversionError, read_utf8_text
from .landmarks import load, names_and_skeleton, refuse_shortfall
from .splits import seed_arg, seeded_split
from .writer.coco import ImageRecord
from .writer.dataset import add_output_args, swap_in_folder, write_dataset

DEFAULT_VAL, DEFAULT_TEST, DEFAULT_SEED = 0.125, 0.125, 2023
SPLITS = ('train', 'val', 'test')
BASELINE_IMAGES, BASELINE_SEED, BASELINE_SIZES = 400, 2023, (300, 50, 50)
BASELINE_PROVENANCE = ('baseline2023: the official baselines\' split (Python random.seed(2023), '
                       'random.shuffle of the image ids 1..400; first 300 train, next 50 val, '
                       'last 50 test)')


def baseline_split():
    """``{z: split}`` of the official baselines: Python's Mersenne Twister seeded with 2023
    shuffles the list [1, ..., 400] of image ids (= 1-based slices); 300/50/50 in order."""
    ids = list(range(1, BASELINE_IMAGES + 1))
    random.Random(BASELINE_SEED).shuffle(ids)      # = random.seed(2023); random.shuffle(ids)
    n_train, n_val, _ = BASELINE_SIZES
    return {z: 'train' if i < n_train else 'val' if i < n_train + n_val else 'test'
            for i, z in enumerate(ids)}


def landmark_number(name, count):
    """The 1-based landmark number of a label's "name": an integer 1..count, or the same
    number written as a string; None for anything else."""
    if isinstance(name, str) and name.strip().isdigit():
        name = int(name.strip())
    if isinstance(name, bool) or not isinstance(name, int) or not 1 <= name <= count:
        return None
    return name


def _finite(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def read_labels(path, label_names):
    """Parse train-gt.json: ``{z: (points (K, 2) with NaN = missing, spacing mm)}``."""
    try:
        doc = json.loads(read_utf8_text(path, 'the labels'))
    except json.JSONDecodeError as err:
        raise ConversionError(path, f'not valid JSON: {err.msg}', line=err.lineno) from None
    points = doc.get('points') if isinstance(doc, dict) else None
    if not isinstance(points, list):
        raise ConversionError(path, 'expected {"points": [...]} at the top level')
    count = len(label_names)
    images = defaultdict(lambda: [np.full((count, 2), np.nan), {}])
    for i, p in enumerate(points):
        where = f'points[{i}]'
        if not isinstance(p, dict):
            raise ConversionError(path, f'{where}: expected an object, got {type(p).__name__}')
        number, point, scale = landmark_number(p.get('name'), count), p.get('point'), \
            p.get('scale')
        if number is None:
            raise ConversionError(path, f'{where}: unknown landmark name {p.get("name")!r} '
                                  f'(expected 1..{count})')
        name = label_names[number - 1]
        if not (isinstance(point, list) and len(point) == 3 and all(map(_finite, point))):
            raise ConversionError(path, f'{where} (landmark {name}): "point" must be [x, y, z] '
                                  f'finite numbers, got {point!r}')
        z = point[2]
        if z != int(z) or z < 1:
            raise ConversionError(path, f'{where} (landmark {name}): z must be the 1-based '
                                  f'slice number, got {z!r}')
        spacing = parse_spacing_mm(scale)
        if spacing is None:
            lo, hi = SPACING_RANGE_MM
            raise ConversionError(path, f'{where} (landmark {name}): "scale" must be the '
                                  f'spacing in mm/px, a number or numeric string between '
                                  f'{lo:g} and {hi:g}, got {scale!r}')
        kpts, scales = images[int(z)]
        k = number - 1
        if not np.isnan(kpts[k, 0]):
            raise ConversionError(path, f'{where}: landmark {name} of image {int(z)} is given '
                                  'twice')
        kpts[k] = point[:2]
        scales.setdefault(spacing, []).append(name)
    labels = {}
    for z, (kpts, scales) in sorted(images.items()):
        if len(scales) > 1:
            detail = '; '.join(f'{s:g} mm/px for landmark(s) {", ".join(n[:5])}'
                               + ('...' if len(n) > 5 else '') for s, n in scales.items())
            raise ConversionError(path, f'image {z}: its points disagree on the pixel spacing '
                                  f'({detail})')
        labels[z] = (kpts, next(iter(scales)))
    if not labels:
        raise ConversionError(path, 'no points at all')
    return labels


class Stack:
    """An ITK image stack read one slice at a time (SimpleITK's streaming reader)."""

    def __init__(self, path):
        import SimpleITK as sitk
        self.path, self._sitk = path, sitk
        if not osp.isfile(path):
            raise ConversionError(path, 'image stack not found')
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        try:
            reader.ReadImageInformation()
        except RuntimeError as err:
            raise ConversionError(path, f'not a readable ITK image: {_first_line(err)}') from None
        size = reader.GetSize()
        if len(size) != 3:
            raise ConversionError(path, f'expected a 3-D stack of 2-D images, got {len(size)}-D '
                                  f'size {size}')
        self.width, self.height, self.count = size
        self.channels = reader.GetNumberOfComponents()
        if self.channels not in (1, 3):
            raise ConversionError(path, f'{self.channels} channels per pixel; expected 1 or 3')
        self.reader = reader

    def slice(self, z):
        """Slice ``z`` (1-based) as an (H, W) or (H, W, 3) uint8 array."""
        self.reader.SetExtractIndex((0, 0, z - 1))
        self.reader.SetExtractSize((self.width, self.height, 1))
        try:
            arr = self._sitk.GetArrayFromImage(self.reader.Execute())[0]
        except RuntimeError as err:
            raise ConversionError(self.path, f'cannot read slice {z}: {_first_line(err)}') from None
        if arr.dtype != np.uint8:
            raise ConversionError(self.path, f'pixel type {arr.dtype}; expected 8-bit images')
        return arr


def _first_line(err):
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[-1] if lines else type(err).__name__


def cut_padding(arr):
    """The image without the zero rows below and zero columns right of its content."""
    mask = arr.any(axis=2) if arr.ndim == 3 else arr > 0
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return arr[:rows[-1] + 1, :cols[-1] + 1]


def read_split_file(path, slices):
    """``{z: split}`` from a split JSON naming every labelled slice exactly once."""
    try:
        doc = json.loads(read_utf8_text(path, 'the split file'))
    except json.JSONDecodeError as err:
        raise ConversionError(path, f'not valid JSON: {err.msg}', line=err.lineno) from None
    if not isinstance(doc, dict) or set(doc) - set(SPLITS):
        raise ConversionError(path, 'expected {"train": [z, ...], "val": [...], "test": [...]}')
    assigned = {}
    for split, zs in doc.items():
        if not isinstance(zs, list) or not all(isinstance(z, int) and not isinstance(z, bool)
                                               for z in zs):
            raise ConversionError(path, f'"{split}" must be a list of slice numbers')
        for z in zs:
            if z not in slices:
                raise ConversionError(path, f'"{split}" names slice {z}, which has no labels')
            if z in assigned:
                raise ConversionError(path, f'slice {z} is in "{assigned[z]}" and "{split}"')
            assigned[z] = split
    left = sorted(set(slices) - set(assigned))
    if left:
        raise ConversionError(path, f'{len(left)} labelled slice(s) in no split, e.g. '
                              + ', '.join(map(str, left[:5])))
    return assigned


def assign_splits(args, slices):
    """``({z: split}, provenance text)`` from --split / --split-file / the seeded split."""
    seeded_options = (args.val_fraction, args.test_fraction, args.seed)
    if args.split == 'baseline2023':
        if args.split_file or any(v is not None for v in seeded_options):
            raise ValueError('--split baseline2023 defines the splits; leave out --split-file, '
                             '--val-fraction, --test-fraction and --seed')
        if list(slices) != list(range(1, BASELINE_IMAGES + 1)):
            raise ConversionError(args.labels, f'--split baseline2023 needs the '
                                  f'{BASELINE_IMAGES} released training images (slices '
                                  f'1..{BASELINE_IMAGES}); these labels have {len(slices)} '
                                  f'(slices {slices[0]}..{slices[-1]})')
        return baseline_split(), BASELINE_PROVENANCE
    if args.split_file:
        if any(v is not None for v in seeded_options):
            raise ValueError('--split-file defines the splits; leave out --val-fraction, '
                             '--test-fraction and --seed')
        return read_split_file(args.split_file, slices), f'split file {args.split_file}'
    seed = DEFAULT_SEED if args.seed is None else args.seed
    names = seeded_split(len(slices), DEFAULT_VAL if args.val_fraction is None
                         else args.val_fraction, DEFAULT_TEST if args.test_fraction is None
                         else args.test_fraction, seed)
    return dict(zip(slices, names)), (f'seeded (numpy, seed {seed}); not the official '
                                      'baselines\' split (--split baseline2023)')


def convert(stack, labels, labels_path, image_dir, split_of, names):
    """Cut, check and write every slice; return ``{split: [ImageRecord]}``."""
    splits = {s: [] for s in SPLITS}
    for z in tqdm(sorted(labels), desc='cldetection2023', unit='img'):
        kpts, spacing = labels[z]
        arr = cut_padding(stack.slice(z))
        if arr is None:
            raise ConversionError(stack.path, f'slice {z} is all zero (an empty image)')
        if arr.ndim == 3 and (arr == arr[..., :1]).all():
            arr = arr[..., 0]               # grey radiograph stored as RGB: one channel
        name = f'images/{z:03d}.png'
        rec = ImageRecord(name, arr.shape[1], arr.shape[0], kpts, (spacing, spacing),
                          'cldetection2023', extra=dict(slice=z), origin=labels_path, row=z)
        bad = rec.outside()
        if len(bad):
            raise ConversionError(labels_path, f'image {z} ({rec.width}x{rec.height} once its '
                                  'zero padding is cut off): ' + '; '.join(
                                      f'landmark {names[k]} at ({kpts[k, 0]:g}, {kpts[k, 1]:g})'
                                      for k in bad) + ' lie(s) on the padding or outside')
        Image.fromarray(np.ascontiguousarray(arr)).save(osp.join(image_dir, name[7:]),
                                                        compress_level=1)
        splits[split_of[z]].append(rec)
    return splits


def run(args):
    meta = load('cldetection2023')
    label_names = meta.LABEL_NAMES
    labels = read_labels(args.labels, label_names)
    stack = Stack(args.stack)
    beyond = [z for z in labels if z > stack.count]
    if beyond:
        raise ConversionError(args.labels, f'labels for slice(s) {", ".join(map(str, beyond[:5]))} '
                              f'but the stack {args.stack} has {stack.count} slices')
    unlabelled = sorted(set(range(1, stack.count + 1)) - set(labels))
    if unlabelled:
        raise ConversionError(args.labels, f'no labels for slice(s) '
                              f'{", ".join(map(str, unlabelled[:5]))} of the stack {args.stack} '
                              '(a slice without landmarks cannot be trained or scored)')
    if not args.allow_missing:
        short = []
        for z, (points, _) in sorted(labels.items()):
            lacking = np.flatnonzero(np.isnan(points[:, 0]))
            if len(lacking):
                short.append((args.labels, f'image {z}', [
                    f'{label_names[k]} ({meta.KEYPOINTS[k]})' for k in lacking]))
        refuse_shortfall(short, len(label_names), 'CL-Detection 2023')
    split_of, provenance = assign_splits(args, sorted(labels))
    names, skeleton = names_and_skeleton('cldetection2023')
    os.makedirs(args.out, exist_ok=True)
    stage = tempfile.mkdtemp(prefix='.images-new-', dir=args.out)
    try:
        splits = convert(stack, labels, args.labels, stage, split_of, label_names)
        summary = write_dataset(splits, args.out, names, skeleton, args.roi, args.roi_margin,
                                'cldetection2023', origins={s: args.labels for s in SPLITS},
                                margin_px=args.roi_margin_px, notes=[f'split: {provenance}'],
                                info=dict(split=provenance))
        swap_in_folder(stage, osp.join(args.out, 'images'))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return summary


def add_parser(sub):
    p = sub.add_parser('cldetection2023',
                       help='CL-Detection 2023 (train_stack.mha + train-gt.json)',
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--stack', required=True, help='the ITK image stack (train_stack.mha)')
    p.add_argument('--labels', required=True, help='the landmark labels (train-gt.json)')
    p.add_argument('--split', choices=['seeded', 'baseline2023'], default='seeded',
                   help='baseline2023: the official baselines\' 300/50/50 split, exactly '
                        '(their 2.199 mm MRE is only comparable on it); seeded (default): a '
                        'numpy-seeded random split (see --seed and the fractions)')
    p.add_argument('--split-file', default=None,
                   help='JSON {"train": [z...], "val": [...], "test": [...]} (1-based slices) '
                        'instead of the seeded split')
    p.add_argument('--allow-missing', action='store_true',
                   help='convert images that lack some of the 38 landmarks (written as '
                        'missing) instead of refusing them: the release labels every point')
    p.add_argument('--val-fraction', type=float, default=None,
                   help=f'seeded split: fraction of images for val (default: {DEFAULT_VAL})')
    p.add_argument('--test-fraction', type=float, default=None,
                   help=f'seeded split: fraction of images for test (default: {DEFAULT_TEST})')
    p.add_argument('--seed', type=seed_arg, default=None,
                   help=f'seed of the split (default: {DEFAULT_SEED})')
    add_output_args(p)
    p.set_defaults(func=run)
