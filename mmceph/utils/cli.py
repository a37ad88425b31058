"""One-line errors for ordinary mistakes in every tool (tools/*.py).

A missing file, a config with a typo, an annotation file that does not validate, a
checkpoint that does not fit: the user gets ``error: <what and where>`` and exit status
2, not a traceback from deep inside MMEngine. ``--debug`` shows the traceback. Anything
not listed here is a bug and keeps its traceback.
"""
import re
import sys
import warnings
from typing import Callable, Optional, Sequence

from .errors import UserError

USAGE_ERROR = 2
# MMEngine and openmim import pkg_resources, whose deprecation notice (a UserWarning since
# setuptools 80.9) reads like a failure on every run; it is theirs to fix, not the user's.
# Filtered here, where every tool gets its error handling, before those imports happen.
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)


class UsageError(UserError):
    """A mistake in what the user asked for (arguments, paths); the message says what."""


# the user's mistakes: mmceph's own (UserError: usage, checkpoint, image, annotation,
# predictions dump, export integrity, adaptation set) and the file-system ones
ORDINARY = (UserError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
            PermissionError, SyntaxError)


def _message(err: BaseException) -> str:
    text = str(err)
    if isinstance(err, SyntaxError) and err.filename:
        text = f'{err.filename}:{err.lineno}: invalid Python in the config: {err.msg}'
    elif isinstance(err, OSError) and err.filename and err.strerror:
        text = f'{err.filename}: {err.strerror}'
    # MMEngine's registry prefixes "class `X` in path/to/module.py: " to build errors
    text = re.sub(r"^(class `[^`]+` in [^:]+: )+", '', text.strip())
    return text.splitlines()[0] if text else type(err).__name__


def named_pairs(parser, values: Sequence[str], what: str, exists: Callable[[str], bool]):
    """[(NAME, PATH)] from NAME=PATH arguments; a parser error unless PATH ``exists``."""
    pairs = [v.partition('=') for v in values]
    for value, (name, sep, path) in zip(values, pairs):
        if not (name and sep and exists(path)):
            parser.error(f'{value!r}: expected {what}')
    return [(name, path) for name, _, path in pairs]


def is_registry_miss(err: BaseException) -> bool:
    """MMEngine's "X is not in the mmpose::model registry": a typo in a config."""
    return isinstance(err, KeyError) and 'registry' in str(err)


def guarded_main(main: Callable[[Optional[Sequence[str]]], Optional[int]],
                 argv: Optional[Sequence[str]] = None) -> int:
    """Run ``main(argv)``; an ordinary mistake prints one line and returns 2."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        return main(argv) or 0
    except Exception as err:  # blind except: filtered just below
        if '--debug' in args or not (isinstance(err, ORDINARY) or is_registry_miss(err)):
            raise
        print(f'error: {_message(err).strip(chr(34) + chr(39))} '
              '(run with --debug for the traceback)', file=sys.stderr)
        return USAGE_ERROR
