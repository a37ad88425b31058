"""UNet++ backbone + L1 heatmap loss: shapes, size errors, loss values, training, config."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS
from tiny_models import heatmap_samples, loss_curve

import mmceph  # noqa: F401
import mmceph.models.backbones.unetpp  # noqa: F401  (registers UNetPlusPlus)
import mmceph.models.losses.heatmap_l1  # noqa: F401  (registers KeypointL1Loss)
from mmceph.codecs import CompensatedHeatmap

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'isbi2015', 'td-hm_unetpp_l1-1xb4-100e_isbi2015-576x448.py')


def unetpp(**kwargs):
    return MODELS.build(dict(type='UNetPlusPlus', **kwargs))


@pytest.mark.parametrize('depth,stride,size', [(1, 1, (16, 24)), (2, 2, (32, 48)),
                                               (3, 4, (64, 96)), (4, 4, (128, 64))])
def test_top_node_comes_out_at_one_over_output_stride(depth, stride, size):
    net = unetpp(depth=depth, base_channels=4, output_stride=stride)
    h, w = size
    feats = net(torch.zeros(2, 3, h, w))
    assert isinstance(feats, tuple) and len(feats) == 1
    assert feats[0].shape == (2, 4, h // stride, w // stride)
    # nested skip paths: one node X^{i,j} per i + j <= depth
    assert len(net.nodes) == (depth + 1) * (depth + 2) // 2
    assert net.widths == tuple(4 * 2 ** i for i in range(depth + 1))


def test_explicit_widths_and_deep_supervision_return_every_top_node():
    net = unetpp(depth=3, widths=(6, 8, 10, 12), output_stride=2, deep_supervision=True,
                 in_channels=1)
    feats = net(torch.zeros(2, 1, 64, 32))
    assert [f.shape for f in feats] == [(2, 6, 32, 16)] * 3    # X^{0,1}, X^{0,2}, X^{0,3}
    # the inner node X^{1,2} sees X^{1,0}, X^{1,1} and the up-sampled X^{2,1}: 8+8+10 channels
    assert net.nodes['1_2'][0].conv.in_channels == 26
    with pytest.raises(ValueError, match='depth \\+ 1 = 3'):
        unetpp(depth=2, widths=(4, 8))


def test_sizes_not_divisible_by_stride_times_2_to_the_depth_get_a_clear_error():
    net = unetpp(depth=4, base_channels=4, output_stride=4)
    with pytest.raises(ValueError, match=r'divisible by 64 \(got height 100, width 64\).*'
                                         r'input_size=\(64, 128\)'):
        net(torch.zeros(1, 3, 100, 64))


def test_l1_loss_matches_a_hand_computed_value():
    out = torch.tensor([[[[1., -2.]], [[0.5, 0.]]]])       # (B=1, K=2, H=1, W=2)
    tgt = torch.tensor([[[[0., 1.]], [[0., 4.]]]])
    weights = torch.tensor([[1., 0.]])                      # keypoint 2 missing
    loss = MODELS.build(dict(type='KeypointL1Loss', use_target_weight=True, loss_weight=2.))
    # |1| + |-3| from keypoint 1, keypoint 2 weighs 0; mean over all 4 elements; x2
    assert float(loss(out, tgt, weights)) == pytest.approx(2 * (1 + 3) / 4)
    # without weights (or with the flag off) every element counts: (1 + 3 + 0.5 + 4) / 4
    assert float(loss(out, tgt)) == pytest.approx(2 * 8.5 / 4)
    plain = MODELS.build(dict(type='KeypointL1Loss'))
    assert float(plain(out, tgt, weights)) == pytest.approx(8.5 / 4)
    # a pixel mask combines with the keypoint weights, as in KeypointMSELoss
    mask = torch.tensor([[[[0., 1.]]]])
    assert float(loss(out, tgt, weights, mask)) == pytest.approx(2 * 3 / 4)


def test_zero_weight_excludes_a_keypoint_from_loss_and_gradient():
    loss = MODELS.build(dict(type='KeypointL1Loss', use_target_weight=True))
    g = torch.Generator().manual_seed(0)
    out = torch.rand(2, 3, 4, 4, generator=g, requires_grad=True)
    tgt = torch.rand(2, 3, 4, 4, generator=g)
    weights = torch.tensor([[1., 0., 1.], [1., 1., 1.]])
    value = loss(out, tgt, weights)
    value.backward()
    assert out.grad[0, 1].abs().sum() == 0 and out.grad[0, 0].abs().sum() > 0
    moved = out.detach().clone()
    moved[0, 1] += 10                       # a wild prediction for the missing keypoint
    assert float(loss(moved, tgt, weights)) == pytest.approx(float(value))


def test_topdown_unetpp_l1_loss_decreases_on_a_tiny_batch():
    init_default_scope('mmpose')
    torch.manual_seed(0)
    codec_cfg = dict(type='CompensatedHeatmap', input_size=(64, 64), heatmap_size=(16, 16),
                     sigma=2)
    model = MODELS.build(dict(
        type='TopdownPoseEstimator',
        backbone=dict(type='UNetPlusPlus', depth=2, base_channels=8, output_stride=4),
        head=dict(type='HeatmapHead', in_channels=8, out_channels=3, deconv_out_channels=None,
                  loss=dict(type='KeypointL1Loss', use_target_weight=True), decoder=codec_cfg),
        test_cfg=dict(flip_test=False)))
    samples = heatmap_samples(CompensatedHeatmap((64, 64), (16, 16), 2))
    model.init_weights()                  # as the runner does: heatmaps start near 0
    x = torch.randn(2, 3, 64, 64)
    silent = float(sum(s.gt_fields.heatmaps.abs().mean() for s in samples) / 2)   # L1 of 0
    losses = loss_curve(model, x, samples, steps=10, lr=1e-2)
    assert losses[0] == pytest.approx(silent, rel=0.1)
    assert losses[-1] < 0.8 * silent, losses       # it draws peaks, not just silence


def test_config_builds_and_gives_heatmaps_at_a_quarter_of_the_input():
    init_default_scope('mmpose')
    cfg = Config.fromfile(CONFIG)
    assert cfg.model.backbone.type == 'UNetPlusPlus' and cfg.model.neck is None
    assert cfg.model.head.loss.type == 'KeypointL1Loss'
    assert cfg.model.head.decoder.type == 'CompensatedHeatmap'      # codec kept from _base_
    assert cfg.train_dataloader.dataset.type == 'ISBI2015Dataset'   # data kept from _base_
    w, h = cfg.model.head.decoder.input_size
    model = MODELS.build(cfg.model)
    model.eval()
    with torch.no_grad():
        heatmaps = model(torch.zeros(1, 3, h, w), None, mode='tensor')
    assert heatmaps.shape == (1, cfg.model.head.out_channels, h // 4, w // 4)
