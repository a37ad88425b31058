"""Checkpoints load under torch's weights_only default; code-running pickles are refused."""
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

import mmceph.registration  # noqa: F401  (installs the allow-list)


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


class GetattrEscape:
    """getattr on an allowed class is the first step of a sandbox escape
    (``__init__.__globals__`` ...): only HistoryBuffer statistics may be fetched."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def load(path):
    return CheckpointLoader.load_checkpoint(str(path), map_location='cpu')


def test_mmengine_style_checkpoint_loads(tmp_path):
    buf = HistoryBuffer()
    buf.update(1.5)
    ckpt = dict(meta=dict(dataset_meta=dict(colors=np.zeros((3, 3)), sigma=np.float64(2.0)),
                          seed=np.int64(3)),
                state_dict={'w': torch.ones(2)},
                message_hub=dict(log_scalars={'loss': buf}))
    torch.save(ckpt, tmp_path / 'ok.pth')
    loaded = load(tmp_path / 'ok.pth')
    assert loaded['message_hub']['log_scalars']['loss'].mean() == 1.5
    assert loaded['meta']['dataset_meta']['sigma'] == 2.0
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))


@pytest.mark.parametrize('payload', ['system', 'getattr'])
def test_malicious_checkpoint_is_refused_without_running(tmp_path, payload):
    marker = tmp_path / 'pwned'
    obj = RunsCode(marker) if payload == 'system' else GetattrEscape()
    with open(tmp_path / 'evil.pth', 'wb') as f:
        pickle.dump({'state_dict': {}, 'meta': obj}, f, protocol=2)
    with pytest.raises(pickle.UnpicklingError) as err:
        load(tmp_path / 'evil.pth')
    assert ('system' in str(err.value)) or ("getattr(HistoryBuffer, '__init__')" in str(err.value))
    assert not marker.exists()
