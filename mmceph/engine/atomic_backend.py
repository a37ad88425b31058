"""``atomic_local``: a file backend whose writes are all-or-nothing.

MMEngine's LocalBackend opens the checkpoint's final name and writes into it, so a run
killed mid-save (SIGKILL, power loss, out of disk) leaves a truncated ``epoch_N.pth`` or
``last_checkpoint`` behind. This backend writes through :func:`mmceph.utils.atomic.write_atomic`
(temporary file, fsync, rename), so the target is always either the previous complete
file or the new complete one. Configs use it through
``CheckpointHook(backend_args=dict(backend='atomic_local'))``.
"""
from mmengine.fileio import LocalBackend, register_backend

from ..utils.atomic import write_atomic


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """MMEngine's LocalBackend with atomic ``put`` / ``put_text``: a killed run never
    leaves a truncated checkpoint. Selected by ``backend_args=dict(backend='atomic_local')``.

    Args: none (``LocalBackend``'s).
    """

    def put(self, obj: bytes, filepath) -> None:
        write_atomic(filepath, obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        write_atomic(filepath, obj, encoding=encoding)
