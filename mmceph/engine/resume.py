"""Which checkpoint ``--resume`` continues from when MMEngine's pointer is stale or missing."""
import glob
import os
import os.path as osp
import sys


def resumable_checkpoint(work_dir):
    """What ``--resume`` continues from: None (MMEngine's ``last_checkpoint``) unless that
    pointer is missing or stale, then the newest checkpoint in ``work_dir``.

    Stale: MMEngine's CheckpointHook deletes the previous epoch's checkpoint *before*
    writing the next, so a job killed in between leaves ``last_checkpoint`` naming nothing.
    Missing: the pointer is written just *after* the checkpoint, so a job killed in between
    leaves a complete epoch that MMEngine alone would ignore, training again from scratch."""
    pointer = osp.join(work_dir or '', 'last_checkpoint')
    named = None
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        if not named or osp.isfile(named):
            return None
    left = [p for p in glob.glob(osp.join(work_dir or '', '*.pth')) if not osp.islink(p)]
    if not left:
        return None
    newest = max(left, key=os.path.getmtime)
    why = (f'{pointer} names {named}, which is gone (the job was stopped while it saved '
           'the next checkpoint)' if named else
           f'{pointer} is missing (the job was stopped just after it saved a checkpoint)')
    print(f'{why}; resuming from {newest}', file=sys.stderr)
    return newest
