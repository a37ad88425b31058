"""S2D-HRNet backbone + depth-to-space head: shapes, size errors, weight loading, training."""
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData, PixelData
from mmpose.models.backbones import HRNet
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample
from tiny_models import TINY_HRNET

import mmceph  # noqa: F401
from mmceph.codecs import CompensatedHeatmap


def build(r):
    backbone = MODELS.build(dict(type='S2DHRNet', extra=TINY_HRNET, downscale=r))
    neck = MODELS.build(dict(type='FeatureMapProcessor', concat=True))
    head = MODELS.build(dict(type='DepthToSpaceHeatmapHead', in_channels=120, out_channels=5,
                             upscale=r, conv_out_channels=(32, ), conv_kernel_sizes=(3, )))
    return backbone, neck, head


@pytest.mark.parametrize('r,size', [(2, (64, 96)), (4, (160, 128)), (4, (208, 144)), (8, (96, 64))])
def test_heatmaps_come_back_at_a_quarter_of_the_input(r, size):
    backbone, neck, head = build(r)
    backbone.eval(), head.eval()          # BN at 1x1 deepest branch needs eval for batch 1
    h, w = size
    feats = backbone(torch.zeros(1, 3, h, w))
    assert feats[0].shape[-2:] == (h // (4 * r), w // (4 * r))   # whole net at 1/(4r)
    assert head(neck(feats)).shape == (1, 5, h // 4, w // 4)


def test_sizes_not_divisible_by_4r_get_a_clear_error():
    backbone, _, _ = build(4)
    with pytest.raises(ValueError, match=r'divisible by 16 \(got 100x64\).*64x112'):
        backbone(torch.zeros(1, 3, 100, 64))


def test_stock_hrnet_weights_load_into_every_compatible_layer(tmp_path):
    stock = HRNet(TINY_HRNET)
    s2d = MODELS.build(dict(type='S2DHRNet', extra=TINY_HRNET, downscale=4))
    loaded, skipped = s2d.load_compatible(stock.state_dict())
    assert skipped == ['conv1.weight']              # (16, 3, 3, 3) vs (16, 48, 3, 3)
    assert len(loaded) == len(stock.state_dict()) - 1
    assert torch.equal(s2d.state_dict()['layer1.0.conv1.weight'],
                       stock.state_dict()['layer1.0.conv1.weight'])
    # and through init_cfg, as a config would do it
    torch.save({'state_dict': {'backbone.' + k: v for k, v in stock.state_dict().items()}},
               tmp_path / 'hrnet.pth')
    s2d = MODELS.build(dict(type='S2DHRNet', extra=TINY_HRNET, downscale=4, init_cfg=dict(
        type='Pretrained', checkpoint=str(tmp_path / 'hrnet.pth'), prefix='backbone.')))
    s2d.init_weights()
    assert torch.equal(s2d.state_dict()['stage4.0.fuse_layers.0.1.0.weight'],
                       stock.state_dict()['stage4.0.fuse_layers.0.1.0.weight'])


def test_topdown_model_trains_and_predicts_with_flip_test():
    init_default_scope('mmpose')
    codec = dict(type='CompensatedHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=2)
    model = MODELS.build(dict(
        type='TopdownPoseEstimator',
        backbone=dict(type='S2DHRNet', extra=TINY_HRNET, downscale=4),
        neck=dict(type='FeatureMapProcessor', concat=True),
        head=dict(type='DepthToSpaceHeatmapHead', in_channels=120, out_channels=5, upscale=4,
                  loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec),
        test_cfg=dict(flip_test=True)))
    codec_obj = CompensatedHeatmap((64, 64), (16, 16), 2)
    kpts = np.random.default_rng(0).uniform(8, 56, (1, 5, 2))
    target = codec_obj.encode(kpts)
    sample = PoseDataSample(metainfo=dict(flip_indices=list(range(5)), input_size=(64, 64),
                                          input_center=np.array([32., 32.]),
                                          input_scale=np.array([64., 64.])))
    sample.gt_fields = PixelData(heatmaps=torch.from_numpy(target['heatmaps']))
    sample.gt_instance_labels = InstanceData(
        keypoint_weights=torch.from_numpy(target['keypoint_weights']))
    sample.gt_instances = InstanceData(keypoints=kpts, bboxes=np.array([[0, 0, 64, 64.]]),
                                       bbox_scores=np.ones(1))
    x = torch.randn(2, 3, 64, 64)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    losses = []
    for _ in range(8):
        loss = model(x, [sample, sample], mode='loss')['loss_kpt']
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]
    model.eval()
    with torch.no_grad():
        preds = model(x, [sample, sample], mode='predict')
    assert preds[0].pred_instances.keypoints.shape == (1, 5, 2)
