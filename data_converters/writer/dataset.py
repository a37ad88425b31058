"""Turn converted records into the output folder every converter writes:

    OUT/annotations/<split>.json   COCO-keypoint JSON, one per split
    OUT/roi_prior.json             the ROI prior (training split only), when --roi prior
    OUT/roi_upstream.json          WebCeph2k's absolute-pixel ROI, when --roi upstream

Everything is validated before the first file is written, and each file is written
atomically, so bad input leaves no partial output.

Rerunning into an existing OUT replaces the converter's outputs as a set (no
--overwrite needed): ``annotations/`` is written into a hidden folder beside it and swapped
in whole, so a split of an earlier run (say test2.json) never survives next to this run's;
a ROI file this run does not write is removed. Other files in OUT (e.g. an ``images``
link the user made) are left alone.
"""
import argparse
import hashlib
import os
import os.path as osp
import shutil
import tempfile
from collections import defaultdict

import numpy as np

from ..errors import ConversionError
from .coco import to_coco, write_json_atomic
from .roi import (
    apply_roi,
    apply_roi_upstream,
    compute_roi_prior,
    compute_roi_upstream,
    save_roi_prior,
    save_roi_upstream,
)

TRAIN_SPLIT = 'train'


def roi_margin(text):
    """argparse type of --roi-margin: a finite fraction >= 0 (NaN would write NaN boxes,
    a negative margin cuts training landmarks out of the box or turns it inside out)."""
    try:
        value = float(text)
    except ValueError:
        value = float('nan')
    if not (np.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f'expected a finite number >= 0, got {text!r}')
    return value


def add_output_args(parser, roi_default='prior'):
    parser.add_argument('--out', required=True,
                        help='output folder (annotations/ and roi_prior.json go here). A rerun '
                             'replaces the previous outputs as a whole: annotations/ is swapped '
                             'in complete (no split file of an earlier run survives) and a ROI '
                             'file this run does not write is removed; other files are kept. '
                             'A run that fails leaves OUT as it was (folders it created are '
                             'removed)')
    parser.add_argument('--roi', choices=['prior', 'upstream', 'none'], default=roi_default,
                        help='bbox of every image: "prior" = box of all TRAINING landmarks in '
                             'normalised coordinates plus --roi-margin, saved as '
                             'OUT/roi_prior.json (the datasets and inference use it); '
                             '"upstream" = WebCeph2k\'s own box in absolute pixels plus '
                             '--roi-margin-px, clipped to each image, saved as '
                             'OUT/roi_upstream.json (poor on datasets of several image sizes); '
                             '"none" = the full image (default: %(default)s)')
    parser.add_argument('--roi-margin', type=roi_margin, default=0.05,
                        help='margin of the ROI prior on each side, as a fraction of the '
                             'image size (default: %(default)s)')
    parser.add_argument('--roi-margin-px', type=roi_margin, default=10,
                        help='margin of --roi upstream on each side, in pixels (default: '
                             '%(default)s, as upstream)')


def duplicate_groups(splits, image_root):
    """Groups of byte-identical image files that appear in more than one split.

    Returns a list of lists of ``(split, file_name)``.
    """
    by_hash = defaultdict(list)
    for split, records in splits.items():
        for rec in records:
            with open(osp.join(image_root, rec.file_name), 'rb') as f:
                digest = hashlib.sha1(f.read()).hexdigest()
            by_hash[digest].append((split, rec.file_name))
    return [g for g in by_hash.values() if len({s for s, _ in g}) > 1]


def drop_duplicates(splits, groups):
    """Keep the first copy of each duplicated image (in split order), drop the others
    from later splits, so the same radiograph is never both trained on and tested."""
    drop = {(s, f) for g in groups for s, f in g[1:]}
    return {s: [r for r in recs if (s, r.file_name) not in drop] for s, recs in splits.items()}


def _input_error(origins, split, message):
    """An error about the data as a whole, naming the input it comes from: ``origins``
    maps each split to its input file or folder (all of them are named when ``split`` has
    none); without ``origins`` a plain ValueError."""
    if not origins:
        return ValueError(message)
    where = origins.get(split) or ', '.join(sorted({str(p) for p in origins.values()}))
    return ConversionError(where, message)


def write_dataset(splits, out, names, skeleton, roi_mode='prior', margin=0.05, source='',
                  origins=None, reference='released', margin_px=10, notes=(), info=None):
    """Write every split's JSON (and the ROI file); print and return a summary dict.

    ``origins`` (``{split: input file or folder}``) lets errors about the data as a whole
    (no image at all, no training image, no labelled training landmark) name the input.
    ``reference`` (whose annotation: senior, junior, mean, released) goes into every JSON
    and the summary; ``notes`` are extra summary lines (e.g. points dropped); ``info``
    extra provenance fields for every JSON's ``info`` (e.g. how the split was drawn).
    """
    splits = {s: r for s, r in splits.items() if r}
    if not splits:
        raise _input_error(origins, None, 'nothing to write: no split has any image')
    roi = None
    if roi_mode in ('prior', 'upstream'):
        if TRAIN_SPLIT not in splits:
            raise _input_error(origins, TRAIN_SPLIT,
                               f'--roi {roi_mode} needs a training split (no training image); '
                               'use --roi none')
        try:
            roi = (compute_roi_prior(splits[TRAIN_SPLIT], margin) if roi_mode == 'prior'
                   else compute_roi_upstream(splits[TRAIN_SPLIT], margin_px))
        except ValueError as err:
            raise _input_error(origins, TRAIN_SPLIT, str(err)) from None
    # Build everything in memory first, then write: nothing half-written on failure.
    docs = {}
    for split, records in splits.items():
        if roi_mode == 'upstream':
            apply_roi_upstream(records, roi)
        else:
            apply_roi(records, roi)
        docs[split] = to_coco(records, names, skeleton, description=f'mmceph {source} {split}',
                              reference=reference)
        docs[split]['info'].update(info or {})
    replace_annotations(docs, out)
    n_train = len(splits.get(TRAIN_SPLIT, ()))
    roi_files = {'prior': osp.join(out, 'roi_prior.json'),
                 'upstream': osp.join(out, 'roi_upstream.json')}
    if roi_mode == 'prior':
        save_roi_prior(roi, roi_files['prior'], margin, n_train)
    elif roi_mode == 'upstream':
        save_roi_upstream(roi, roi_files['upstream'], margin_px, n_train)
    for mode, path in roi_files.items():     # a stale ROI of an earlier run would be used
        if mode != roi_mode and osp.lexists(path):
            os.unlink(path)
    summary = summarise(splits, roi)
    summary.update(reference=reference, roi_mode=roi_mode, notes=list(notes))
    print_summary(summary, out)
    return summary


def replace_annotations(docs, out):
    """Write ``{split: doc}`` as OUT/annotations/<split>.json, replacing the folder whole:
    the new files are written into a hidden folder first and swapped in by renames."""
    os.makedirs(out, exist_ok=True)
    stage = tempfile.mkdtemp(prefix='.annotations-new-', dir=out)
    old = None
    try:
        for split, doc in docs.items():
            write_json_atomic(doc, osp.join(stage, f'{split}.json'))
        os.chmod(stage, 0o777 & ~_umask())
        final = osp.join(out, 'annotations')
        if osp.lexists(final):
            old = tempfile.mkdtemp(prefix='.annotations-old-', dir=out)
            os.replace(final, osp.join(old, 'annotations'))
        try:
            os.replace(stage, final)
        except OSError:
            if old:                     # put the earlier run's files back
                os.replace(osp.join(old, 'annotations'), final)
            raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        if old:
            shutil.rmtree(old, ignore_errors=True)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def summarise(splits, roi):
    all_recs = [r for recs in splits.values() for r in recs]
    missing = sum(int(np.isnan(r.keypoints[:, 0]).sum()) for r in all_recs)
    spacings = sorted({tuple(r.pixel_spacing) if r.pixel_spacing else None for r in all_recs},
                      key=str)
    return dict(images=len(all_recs), landmarks_per_image=len(all_recs[0].keypoints),
                missing_points=missing, splits={s: len(r) for s, r in splits.items()},
                pixel_spacings_mm=spacings, roi_prior=roi)


def print_summary(summary, out):
    print(f"wrote {out}: {summary['images']} images, {summary['landmarks_per_image']} landmarks "
          f"each, {summary['missing_points']} missing points")
    print('  splits: ' + ', '.join(f'{s}={n}' for s, n in summary['splits'].items()))
    print('  pixel spacing (mm): ' + ', '.join(
        'unknown (pixels)' if s is None else f'{s[0]:g}x{s[1]:g}'
        for s in summary['pixel_spacings_mm']))
    if summary.get('reference'):
        print(f"  reference annotation: {summary['reference']}")
    if summary['roi_prior'] is not None:
        what = ('ROI upstream (pixels x0,y0,x1,y1, clipped per image): '
                if summary.get('roi_mode') == 'upstream' else
                'ROI prior (normalised x0,y0,x1,y1): ')
        print('  ' + what + ', '.join(f'{v:.3f}' for v in summary['roi_prior']))
    for note in summary.get('notes', ()):
        print(f'  {note}')


def swap_in_folder(stage, final):
    """Replace the folder ``final`` by ``stage`` (both in one file system) as a whole, so
    no file of an earlier run survives beside this run's (e.g. converted images)."""
    old = None
    if osp.lexists(final):
        old = tempfile.mkdtemp(prefix='.old-', dir=osp.dirname(osp.abspath(final)))
        os.replace(final, osp.join(old, osp.basename(final)))
    try:
        os.replace(stage, final)
        os.chmod(final, 0o777 & ~_umask())
    except OSError:
        if old:
            os.replace(osp.join(old, osp.basename(final)), final)
        raise
    finally:
        if old:
            shutil.rmtree(old, ignore_errors=True)
