"""One base class for the user's mistakes, at the bottom of the package so that every
layer can raise it and every tool can catch it without importing upwards."""


class UserError(ValueError):
    """A mistake in what the user gave (arguments, a file, a checkpoint, an annotation):
    its message says what and where, and a tool prints it as one line with exit status 2
    (:func:`mmceph.utils.cli.guarded_main`); anything else is a bug and keeps its
    traceback."""
