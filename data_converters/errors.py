"""One exception type for bad input, so the CLI can print a clean one-line message
(naming the file and, where it applies, the line) instead of a traceback."""


class ConversionError(Exception):
    """Bad input data. ``str(err)`` names the culprit file (and line)."""

    def __init__(self, path, message, line=None):
        where = f'{path}:{line}' if line is not None else f'{path}'
        super().__init__(f'{where}: {message}')
        self.path, self.line = str(path), line


def read_utf8_text(path, what):
    """A text file as str (UTF-8, byte-order mark allowed). An unreadable or non-UTF-8 file
    is a ConversionError naming it (and the line of the first bad byte); ``what`` names the
    kind of file in the message, e.g. 'annotation'."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as err:
        raise ConversionError(path, f'cannot read {what}: {err.strerror}') from None
    try:
        return data.decode('utf-8-sig')
    except UnicodeDecodeError as err:
        raise ConversionError(path, f'not a UTF-8 text file (byte 0x{data[err.start]:02x})',
                              line=data[:err.start].count(b'\n') + 1) from None
