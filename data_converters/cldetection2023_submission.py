"""A test run's predictions -> CL-Detection 2023's submission JSON (the release's format).

Input: the predictions dump of a test run (``CephalometricMetric(outfile_prefix=...)``,
e.g. ``mim test ... --cfg-options test_evaluator.outfile_prefix=work_dirs/x/test``
writes ``work_dirs/x/test.predictions.json``) and the annotation file that run was
tested on (the converter's ``annotations/test.json``): the dump names each image by its
id, the annotation file gives that image's slice in the stack and its spacing.

Output, as train-gt.json is released and as submissions are made:
``{"points": [{"name": 1, "point": [x, y, z], "scale": "0.1"}, ...]}`` -- ``name`` the
landmark number 1..38 (an integer), x, y in pixels of the image, z the 1-based slice of
the stack the image came from, ``scale`` the image's spacing in mm/px as a string; ordered
by slice, then landmark. Refused with one line naming the file (nothing written): a dump
of another landmark set, an image the annotation file does not have, an image without a
slice (not a CL-Detection conversion) or with an anisotropic or implausible spacing, a
prediction that is not 38 finite points.
"""
import argparse
import json
import math
import os.path as osp

from mmceph.formats.coco import load_coco_json
from mmceph.formats.spacing import spacing_problem
from mmceph.utils.atomic import write_atomic

from .errors import ConversionError, read_utf8_text
from .landmarks import load


def read_dump(path, keypoints):
    """The metric's predictions dump, checked to be of ``keypoints`` (names, in order)."""
    try:
        doc = json.loads(read_utf8_text(path, 'the predictions dump'))
    except json.JSONDecodeError as err:
        raise ConversionError(path, f'not valid JSON: {err.msg}', line=err.lineno) from None
    if not isinstance(doc, dict) or not isinstance(doc.get('images'), list):
        raise ConversionError(path, 'expected a predictions dump {"keypoint_names": [...], '
                              '"images": [...]} (CephalometricMetric outfile_prefix)')
    names = doc.get('keypoint_names')
    if names != list(keypoints):
        shown = f'{len(names)} landmarks' if isinstance(names, list) else repr(names)
        raise ConversionError(path, f'keypoint_names are not the {len(keypoints)} CL-Detection '
                              f'2023 landmarks in their order (got {shown:.80})')
    if not doc['images']:
        raise ConversionError(path, 'no image in the dump')
    return doc


def submission_points(dump, dump_path, ann, ann_path, count):
    """The release's ``points`` list for every image of the dump."""
    images = {img['id']: img for img in ann['images']}
    rows = []
    for i, item in enumerate(dump['images']):
        where = f'images[{i}]'
        img = images.get(item.get('img_id') if isinstance(item, dict) else None)
        if img is None:
            raise ConversionError(dump_path, f'{where}: image id {item.get("img_id")!r} is not '
                                  f'in {ann_path} (give the annotation file the run was '
                                  'tested on)')
        if osp.basename(str(item.get('img_path', ''))) != osp.basename(img['file_name']):
            raise ConversionError(dump_path, f'{where}: image {item.get("img_path")!r} is '
                                  f'{img["file_name"]!r} in {ann_path}: another annotation '
                                  'file than the run was tested on')
        z = img.get('slice')
        if isinstance(z, bool) or not isinstance(z, int) or z < 1:
            raise ConversionError(ann_path, f'image {img["file_name"]} has no slice number '
                                  '(not written by the cldetection2023 converter)')
        spacing = img.get('pixel_spacing') or [None, None]
        problem = spacing_problem(spacing[0])
        if problem or spacing[0] != spacing[1]:
            raise ConversionError(ann_path, f'image {img["file_name"]}: the submission needs '
                                  f'one spacing per image, got {spacing!r}' +
                                  (f' ({problem})' if problem else ''))
        pred = item.get('pred')
        if not (isinstance(pred, list) and len(pred) == count and all(
                isinstance(p, list) and len(p) == 2 and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for v in p) for p in pred)):
            raise ConversionError(dump_path, f'{where} ({img["file_name"]}): "pred" must be '
                                  f'{count} finite [x, y] points')
        rows.append((z, [dict(name=k + 1, point=[float(x), float(y), z],
                              scale=str(float(spacing[0])))
                         for k, (x, y) in enumerate(pred)]))
    slices = [z for z, _ in rows]
    if len(set(slices)) != len(slices):
        twice = sorted({z for z in slices if slices.count(z) > 1})
        raise ConversionError(dump_path, f'slice(s) {", ".join(map(str, twice[:5]))} predicted '
                              'twice')
    return [p for _, points in sorted(rows, key=lambda r: r[0]) for p in points]


def write_submission(predictions, annotations, out):
    """Read, check, then write ``out`` atomically; return the number of images."""
    keypoints = load('cldetection2023').KEYPOINTS
    dump = read_dump(predictions, keypoints)
    ann = load_coco_json(annotations, len(keypoints))     # its errors name the file
    points = submission_points(dump, predictions, ann, annotations, len(keypoints))
    write_atomic(out, json.dumps(dict(points=points), indent=1))
    return len(points) // len(keypoints)


def run(args):
    n = write_submission(args.predictions, args.annotations, args.out)
    print(f'wrote {args.out}: {n} images x 38 landmarks in the CL-Detection 2023 format')


def add_parser(sub):
    p = sub.add_parser('cldetection2023-submission',
                       help='a test run\'s predictions as a CL-Detection 2023 submission JSON',
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--predictions', required=True,
                   help='the test run\'s *.predictions.json (CephalometricMetric outfile_prefix)')
    p.add_argument('--annotations', required=True,
                   help='the annotation file of that run (the converter\'s annotations/test.json)')
    p.add_argument('--out', required=True, help='the submission JSON to write')
    p.set_defaults(func=run)
