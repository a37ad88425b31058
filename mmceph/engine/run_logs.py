"""What MMEngine's logs in a work dir say about the training that wrote them."""
import glob
import os.path as osp
import re
from datetime import datetime

STAMP = re.compile(r'^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) - mmengine')


def training_time(work_dir):
    """(minutes, epochs) of the training runs logged in ``work_dir``."""
    minutes = 0.0
    for log in glob.glob(osp.join(work_dir, '*', '*.log')):
        with open(log, errors='replace') as f:
            stamps = [datetime.strptime(m.group(1), '%Y/%m/%d %H:%M:%S')
                      for m in map(STAMP.match, f) if m]
        if stamps:
            minutes += (stamps[-1] - stamps[0]).total_seconds() / 60
    last = osp.join(work_dir, 'last_checkpoint')
    epochs = None
    if osp.isfile(last):
        with open(last) as f:
            found = re.search(r'epoch_(\d+)\.pth', f.read())
        epochs = int(found.group(1)) if found else None
    return minutes, epochs
