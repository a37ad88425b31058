"""All-or-nothing file writes: a temporary file in the target's folder, fsync, rename.

A run killed mid-write (SIGKILL, power loss, a full disk) leaves the previous complete
file or the new complete one, never a truncated one; the temporary file is removed on
any error. The one helper for the converters' JSON, infer.py's outputs and the
``atomic_local`` checkpoint backend.
"""
import os
import os.path as osp
import tempfile
from typing import Union


def write_atomic(path: Union[str, os.PathLike], data: Union[bytes, str],
                 encoding: str = 'utf-8') -> None:
    """Write ``data`` (bytes, or text encoded with ``encoding``) to ``path`` atomically."""
    path = os.fspath(path)
    if isinstance(data, str):
        data = data.encode(encoding)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix='.' + osp.basename(path), suffix='.part', dir=folder)
    except OSError as err:                 # a folder we cannot write to: name it, not our file
        raise type(err)(err.errno, err.strerror, folder) from None
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)      # mkstemp makes 0600; outputs are ordinary files
        try:
            os.replace(tmp, path)
        except OSError as err:             # name the path in the way, not our temporary file
            raise type(err)(err.errno, err.strerror, path) from None
    except BaseException:
        if osp.exists(tmp):
            os.unlink(tmp)
        raise
