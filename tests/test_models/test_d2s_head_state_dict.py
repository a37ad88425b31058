"""DepthToSpaceHeatmapHead state dicts: loaded with the same meaning whatever their
layout (version 2's ``final_layer.0.*`` or version 3's ``final_layer.*``) and whether or
not they carry MMEngine/PyTorch version metadata."""
import copy
from collections import OrderedDict

import pytest
import torch
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

import mmceph  # noqa: F401

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def head_cfg(conv_out_channels=(16, )):
    return dict(type='DepthToSpaceHeatmapHead', in_channels=16, out_channels=19, upscale=2,
                conv_out_channels=conv_out_channels,
                conv_kernel_sizes=conv_out_channels and (1, ) * len(conv_out_channels),
                loss=dict(type='KeypointMSELoss', use_target_weight=True))


def build(seed, conv_out_channels=(16, )):
    init_default_scope('mmpose')
    torch.manual_seed(seed)
    head = MODELS.build(head_cfg(conv_out_channels)).eval()
    for p in head.parameters():          # random weights: a misplaced tensor shows
        p.data.normal_()
    return head


def bare(state):
    """The state dict as a hand-made or exported one arrives: no ``_metadata`` at all."""
    out = OrderedDict(state)
    assert not hasattr(out, '_metadata')
    return out


def old_layout(state, head=''):
    """Version 2 (``final_layer = Sequential(Conv2d, PixelShuffle)``) keys of ``head``."""
    old = head + 'final_layer.'
    return OrderedDict((head + 'final_layer.0.' + k[len(old):] if k.startswith(old) else k, v)
                       for k, v in state.items())


def assert_same_head(a, b):
    feats = (torch.randn(2, 16, 5, 6), )
    with torch.no_grad():
        out_a, out_b = a(feats), b(feats)
    assert out_a.shape == (2, 19, 10, 12)
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=0)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key


def test_keys_keep_the_1x1_conv_as_final_layer_and_version_3_is_saved():
    head = build(0)
    state = head.state_dict()
    assert {'final_layer.weight', 'final_layer.bias', 'conv_layers.0.weight'} <= set(state)
    assert not any(k.startswith('final_layer.0') for k in state)
    assert state._metadata['']['version'] == 3


@pytest.mark.parametrize('convs', [(16, ), None])
def test_a_state_dict_without_metadata_loads_into_an_identical_head(convs):
    """The bug: with no version, MMPose's HeatmapHead hook renamed final_layer.0.* to
    conv_layers.0.* (an error, or a silently wrong head when shapes matched)."""
    source, target = build(0, convs), build(1, convs)
    target.load_state_dict(bare(source.state_dict()), strict=True)
    assert_same_head(source, target)


@pytest.mark.parametrize('with_metadata', [True, False])
@pytest.mark.parametrize('convs', [(16, ), None])
def test_an_old_layout_state_dict_loads_with_the_same_meaning(with_metadata, convs):
    source, target = build(0, convs), build(1, convs)
    state = old_layout(source.state_dict())
    if with_metadata:      # what checkpoints trained before the change carry
        state._metadata = copy.deepcopy(source.state_dict()._metadata)
        state._metadata['']['version'] = 2
    assert 'final_layer.0.weight' in state
    target.load_state_dict(state, strict=True)
    assert_same_head(source, target)


def test_an_old_cascade_checkpoint_loads_through_mmengine(tmp_path):
    """A whole model, the way MMEngine loads a checkpoint (prefixes, nested heads)."""
    from mmengine.runner import load_checkpoint
    init_default_scope('mmpose')
    from test_landmark_cascade import tiny_cascade
    torch.manual_seed(0)
    source = MODELS.build(tiny_cascade(head_convs=(16, )))
    for p in source.refiner.head.parameters():
        p.data.normal_()
    old = old_layout(source.state_dict(), 'refiner.head.')
    assert 'refiner.head.final_layer.0.weight' in old
    torch.save(dict(meta={}, state_dict=old), tmp_path / 'old.pth')
    fresh = MODELS.build(tiny_cascade(head_convs=(16, )))
    load_checkpoint(fresh, str(tmp_path / 'old.pth'), strict=True)
    for key, value in source.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
