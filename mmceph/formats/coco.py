"""The COCO-keypoint annotation schema of mmceph, in one place: what the converters write
(the builders) and what the datasets accept (:func:`validate_coco`). See README "Data
format".

Coordinates are in original-image pixels, a pixel's centre at its integer index. A
missing landmark is ``[0, 0, 0]`` (v=0), a labelled one has v=2. What is checked:

- the top level is an object with the lists ``images``, ``annotations`` and exactly one
  ``categories`` entry (an object with an integer ``id``; its ``keypoints`` names, when
  given, one per keypoint of the dataset);
- ``images[i]``: a unique integer ``id``, a non-empty string ``file_name``, positive
  integer ``width`` and ``height``, and ``pixel_spacing`` absent, ``null`` or
  ``[sx, sy]`` in mm (each within :data:`.spacing.SPACING_RANGE_MM`), ``reference``
  (whose annotation: ``senior``, ``junior``, ``mean``, ``released``) absent or a string;
- ``info.reference``, when ``info`` is there: absent or a string;
- ``annotations[j]``: a unique integer ``id``, an integer ``image_id`` of an image of the
  file, ``category_id`` the category's id, ``keypoints`` ``3 * K`` finite numbers
  (K = the dataset's number of keypoints) with every visibility 0, 1 or 2, ``bbox``
  ``[x, y, w, h]`` finite numbers with ``w > 0`` and ``h > 0``; optional
  ``num_keypoints`` (integer >= 0), ``area`` (finite number >= 0) and ``iscrowd``
  (0/1 or a boolean).

xtcocotools and MMPose assume all of that (a missing key ends in a ``KeyError`` deep
inside them, duplicate ids are dropped silently), so :func:`load_coco_json` parses the
file once, checks it, and the datasets index that same dict.
"""
from typing import Optional, Sequence

from .json_checks import Checker, CocoFormatError, describe, read_json
from .spacing import spacing_problem

__all__ = ['CocoFormatError', 'CATEGORY_ID', 'coco_category', 'coco_image', 'coco_annotation',
           'coco_document', 'validate_coco', 'load_coco_json', 'reference_of']

CATEGORY_ID = 1
VISIBILITIES = (0, 1, 2)     # COCO: not labelled, labelled but hidden, labelled and visible
VISIBLE = 2                     # the converters write every labelled landmark as visible
MISSING_POINT = (0.0, 0.0, 0)   # a landmark the annotation lacks: never invented


# --------------------------------------------------------------------------- writing
def coco_category(keypoint_names: Sequence[str], skeleton: Sequence = ()) -> dict:
    """The one category of an mmceph file; ``skeleton`` as 1-based index pairs."""
    return dict(id=CATEGORY_ID, name='cephalogram', supercategory='cephalogram',
                keypoints=list(keypoint_names), skeleton=[list(p) for p in skeleton])


def coco_image(image_id: int, file_name: str, width: int, height: int, source: str,
               pixel_spacing: Optional[Sequence[float]], reference: Optional[str] = None,
               extra: Optional[dict] = None) -> dict:
    """An ``images`` entry; ``pixel_spacing`` (sx, sy) in mm or None when unknown;
    ``extra``: further image-level fields (e.g. ISBI's classes)."""
    img = dict(id=image_id, file_name=file_name, width=int(width), height=int(height),
               source=source, pixel_spacing=None if pixel_spacing is None
               else [float(s) for s in pixel_spacing])
    if reference is not None:
        img['reference'] = reference
    img.update(extra or {})
    return img


def coco_annotation(ann_id: int, image_id: int, points: Sequence, bbox: Sequence[float]) -> dict:
    """An ``annotations`` entry: ``points`` is one ``(x, y)`` or None (missing) per
    keypoint; ``bbox`` is ``[x, y, w, h]`` in pixels."""
    flat, labelled = [], 0
    for p in points:
        if p is None:
            flat += MISSING_POINT
        else:
            flat += [round(float(p[0]), 3), round(float(p[1]), 3), VISIBLE]
            labelled += 1
    x, y, w, h = (round(float(v), 3) for v in bbox)
    return dict(id=ann_id, image_id=image_id, category_id=CATEGORY_ID, iscrowd=0, keypoints=flat,
                num_keypoints=labelled, bbox=[x, y, w, h],
                area=round(float(bbox[2]) * float(bbox[3]), 3))


def coco_document(images: list, annotations: list, category: dict, description: str = 'mmceph',
                  reference: Optional[str] = None) -> dict:
    """The whole file; ``reference`` (whose annotation) also goes into ``info``."""
    info = dict(description=description)
    if reference is not None:
        info['reference'] = reference
    return dict(info=info, licenses=[], images=images, annotations=annotations,
                categories=[category])


# --------------------------------------------------------------------------- reading
def validate_coco(doc: dict, path: str, num_keypoints: int) -> dict:
    """Check a parsed COCO-keypoint dict (see the module docstring); return it.

    Raises :class:`CocoFormatError` naming ``path`` and the JSON path of the first problem.
    """
    c = Checker(path)
    c.object(doc, '(top level)')
    images = c.list(c.get(doc, 'images', '(top level)'), 'images')
    annotations = c.list(c.get(doc, 'annotations', '(top level)'), 'annotations')
    categories = c.list(c.get(doc, 'categories', '(top level)'), 'categories')

    info = doc.get('info')
    if info is not None:
        c.object(info, 'info')
        c.optional_string(info, 'reference', 'info')

    if len(categories) != 1:
        c.fail('categories', f'expected exactly one category, got {len(categories)}')
    cat = c.object(categories[0], 'categories[0]')
    cat_id = c.integer(c.get(cat, 'id', 'categories[0]'), 'categories[0].id')
    names = c.get(cat, 'keypoints', 'categories[0]', required=False)
    if names is not None:
        c.list(names, 'categories[0].keypoints')
        if len(names) != num_keypoints:
            c.fail('categories[0].keypoints', f'{len(names)} keypoint names, but the dataset '
                   f'has {num_keypoints} keypoints')

    image_ids = set()
    for i, img in enumerate(images):
        where = f'images[{i}]'
        c.object(img, where)
        c.unique_id(img, where, image_ids, 'image')
        name = c.get(img, 'file_name', where)
        if not isinstance(name, str) or not name or '\0' in name:
            c.fail(f'{where}.file_name', f'expected a non-empty file name, got {describe(name)}')
        for key in ('width', 'height'):
            c.integer(c.get(img, key, where), f'{where}.{key}', minimum=1)
        spacing = c.get(img, 'pixel_spacing', where, required=False)
        if spacing is not None:
            c.list(spacing, f'{where}.pixel_spacing')
            if len(spacing) != 2:
                c.fail(f'{where}.pixel_spacing', f'expected [sx, sy] in mm or null, got '
                       f'{len(spacing)} values')
            for k, v in enumerate(spacing):
                c.number(v, f'{where}.pixel_spacing[{k}]', positive=True)
                problem = spacing_problem(v)
                if problem:
                    c.fail(f'{where}.pixel_spacing[{k}]', problem)
        c.optional_string(img, 'reference', where)

    ann_ids = set()
    for j, ann in enumerate(annotations):
        where = f'annotations[{j}]'
        c.object(ann, where)
        c.unique_id(ann, where, ann_ids, 'annotation')
        img_id = c.integer(c.get(ann, 'image_id', where), f'{where}.image_id')
        if img_id not in image_ids:
            c.fail(f'{where}.image_id', f'no image has the id {img_id}')
        category = c.integer(c.get(ann, 'category_id', where), f'{where}.category_id')
        if category != cat_id:
            c.fail(f'{where}.category_id', f'{category} is not the category id {cat_id}')
        kpts = c.numbers(c.get(ann, 'keypoints', where), f'{where}.keypoints',
                         3 * num_keypoints, f'3 x {num_keypoints} keypoints')
        for k in range(num_keypoints):
            if kpts[3 * k + 2] not in VISIBILITIES:
                c.fail(f'{where}.keypoints[{3 * k + 2}]', f'visibility of keypoint {k + 1} '
                       f'must be 0, 1 or 2, got {kpts[3 * k + 2]}')
        bbox = c.numbers(c.get(ann, 'bbox', where), f'{where}.bbox', 4, 'x, y, w, h')
        for k, key in ((2, 'w'), (3, 'h')):
            if not bbox[k] > 0:
                c.fail(f'{where}.bbox[{k}]', f'box {key} must be > 0, got {bbox[k]}')
        if 'num_keypoints' in ann:
            c.integer(ann['num_keypoints'], f'{where}.num_keypoints', minimum=0)
        if 'area' in ann:
            c.number(ann['area'], f'{where}.area', non_negative=True)
        if 'iscrowd' in ann and ann['iscrowd'] not in (0, 1):   # True/False compare equal
            c.fail(f'{where}.iscrowd', f'expected 0 or 1, got {describe(ann["iscrowd"])}')
    return doc


def reference_of(doc: dict) -> Optional[str]:
    """Whose annotation a converted file holds (``info.reference``; else the images' own
    ``reference`` when they all agree; else None for files written before it existed)."""
    ref = (doc.get('info') or {}).get('reference')
    if ref:
        return ref
    refs = {img.get('reference') for img in doc.get('images', [])}
    return refs.pop() if len(refs) == 1 else None


def load_coco_json(path: str, num_keypoints: int, name: Optional[str] = None) -> dict:
    """Read and check the COCO-keypoint file ``path``; return the parsed dict. Errors name
    the file as ``name`` when given (default: ``path``)."""
    return validate_coco(read_json(path, name), name or path, num_keypoints)
