"""Shared fixtures. Real ISBI data is optional: tests that need it skip with a reason."""
import os
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ISBI_ROOT = os.environ.get('MMCEPH_ISBI_ROOT',
                           osp.join(REPO, '..', 'shared', 'data', 'isbi2015'))


@pytest.fixture(scope='session')
def isbi_root():
    if not osp.isdir(osp.join(ISBI_ROOT, 'AnnotationsByMD')):
        pytest.skip(f'real ISBI 2015 data not found at {ISBI_ROOT} '
                    '(set MMCEPH_ISBI_ROOT to run these tests)')
    return ISBI_ROOT


@pytest.fixture
def one_torch_thread():
    """Tiny models run fastest on one thread; on a busy 2-core machine two threads fight."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
