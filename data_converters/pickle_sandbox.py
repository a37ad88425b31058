"""Run one parsing function on an untrusted file in a forked child under resource limits.

The child gets an address-space limit (what it uses at the fork plus a budget scaled
to the file) and a CPU-time limit, so an input that makes a library allocate gigabytes,
spin or crash the interpreter kills the child only; the caller gets one
:class:`ConversionError` naming the file. Errors the function raises itself
(``ConversionError``) come back with their message unchanged.

Linux (``fork``, ``resource``): the converters' platform. The function's result must be
bytes.
"""
import multiprocessing
import os
import resource
from typing import Callable

from .errors import ConversionError

MEMORY_BASE = 1 << 30          # bytes a child may allocate beyond what it has at the fork
MEMORY_PER_FILE_BYTE = 8       # ... plus this many per byte of the input file
CPU_SECONDS_BASE = 120         # seconds of CPU a child may use
CPU_SECONDS_PER_MB = 2         # ... plus this many per MB of the input file


def _limit(budget_bytes: int) -> None:
    """Cap this process's address space and CPU time (soft limits, never above hard)."""
    with open('/proc/self/statm') as f:
        in_use = int(f.read().split()[0]) * os.sysconf('SC_PAGE_SIZE')
    limits = ((resource.RLIMIT_AS, in_use + MEMORY_BASE + MEMORY_PER_FILE_BYTE * budget_bytes),
              (resource.RLIMIT_CPU, CPU_SECONDS_BASE + CPU_SECONDS_PER_MB * (budget_bytes >> 20)))
    for which, limit in limits:
        soft, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        if soft == resource.RLIM_INFINITY or soft > limit:
            resource.setrlimit(which, (limit, hard))


def _child(conn, func: Callable[[str], bytes], path: str, budget_bytes: int) -> None:
    try:
        _limit(budget_bytes)
        conn.send(('ok', func(path)))
    except ConversionError as err:
        conn.send(('refused', str(err)))
    except MemoryError:
        conn.send(('failed', 'needs more memory than the file can justify'))
    except BaseException as err:  # untrusted bytes can fail in any way: report, don't crash
        conn.send(('failed', f'{type(err).__name__}: {err}'))
    finally:
        conn.close()


class _Refused(ConversionError):
    """A ``ConversionError`` from the child, whose message already names the file."""

    def __init__(self, path: str, message: str):
        Exception.__init__(self, message)
        self.path, self.line = path, None


def run_limited(func: Callable[[str], bytes], path: str, budget_bytes: int = 0) -> bytes:
    """``func(path)`` in a forked, resource-limited child; its bytes, or ConversionError."""
    ctx = multiprocessing.get_context('fork')
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, func, path, budget_bytes), daemon=True)
    child.start()
    send.close()
    try:
        status, value = receive.recv()
    except (EOFError, OSError):
        status, value = 'died', None
    finally:
        receive.close()
        child.join()
    if status == 'ok':
        return value
    if status == 'refused':
        raise _Refused(str(path), value)
    if status == 'died':
        raise ConversionError(path, f'the loader process died on this file (exit code '
                              f'{child.exitcode}): the file may be malicious or corrupt')
    raise ConversionError(path, f'not a readable pickle: {value}')
