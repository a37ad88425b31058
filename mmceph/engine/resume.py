"""Which checkpoint ``--resume`` continues from when MMEngine's pointer is stale."""
import glob
import os
import os.path as osp
import sys


def resumable_checkpoint(work_dir):
    """What ``--resume`` continues from: None (MMEngine's ``last_checkpoint``) unless that
    names a file that is gone -- MMEngine's CheckpointHook deletes the previous epoch's
    checkpoint *before* writing the next, so a job killed in between leaves
    ``last_checkpoint`` pointing at nothing. Then the newest checkpoint still there."""
    pointer = osp.join(work_dir or '', 'last_checkpoint')
    if not osp.isfile(pointer):
        return None
    with open(pointer) as f:
        named = f.read().strip()
    if not named or osp.isfile(named):
        return None
    left = [p for p in glob.glob(osp.join(work_dir, '*.pth')) if not osp.islink(p)]
    if not left:
        return None
    newest = max(left, key=os.path.getmtime)
    print(f'{pointer} names {named}, which is gone (the job was stopped while it saved '
          f'the next checkpoint); resuming from {newest}', file=sys.stderr)
    return newest
