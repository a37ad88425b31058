"""``atomic_local``: a file backend whose writes are all-or-nothing.

MMEngine's LocalBackend opens the checkpoint's final name and writes into it, so a run
killed mid-save (SIGKILL, power loss, out of disk) leaves a truncated ``epoch_N.pth`` or
``last_checkpoint`` behind. This backend writes to a temporary file in the same folder,
fsyncs it and renames it over the target (an atomic step on POSIX file systems), so the
target is always either the previous complete file or the new complete one. Configs use
it through ``CheckpointHook(backend_args=dict(backend='atomic_local'))``.
"""
import os
import os.path as osp
import tempfile

from mmengine.fileio import LocalBackend, register_backend


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):

    def put(self, obj, filepath):
        folder = osp.dirname(osp.abspath(filepath))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix='.' + osp.basename(filepath), suffix='.part', dir=folder)
        try:
            with os.fdopen(fd, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, filepath)
        except BaseException:
            if osp.exists(tmp):
                os.unlink(tmp)
            raise

    def put_text(self, obj, filepath, encoding='utf-8'):
        self.put(obj.encode(encoding), filepath)
