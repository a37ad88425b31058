"""Reading and checking JSON files whose errors must name the file and the JSON path.

The annotation files and the ROI prior are checked before anything else parses them, so
a malformed file fails with one :class:`CocoFormatError` such as
``data/isbi2015/annotations/train.json: annotations[3].keypoints: expected 57 numbers
(3 x 19 keypoints), got 54`` instead of an error from deep inside xtcocotools or MMPose.
The file must be UTF-8 (without a byte-order mark, which the COCO reader refuses) and
plain JSON; ``NaN``/``Infinity`` (and numbers beyond float32, which MMPose uses) are
refused wherever a number is checked.
"""
import json
import math

from ..utils.errors import UserError

__all__ = ['CocoFormatError', 'Checker', 'read_json', 'describe']

FLOAT32_MAX = 3.4028234663852886e38


class CocoFormatError(UserError):
    """A malformed annotation file. ``str(err)`` starts with the file and the JSON path."""

    def __init__(self, path, where, message):
        self.path, self.where = str(path), where
        super().__init__(f'{path}: {where}: {message}' if where else f'{path}: {message}')


def describe(value):
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


class Checker:
    """Type and range checks that raise :class:`CocoFormatError` naming the file."""

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
            self.fail(where, f'expected an object, got {describe(value)}')
        return value

    def list(self, value, where):
        if not isinstance(value, list):
            self.fail(where, f'expected an array, got {describe(value)}')
        return value

    def integer(self, value, where, minimum=None):
        if not _is_int(value):
            self.fail(where, f'expected an integer, got {describe(value)}')
        if minimum is not None and value < minimum:
            self.fail(where, f'expected an integer >= {minimum}, got {value}')
        return value

    def number(self, value, where, positive=False, non_negative=False):
        if not _is_number(value):
            self.fail(where, f'expected a finite number, got {describe(value)}')
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


    def unique_id(self, obj, where, seen, what):
        """``obj['id']``: an integer not in ``seen`` (then added to it)."""
        value = self.integer(self.get(obj, 'id', where), f'{where}.id')
        if value in seen:
            self.fail(f'{where}.id', f'duplicate {what} id {value}')
        seen.add(value)
        return value

    def optional_string(self, obj, key, where):
        """``obj[key]``: absent, null or a non-empty string."""
        value = obj.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            self.fail(f'{where}.{key}', f'expected a non-empty string, got {describe(value)}')
        return value


def read_json(path, name=None):
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


