"""Check a COCO-keypoint JSON file before xtcocotools and MMPose parse it.

xtcocotools and MMPose's ``BaseCocoStyleDataset`` assume a well-formed file: a missing
key, a string where a number belongs or keypoints of the wrong length end in a
``KeyError``, ``TypeError`` or reshape error from deep inside them, and duplicate ids or
annotations of unknown images are dropped silently. :func:`load_coco_json` reads the
file itself and checks everything the cephalometric datasets use, so bad input fails with
one :class:`CocoFormatError` that names the file and the JSON path of the culprit, e.g.
``data/isbi2015/annotations/train.json: annotations[3].keypoints: expected 57 numbers
(3 x 19 keypoints), got 54``.

What is checked (the layout ``data_converters`` writes, see README "Data format"):

- the top level is an object with the lists ``images``, ``annotations`` and exactly one
  ``categories`` entry (an object with an integer ``id``; its ``keypoints`` names, when
  given, one per keypoint of the dataset);
- ``images[i]``: a unique integer ``id``, a non-empty string ``file_name``, positive
  integer ``width`` and ``height``, and ``pixel_spacing`` absent, ``null`` or
  ``[sx, sy]`` in mm (finite numbers > 0), ``reference`` (whose annotation: ``senior``,
  ``junior``, ``mean``, ``released``) absent or a string;
- ``info.reference``, when ``info`` is there: absent or a string;
- ``annotations[j]``: a unique integer ``id``, an integer ``image_id`` of an image of the
  file, ``category_id`` the category's id, ``keypoints`` ``3 * K`` finite numbers
  (K = the dataset's number of keypoints) with every visibility 0, 1 or 2, ``bbox``
  ``[x, y, w, h]`` finite numbers with ``w > 0`` and ``h > 0``; optional
  ``num_keypoints`` (integer >= 0), ``area`` (finite number >= 0) and ``iscrowd``
  (0/1 or a boolean).

The file must be UTF-8 (without a byte-order mark, which the COCO reader refuses) and
plain JSON; ``NaN``/``Infinity`` (and numbers beyond float32, which MMPose uses) are
refused wherever a number is checked.
"""
import json
import math

__all__ = ['CocoFormatError', 'load_coco_json', 'validate_coco', 'load_roi_prior',
           'reference_of']

FLOAT32_MAX = 3.4028234663852886e38


class CocoFormatError(ValueError):
    """A malformed annotation file. ``str(err)`` starts with the file and the JSON path."""

    def __init__(self, path, where, message):
        self.path, self.where = str(path), where
        super().__init__(f'{path}: {where}: {message}' if where else f'{path}: {message}')


def _describe(value):
    """A short description of a JSON value for error messages (never deep or long)."""
    if isinstance(value, list):
        return f'an array of {len(value)} items'
    if isinstance(value, dict):
        return f'an object with {len(value)} keys'
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10 ** 30:
        return 'a number too large'
    text = json.dumps(value)          # scalars only: str, int, float, bool, None
    if len(text) > 40:
        text = text[:37] + '...'
    return f'{_type_name(value)} {text}'


def _type_name(value):
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, (int, float)):
        return 'number'
    if isinstance(value, str):
        return 'string'
    return type(value).__name__


def _is_number(value):
    """A finite JSON number (booleans are not numbers; huge integers are not finite)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:           # an integer too large for a float
        return False


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class _Checker:
    def __init__(self, path):
        self.path = path

    def fail(self, where, message):
        raise CocoFormatError(self.path, where, message)

    def get(self, obj, key, where, required=True):
        """``obj[key]``; a required key that is absent is an error."""
        if key not in obj:
            if required:
                self.fail(where, f'missing key {key!r}')
            return None
        return obj[key]

    def object(self, value, where):
        if not isinstance(value, dict):
            self.fail(where, f'expected an object, got {_describe(value)}')
        return value

    def list(self, value, where):
        if not isinstance(value, list):
            self.fail(where, f'expected an array, got {_describe(value)}')
        return value

    def integer(self, value, where, minimum=None):
        if not _is_int(value):
            self.fail(where, f'expected an integer, got {_describe(value)}')
        if minimum is not None and value < minimum:
            self.fail(where, f'expected an integer >= {minimum}, got {value}')
        return value

    def number(self, value, where, positive=False, non_negative=False):
        if not _is_number(value):
            self.fail(where, f'expected a finite number, got {_describe(value)}')
        if abs(value) > FLOAT32_MAX:
            self.fail(where, f'{value:g} is too large (MMPose keeps it as float32)')
        if positive and not value > 0:
            self.fail(where, f'expected a number > 0, got {value}')
        if non_negative and value < 0:
            self.fail(where, f'expected a number >= 0, got {value}')
        return value

    def numbers(self, value, where, count, what):
        self.list(value, where)
        if len(value) != count:
            self.fail(where, f'expected {count} numbers ({what}), got {len(value)}')
        for i, v in enumerate(value):
            self.number(v, f'{where}[{i}]')
        return value


def validate_coco(doc, path, num_keypoints):
    """Check a parsed COCO-keypoint dict (see the module docstring); return it.

    Raises :class:`CocoFormatError` naming ``path`` and the JSON path of the first problem.
    """
    c = _Checker(path)
    c.object(doc, '(top level)')
    images = c.list(c.get(doc, 'images', '(top level)'), 'images')
    annotations = c.list(c.get(doc, 'annotations', '(top level)'), 'annotations')
    categories = c.list(c.get(doc, 'categories', '(top level)'), 'categories')

    info = doc.get('info')
    if info is not None:
        c.object(info, 'info')
        _optional_string(c, info, 'reference', 'info')

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
        img_id = c.integer(c.get(img, 'id', where), f'{where}.id')
        if img_id in image_ids:
            c.fail(f'{where}.id', f'duplicate image id {img_id}')
        image_ids.add(img_id)
        name = c.get(img, 'file_name', where)
        if not isinstance(name, str) or not name or '\0' in name:
            c.fail(f'{where}.file_name', f'expected a non-empty file name, got {_describe(name)}')
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
        _optional_string(c, img, 'reference', where)

    ann_ids = set()
    for j, ann in enumerate(annotations):
        where = f'annotations[{j}]'
        c.object(ann, where)
        ann_id = c.integer(c.get(ann, 'id', where), f'{where}.id')
        if ann_id in ann_ids:
            c.fail(f'{where}.id', f'duplicate annotation id {ann_id}')
        ann_ids.add(ann_id)
        img_id = c.integer(c.get(ann, 'image_id', where), f'{where}.image_id')
        if img_id not in image_ids:
            c.fail(f'{where}.image_id', f'no image has the id {img_id}')
        category = c.integer(c.get(ann, 'category_id', where), f'{where}.category_id')
        if category != cat_id:
            c.fail(f'{where}.category_id', f'{category} is not the category id {cat_id}')
        kpts = c.numbers(c.get(ann, 'keypoints', where), f'{where}.keypoints',
                         3 * num_keypoints, f'3 x {num_keypoints} keypoints')
        for k in range(num_keypoints):
            if kpts[3 * k + 2] not in (0, 1, 2):
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
            c.fail(f'{where}.iscrowd', f'expected 0 or 1, got {_describe(ann["iscrowd"])}')
    return doc


def _optional_string(c, obj, key, where):
    value = obj.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        c.fail(f'{where}.{key}', f'expected a non-empty string, got {_describe(value)}')


def reference_of(doc):
    """Whose annotation a converted file holds (``info.reference``; else the images' own
    ``reference`` when they all agree; else None for files written before it existed)."""
    ref = (doc.get('info') or {}).get('reference')
    if ref:
        return ref
    refs = {img.get('reference') for img in doc.get('images', [])}
    return refs.pop() if len(refs) == 1 else None


def _read_json(path, name=None):
    """Parse a UTF-8 JSON file; every failure is a :class:`CocoFormatError` naming it
    (as ``name`` when given, e.g. the remote path a local copy was fetched from)."""
    local, path = path, name or path
    try:
        with open(local, 'rb') as f:
            data = f.read()
    except FileNotFoundError:
        raise CocoFormatError(path, '', 'file not found') from None
    except OSError as err:
        raise CocoFormatError(path, '', f'cannot read the file: {err.strerror}') from None
    if not data.strip():
        raise CocoFormatError(path, '', 'the file is empty')
    if data.startswith(b'\xef\xbb\xbf'):
        raise CocoFormatError(path, '', 'the file starts with a UTF-8 byte-order mark, which '
                              'the COCO reader (xtcocotools) refuses; save it without one')
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b'\n') + 1
        raise CocoFormatError(path, '', f'not UTF-8 text: byte 0x{data[err.start]:02x} at '
                              f'line {line} (offset {err.start})') from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise CocoFormatError(path, '', f'not valid JSON: {err.msg} at line {err.lineno} '
                              f'column {err.colno}') from None
    except RecursionError:
        raise CocoFormatError(path, '', 'not valid JSON: nested too deeply') from None
    except ValueError as err:       # e.g. an integer with more digits than Python allows
        raise CocoFormatError(path, '', f'not valid JSON: {err}') from None


def load_coco_json(path, num_keypoints, name=None):
    """Read and check the COCO-keypoint file ``path``; return the parsed dict. Errors name
    the file as ``name`` when given (default: ``path``)."""
    return validate_coco(_read_json(path, name), name or path, num_keypoints)


def load_roi_prior(path):
    """Read ``roi_prior.json``: ``[x0, y0, x1, y1]`` normalised, 0 <= x0 < x1 <= 1."""
    doc = _read_json(path)
    c = _Checker(path)
    c.object(doc, '(top level)')
    roi = c.numbers(c.get(doc, 'roi_xyxy_normalised', '(top level)'), 'roi_xyxy_normalised',
                    4, 'x0, y0, x1, y1 in [0, 1]')
    x0, y0, x1, y1 = roi
    if not (0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1):
        c.fail('roi_xyxy_normalised', f'expected 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, '
               f'got {roi}')
    return [float(v) for v in roi]
