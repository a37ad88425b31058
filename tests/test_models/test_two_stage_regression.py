"""Two-stage regression (CEPHMark-Net style): fusion neck, two-stage head, codec, config."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from mmpose.codecs import RegressionLabel
from mmpose.registry import DATASETS, MODELS
from mmpose.structures import PoseDataSample
from tiny_models import TINY_HRNET

import mmceph  # noqa: F401
import mmceph.models.heads.two_stage_regression_head  # noqa: F401  (registers the head)
import mmceph.models.necks.semantic_fusion  # noqa: F401  (registers the neck)
from data_converters.writer.coco import ImageRecord, to_coco, write_json_atomic

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'isbi2015',
                  'td-reg-twostage_s2d-hrnetv2-w18-sfn_1xb4-100e_isbi2015-576x448.py')
K = 5

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def head_cfg(**kwargs):
    cfg = dict(type='TwoStageRegressionHead', in_channels=(16, 64), num_joints=K,
               crop_ratio=0.25, roi_size=4, hidden_channels=32, refine_channels=8,
               decoder=dict(type='RegressionLabel', input_size=(64, 64)))
    cfg.update(kwargs)
    return cfg


def tiny_model():
    """S2D-HRNet (r=2) on 64x64: maps at 8x8, 4x4, 2x2, 1x1."""
    init_default_scope('mmpose')
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='TopdownPoseEstimator',
        backbone=dict(type='S2DHRNet', extra=TINY_HRNET, downscale=2),
        neck=dict(type='SemanticFusionNeck', in_channels=(8, 16, 32, 64), out_channels=16),
        head=head_cfg()))


def samples(labels, weights):
    out = []
    for lab, wt in zip(labels, weights):
        s = PoseDataSample(metainfo=dict(input_size=(64, 64), input_center=np.array([32., 32.]),
                                         input_scale=np.array([64., 64.])))
        s.gt_instance_labels = InstanceData(keypoint_labels=torch.as_tensor(lab)[None].float(),
                                            keypoint_weights=torch.as_tensor(wt)[None].float())
        s.gt_instances = InstanceData(bboxes=np.array([[0., 0., 63., 63.]]),
                                      bbox_scores=np.ones(1, np.float32))
        out.append(s)
    return out


def test_neck_fuses_all_levels_into_the_finest_and_passes_the_deepest_through():
    neck = MODELS.build(dict(type='SemanticFusionNeck', in_channels=(4, 8, 16), out_channels=6))
    neck.eval()
    feats = [torch.randn(2, 4, 9, 7), torch.randn(2, 8, 5, 4), torch.randn(2, 16, 3, 2)]
    fused, deepest = neck(feats)
    assert fused.shape == (2, 6, 9, 7)            # odd sizes: resized to the exact size
    assert deepest is feats[-1]
    feats[-1] = feats[-1] + 1                     # the deepest level reaches the fine map
    assert not torch.allclose(neck(feats)[0], fused)
    with pytest.raises(ValueError, match='expects 3 feature levels'):
        neck(feats[:2])


def test_head_outputs_and_initial_state():
    head = MODELS.build(head_cfg()).eval()
    feats = (torch.randn(3, 16, 8, 8), torch.randn(3, 64, 1, 1))
    coarse, residual = head.forward_stages(feats)
    assert coarse.shape == residual.shape == head(feats).shape == (3, K, 2)
    # starts at the crop centre with no correction
    assert torch.allclose(coarse, torch.full_like(coarse, 0.5), atol=0.05)
    assert residual.abs().max() < 0.05


def test_refinement_sees_only_the_window_around_the_stage1_estimate():
    head = MODELS.build(head_cfg(crop_ratio=0.125)).eval()
    torch.nn.init.zeros_(head.stage1[-1].weight)
    torch.nn.init.constant_(head.stage1[-1].bias, -0.25)   # every landmark at (0.25, 0.25)
    fine, deep = torch.randn(1, 16, 32, 32), torch.randn(1, 64, 1, 1)
    with torch.no_grad():
        _, residual = head.forward_stages((fine, deep))
        far = fine.clone()
        far[..., 16:, :] += 5                    # far below the 4x4-cell window at (8, 8)
        assert torch.equal(head.forward_stages((far, deep))[1], residual)
        near = fine.clone()
        near[..., 7:9, 7:9] += 5
        assert not torch.allclose(head.forward_stages((near, deep))[1], residual)


def test_regression_label_round_trip_and_weights():
    codec = RegressionLabel(input_size=(64, 48))
    kpts = np.array([[[0., 0.], [63., 47.], [10.25, 30.75], [70., 5.], [5., 5.]]])
    visible = np.array([[1., 1., 1., 1., 0.]])
    enc = codec.encode(kpts, visible)
    assert enc['keypoint_labels'].shape == (1, 5, 2)
    np.testing.assert_allclose(enc['keypoint_labels'][0, 2], [10.25 / 64, 30.75 / 48])
    np.testing.assert_array_equal(enc['keypoint_weights'], [[1, 1, 1, 0, 0]])  # outside, missing
    dec, scores = codec.decode(enc['keypoint_labels'])
    np.testing.assert_allclose(dec, kpts, atol=1e-4)
    assert scores.shape == (1, 5)


def test_missing_landmarks_do_not_contribute_to_the_loss():
    head = MODELS.build(head_cfg()).eval()
    feats = (torch.randn(2, 16, 8, 8), torch.randn(2, 64, 1, 1))
    labels = torch.rand(2, K, 2)
    weights = torch.ones(2, K)
    weights[0, 1] = 0
    losses = head.loss(feats, samples(labels, weights))

    coarse, residual = head.forward_stages(feats)              # by hand
    refined = coarse + residual * 0.25 / 2
    w = weights[..., None]
    det = (w * (coarse - labels)).abs().sum() / (2 * K * 2)    # mean over B*K*2 entries
    refine = sum((w[:, k] * (refined[:, k] - labels[:, k])).abs().sum() / (2 * 2)
                 for k in range(K))                            # sum over landmarks of means
    assert torch.allclose(losses['loss_det'], det)
    assert torch.allclose(losses['loss_refine'], refine)

    moved = labels.clone()
    moved[0, 1] = torch.tensor([5.0, -3.0])                    # a wild label where weight is 0
    again = head.loss(feats, samples(moved, weights))
    assert torch.equal(again['loss_det'], losses['loss_det'])
    assert torch.equal(again['loss_refine'], losses['loss_refine'])
    counted = head.loss(feats, samples(moved, torch.ones(2, K)))
    assert counted['loss_det'] > losses['loss_det'] + 0.1      # with weight 1 it would count


def test_loss_decreases_end_to_end():
    model = tiny_model().train()
    torch.manual_seed(1)
    inputs = torch.randn(4, 3, 64, 64)
    labels = torch.rand(4, K, 2) * 0.6 + 0.2
    data = samples(labels, torch.ones(4, K))
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = []
    for _ in range(25):
        losses = model(inputs, data, mode='loss')
        total = losses['loss_det'] + losses['loss_refine']
        optim.zero_grad()
        total.backward()
        optim.step()
        history.append((losses['loss_det'].item(), losses['loss_refine'].item()))
    det, refine = np.array(history).T
    assert (det + refine)[-3:].mean() < 0.5 * (det + refine)[0], history
    assert refine[-3:].mean() < 0.5 * refine[0], history


def test_refinement_loss_does_not_move_stage1():
    head = MODELS.build(head_cfg()).eval()
    feats = (torch.randn(2, 16, 8, 8), torch.randn(2, 64, 1, 1))
    losses = head.loss(feats, samples(torch.rand(2, K, 2), torch.ones(2, K)))
    losses['loss_refine'].backward(retain_graph=True)
    assert head.stage1[-1].weight.grad is None                  # windows at detached stage 1
    assert head.refine_out.weight.grad.abs().sum() > 0
    losses['loss_det'].backward()
    assert head.stage1[-1].weight.grad.abs().sum() > 0


def test_predict_returns_image_pixels_with_scores():
    model = tiny_model().eval()
    inputs = torch.randn(1, 3, 64, 64)
    data = samples(torch.zeros(1, K, 2), torch.ones(1, K))
    data[0].set_metainfo(dict(input_center=np.array([100., 200.]),
                              input_scale=np.array([128., 128.])))
    with torch.no_grad():
        normalised = model(inputs, None, mode='tensor')
        pred = model(inputs, data, mode='predict')[0].pred_instances
    assert pred.keypoints.shape == (1, K, 2)
    # input pixels = normalised * 64 (codec); image = input * 128/64 + centre - scale/2
    expected = normalised[0].numpy() * 64 * 2 + np.array([100., 200.]) - 64
    np.testing.assert_allclose(pred.keypoints[0], expected, rtol=1e-5, atol=1e-4)
    assert pred.keypoint_scores.shape == (1, K)
    assert ((pred.keypoint_scores > 0.9) & (pred.keypoint_scores <= 1)).all()  # no correction yet


def test_score_falls_as_the_refinement_moves_the_point():
    head = MODELS.build(head_cfg()).eval()
    torch.nn.init.zeros_(head.refine_out.weight)
    feats = (torch.randn(1, 16, 8, 8), torch.randn(1, 64, 1, 1))
    with torch.no_grad():
        head.refine_out.bias.copy_(torch.tensor([0.3, -0.1]))   # 0.3 half-crops
        np.testing.assert_allclose(head.predict(feats, None)[0].keypoint_scores, 0.7, rtol=1e-5)
        head.refine_out.bias.copy_(torch.tensor([0.0, -1.5]))   # left the window it saw
        np.testing.assert_array_equal(head.predict(feats, None)[0].keypoint_scores, 0)
    with pytest.raises(NotImplementedError, match='flip'):
        head.predict(feats, None, dict(flip_test=True))


def test_config_builds_predicts_and_trains_on_regression_targets(tmp_path):
    init_default_scope('mmpose')
    cfg = Config.fromfile(CONFIG)
    assert cfg.custom_imports['imports'] == ['mmceph.registration']
    assert cfg.codec == dict(type='RegressionLabel', input_size=(448, 576))
    w, h = cfg.model.head.decoder.input_size
    model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, h, w), None, mode='tensor').shape == (1, 19, 2)

    rng = np.random.default_rng(0)                  # the train pipeline makes regression targets
    records = []
    for i in range(2):
        cv2.imwrite(str(tmp_path / f'{i}.png'), rng.integers(0, 255, (400, 300, 3), np.uint8))
        kpts = rng.uniform(40, 260, (19, 2))
        kpts[0] = np.nan                            # one missing landmark
        records.append(ImageRecord(f'{i}.png', 300, 400, kpts, (0.1, 0.1), 'fixture',
                                   bbox=(20, 20, 260, 360)))
    write_json_atomic(to_coco(records, [f'p{k}' for k in range(19)]),
                      str(tmp_path / cfg.train_dataloader.dataset.ann_file))
    ds_cfg = cfg.train_dataloader.dataset.copy()
    ds_cfg.update(data_root=str(tmp_path), data_prefix=dict(img=''))
    item = DATASETS.build(ds_cfg)[0]
    assert tuple(item['inputs'].shape) == (3, h, w)
    labels = item['data_samples'].gt_instance_labels
    assert tuple(labels.keypoint_labels.shape) == (1, 19, 2)
    assert float(labels.keypoint_weights[0, 0]) == 0 and float(labels.keypoint_weights[0, 1]) == 1
