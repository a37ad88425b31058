"""``best_MRE.pth``: a stable name for the best checkpoint.

MMEngine's ``CheckpointHook(save_best='MRE')`` names the file ``best_MRE_epoch_N.pth``
and deletes it when a better one comes, so scripts cannot point at it. This hook runs
after it (lowest priority) on the main process and hard-links (or copies) the current
best to ``<work_dir>/best_<metric>.pth``, atomically (temporary name, then rename).
"""
import os
import os.path as osp
import shutil

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmpose.registry import HOOKS


@HOOKS.register_module()
class BestCheckpointAliasHook(Hook):
    """Keep the best checkpoint also as ``<work_dir>/best_<key>.pth`` (a hard link, or a
    copy where links are not possible, replaced atomically after each validation).

    Args:
        key (str): the metric ``CheckpointHook(save_best=...)`` selects by, e.g. ``'MRE'``
            or ``'MRE_px'``.
    """
    priority = 'LOWEST'

    def __init__(self, key: str = 'MRE'):
        self.key = key

    def after_val_epoch(self, runner, metrics=None):
        if not is_main_process():
            return
        hub = runner.message_hub
        best = hub.get_info(f'best_ckpt_{self.key}') or hub.get_info('best_ckpt')
        if not best or not osp.isfile(best):
            return
        alias = osp.join(runner.work_dir, f'best_{self.key}.pth')
        if osp.exists(alias) and osp.samefile(best, alias):
            return
        tmp = alias + '.tmp'
        if osp.lexists(tmp):
            os.remove(tmp)
        try:
            os.link(best, tmp)
        except OSError:
            shutil.copyfile(best, tmp)
        os.replace(tmp, alias)
        runner.logger.info(f'best checkpoint ({self.key}) also available as {alias}')
