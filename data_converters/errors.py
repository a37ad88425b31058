"""One exception type for bad input, so the CLI can print a clean one-line message
(naming the file and, where it applies, the line) instead of a traceback."""


class ConversionError(Exception):
    """Bad input data. ``str(err)`` names the culprit file (and line)."""

    def __init__(self, path, message, line=None):
        where = f'{path}:{line}' if line is not None else f'{path}'
        super().__init__(f'{where}: {message}')
        self.path, self.line = str(path), line
