"""ISBI 2015 cephalometric challenge -> COCO-keypoint JSON.

Reads ROOT/RawImage/{TrainingData,Test1Data,Test2Data}/NNN.<bmp|jpg|png|...> and
ROOT/AnnotationsByMD/400_senior|400_junior/NNN.txt (19 lines "x,y" in pixel indices, then
the 8 class labels ANB, SNB, SNA, ODI, APDI, FHI, FMA, MW). Writes
OUT/annotations/{train,val,test1,test2}.json for the splits present, with file_name
relative to ROOT, pixel spacing 0.1 mm, and the class labels as the image field
"isbi_classes".

Validation split: 20 of the 150 training images (ids 003 031 032 042 043 050 054 055 061
063 064 070 099 103 105 112 118 129 133 147) go to val.json, the other 130 to train.json,
so that checkpoints and recipes are chosen without looking at Test1. The ids are the
seeded draw ``seeded_split(150, 20/150, 0, seed=2015)`` over 001..150 (a fixed rule, not
a choice made after seeing results); neither 038 nor 144, the two training radiographs
duplicated in Test1, is among them. --val-split none keeps all 150 in train.json (the
literature's protocol, which then selects on Test1).

Annotator: the default is the senior orthodontist, because the challenge's own ground
truth equals the senior annotation. Papers differ: many average the two annotators
(--annotator mean: the exact mean (senior + junior) / 2, not rounded), some use the senior
only; the two references differ by about 1.2 mm on Test1, as much as published methods
differ, so say which you used when you compare results. Every JSON records it ("reference":
senior, junior or mean, in "info" and in every image), the metric logs it. With "mean", a
class label is kept only where the senior and the junior agree (labels where they
disagree are left out of isbi_classes); with "junior" the classes are the junior's lines.
When both annotator folders are present, every image also keeps both annotators' points
(image field "annotators": {"senior": [[x, y] x 19], "junior": [...]}) whatever
--annotator says, so one JSON can train on the senior, the junior, their mean or a random
one of the two per sample (the PickAnnotator transform, mmceph.datasets).
"""
import argparse
import os.path as osp
import re

import numpy as np
from tqdm import tqdm

from .errors import ConversionError, read_utf8_text
from .images import add_dedupe_arg, image_size, list_images, warn_duplicates
from .landmarks import names_and_skeleton
from .writer.coco import ImageRecord
from .writer.dataset import add_output_args, write_dataset

SPLIT_FOLDERS = {'train': 'TrainingData', 'test1': 'Test1Data', 'test2': 'Test2Data'}
ANNOTATOR_FOLDERS = {'senior': '400_senior', 'junior': '400_junior'}
CLASS_NAMES = ['ANB', 'SNB', 'SNA', 'ODI', 'APDI', 'FHI', 'FMA', 'MW']
NUM_LANDMARKS = 19
SPACING_MM = 0.1
VAL_SEED = 2015
VAL_COUNT = 20
# seeded_split(150, VAL_COUNT / 150, 0, VAL_SEED) over ids 1..150 (a test re-derives it)
VAL_IDS = frozenset({3, 31, 32, 42, 43, 50, 54, 55, 61, 63, 64, 70, 99, 103, 105, 112, 118,
                     129, 133, 147})


# "x,y" or "x y": ASCII decimal numbers, separated by one comma or by blanks (spaces, tabs)
_NUMBER = r'[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?'
_POINT = re.compile(rf'[ \t]*({_NUMBER})(?:[ \t]*,[ \t]*|[ \t]+)({_NUMBER})[ \t]*', re.ASCII)
_CLASS = re.compile(r'[ \t]*([+-]?\d{1,9})[ \t]*', re.ASCII)


def read_annotation(path):
    """Parse one txt: return ``(points (19, 2) float, classes dict)``.

    The file is UTF-8 (a byte-order mark is allowed) with any line ending: 19 lines
    "x,y" (or "x y") of finite decimal numbers, then the 8 integer class labels.
    Trailing blank lines are ignored; anything else is an error that names the file and
    the 1-based line.
    """
    text = read_utf8_text(path, 'annotation')
    # universal newlines, as text mode reads them; split on line feeds only, so the line
    # numbers are the ones an editor shows
    lines = text.replace('\r\n', '\n').replace('\r', '\n').rstrip().split('\n')
    expected = NUM_LANDMARKS + len(CLASS_NAMES)
    if len(lines) < expected:
        raise ConversionError(path, f'too few lines: {len(lines)}, expected {NUM_LANDMARKS} "x,y" '
                              f'lines then {len(CLASS_NAMES)} class lines', line=len(lines) + 1)
    if len(lines) > expected:
        raise ConversionError(path, f'too many lines: {len(lines)}, expected {NUM_LANDMARKS} '
                              f'"x,y" lines then {len(CLASS_NAMES)} class lines',
                              line=expected + 1)
    points = np.empty((NUM_LANDMARKS, 2))
    for i, line in enumerate(lines[:NUM_LANDMARKS]):
        match = _POINT.fullmatch(line)
        points[i] = (float(match[1]), float(match[2])) if match else (np.nan, np.nan)
        if not np.isfinite(points[i]).all():
            raise ConversionError(path, f'expected "x,y", got {line!r}', line=i + 1)
    classes = {}
    for i, name in enumerate(CLASS_NAMES, start=NUM_LANDMARKS):
        match = _CLASS.fullmatch(lines[i])
        if not match:
            raise ConversionError(path, f'expected the integer {name} class, got {lines[i]!r}',
                                  line=i + 1)
        classes[name] = int(match[1])
    return points, classes


def load_annotation(ann_dirs, stem, annotator):
    """Points and classes of one image for the chosen annotator (or their mean), and
    ``{annotator: (19, 2) points}`` of every annotator in ``ann_dirs``."""
    read = {a: read_annotation(osp.join(folder, f'{stem}.txt')) for a, folder in ann_dirs.items()}
    points = {a: p for a, (p, _) in read.items()}
    if annotator != 'mean':
        return (*read[annotator], points)
    (p_s, c_s), (p_j, c_j) = read['senior'], read['junior']
    return (p_s + p_j) / 2, {k: v for k, v in c_s.items() if c_j[k] == v}, points


def check_folder(path, what):
    if not osp.isdir(path):
        raise ConversionError(path, f'{what} folder not found')


def val_stem(stem):
    """Whether a TrainingData image belongs to the validation split (its id in VAL_IDS)."""
    return stem.isdigit() and int(stem) in VAL_IDS


def collect(root, annotator, val_split=True):
    """Validate the layout and build ``{split: [ImageRecord]}``; writes nothing.

    With ``val_split``, the training images whose id is in VAL_IDS form the ``val`` split.
    """
    check_folder(root, 'ISBI 2015 root')
    raw = osp.join(root, 'RawImage')
    check_folder(raw, 'image')
    folders = {s: f for s, f in SPLIT_FOLDERS.items() if osp.isdir(osp.join(raw, f))}
    if not folders:
        raise ConversionError(raw, 'no split folder found (expected any of '
                              + ', '.join(SPLIT_FOLDERS.values()) + ')')
    needed = ['senior', 'junior'] if annotator == 'mean' else [annotator]
    ann_dirs = {a: osp.join(root, 'AnnotationsByMD', ANNOTATOR_FOLDERS[a]) for a in needed}
    for a, folder in ann_dirs.items():
        check_folder(folder, f'{a} annotator ({ANNOTATOR_FOLDERS[a]})')
    for a in ANNOTATOR_FOLDERS:    # the other annotator, when the release has it
        other = osp.join(root, 'AnnotationsByMD', ANNOTATOR_FOLDERS[a])
        if a not in ann_dirs and osp.isdir(other):
            ann_dirs[a] = other
    todo = [(split, folder, stem, name) for split, folder in folders.items()
            for stem, name in list_images(osp.join(raw, folder)).items()]
    splits = {s: [] for s in folders}
    if val_split and 'train' in splits:
        splits['val'] = []
    for split, folder, stem, name in tqdm(todo, desc='isbi2015', unit='img'):
        if split == 'train' and val_split and val_stem(stem):
            split = 'val'
        path = osp.join(raw, folder, name)
        width, height = image_size(path)
        points, classes, by_annotator = load_annotation(ann_dirs, stem, annotator)
        extra = dict(isbi_classes=classes)
        if len(by_annotator) == len(ANNOTATOR_FOLDERS):    # both: PickAnnotator can choose
            extra['annotators'] = {a: p.tolist() for a, p in by_annotator.items()}
        for a, p in by_annotator.items():
            ImageRecord(f'RawImage/{folder}/{name}', width, height, p, None, '').check_inside(
                osp.join(ann_dirs[a], f'{stem}.txt'))
        rec = ImageRecord(f'RawImage/{folder}/{name}', width, height, points,
                          (SPACING_MM, SPACING_MM), 'isbi2015', extra=extra)
        splits[split].append(rec)
    return splits


def run(args):
    splits = warn_duplicates(collect(args.root, args.annotator, args.val_split == 'isbi20'),
                             args.root, args.dedupe)
    names, skeleton = names_and_skeleton('isbi2015')
    raw = osp.join(args.root, 'RawImage')
    origins = {s: osp.join(raw, f) for s, f in SPLIT_FOLDERS.items() if osp.isdir(osp.join(raw, f))}
    origins['val'] = origins.get('train')
    info = dict(val_split=(f'ids {sorted(VAL_IDS)} of TrainingData (seed {VAL_SEED})'
                           if args.val_split == 'isbi20' else 'none (all training images)'))
    return write_dataset(splits, args.out, names, skeleton, args.roi, args.roi_margin, 'isbi2015',
                         origins=origins, reference=args.annotator, margin_px=args.roi_margin_px,
                         info=info)


def add_parser(sub):
    p = sub.add_parser('isbi2015', help='ISBI 2015 challenge (RawImage/ + AnnotationsByMD/)',
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--root', required=True,
                   help='dataset root holding RawImage/ and AnnotationsByMD/')
    p.add_argument('--annotator', choices=['senior', 'junior', 'mean'], default='senior',
                   help='whose landmarks: senior (default; the challenge\'s ground truth), '
                        'junior, or mean = average of both (needs both folders); recorded as '
                        '"reference" in every JSON')
    p.add_argument('--val-split', choices=['isbi20', 'none'], default='isbi20',
                   help='isbi20 (default): the 20 fixed training ids listed above go to '
                        'val.json, for selection without Test1; none: all training images '
                        'stay in train.json (literature protocol, selects on Test1)')
    add_dedupe_arg(p)
    add_output_args(p)
    p.set_defaults(func=run)
