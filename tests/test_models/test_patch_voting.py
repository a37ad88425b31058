"""Patch voting (Noothout et al. 2020): codec grid, voting decoder, head, loss, config."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from mmpose.datasets.transforms import GenerateTarget, PackPoseInputs
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample
from tiny_models import TINY_HRNET

import mmceph.codecs.patch_voting  # noqa: F401  (registers PatchVotingLabel)
import mmceph.models.heads.patch_voting_head  # noqa: F401  (registers PatchVotingHead)
from mmceph.codecs.patch_voting import PatchVotingLabel, inverse_log_scale, log_scale

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'isbi2015',
                  'td-vote_s2d-hrnetv2-w18_1xb4-100e_isbi2015-576x448.py')

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def test_patch_centres_follow_the_area_aligned_grid():
    codec = PatchVotingLabel((64, 32), patch_size=16)
    centres = codec.patch_centres()
    assert centres.shape == (2, 2, 4)
    assert centres[0, 0].tolist() == [7.5, 23.5, 39.5, 55.5]        # s*j + (s-1)/2
    assert centres[1, :, 0].tolist() == [7.5, 23.5]
    with pytest.raises(ValueError, match='divisible'):
        PatchVotingLabel((60, 32), patch_size=16)


def two_votes(**kwargs):
    """Patch (0,0) votes (5.5, 4.5) with p=0.75, patch (1,0) votes (9.5, 8.5) with p=0.25."""
    codec = PatchVotingLabel((32, 32), patch_size=8, **kwargs)
    prob = np.zeros((1, 4, 4))
    prob[0, 0, 0], prob[0, 0, 1] = 0.75, 0.25
    disp = np.zeros((2, 4, 4))
    disp[:, 0, 0] = log_scale(np.array([2.0, 1.0]))       # centre (3.5, 3.5) + (2, 1)
    disp[:, 0, 1] = log_scale(np.array([-2.0, 5.0]))      # centre (11.5, 3.5) + (-2, 5)
    return codec.decode(prob, disp)


def test_decode_is_the_probability_weighted_mean_of_votes():
    kpts, scores = two_votes()
    np.testing.assert_allclose(kpts, [[[6.5, 5.5]]], atol=1e-5)   # 0.75*(5.5,4.5)+0.25*(9.5,8.5)
    assert kpts.shape == (1, 1, 2) and scores.shape == (1, 1)
    assert scores[0, 0] == pytest.approx(0.75)
    np.testing.assert_allclose(two_votes(topk=1)[0], [[[5.5, 4.5]]], atol=1e-5)
    np.testing.assert_allclose(two_votes(topk=2)[0], [[[6.5, 5.5]]], atol=1e-5)
    np.testing.assert_allclose(two_votes(threshold=0.5)[0], [[[5.5, 4.5]]], atol=1e-5)
    # nothing above the threshold: the most probable patch votes alone
    np.testing.assert_allclose(two_votes(threshold=0.9)[0], [[[5.5, 4.5]]], atol=1e-5)


def test_log_scaling_is_inverted_exactly():
    d = np.random.default_rng(0).uniform(-500, 500, 1000)
    for scale in (1.0, 4.0):
        t = log_scale(d, scale)
        np.testing.assert_allclose(inverse_log_scale(t, scale), d, rtol=1e-9, atol=1e-9)
        assert np.all(np.abs(t) < np.abs(d) / scale + 1e-12)   # compressed
    assert log_scale(np.e - 1) == pytest.approx(1.0)
    assert log_scale(-2 * (np.e - 1), 2.0) == pytest.approx(-1.0)


@pytest.mark.parametrize('patch_size,radius', [(8, 0.0), (16, 0.0), (32, 0.0), (16, 40.0)])
def test_encode_decode_round_trip_at_sub_pixel_landmarks(patch_size, radius):
    size = (4 * patch_size, 6 * patch_size)
    codec = PatchVotingLabel(size, patch_size=patch_size, radius=radius)
    rng = np.random.default_rng(patch_size)
    kpts = rng.uniform(-0.5, np.array(size) - 0.5, (1, 50, 2))
    enc = codec.encode(kpts)
    assert enc['presence'].shape == (50, 6, 4) and enc['displacements'].shape == (100, 6, 4)
    assert enc['keypoint_weights'].tolist() == [[1.0] * 50]
    # the patch with presence 1 holds the landmark
    centres = codec.patch_centres().reshape(2, -1)
    holder = (enc['presence'].reshape(50, -1) == 1).argmax(1)
    assert np.all(np.abs(kpts[0] - centres[:, holder].T) <= patch_size / 2)
    if radius == 0:
        assert np.all((enc['presence'] > 0).sum((1, 2)) == 1)   # one-hot
    else:
        assert np.all((enc['presence'] > 0).sum((1, 2)) > 1)
    decoded, scores = codec.decode(enc['presence'], enc['displacements'])
    assert np.abs(decoded - kpts).max() < 1e-3
    assert np.all(scores == 1)


def test_missing_and_outside_landmarks_weigh_zero():
    codec = PatchVotingLabel((32, 32), patch_size=8, radius=10)
    kpts = np.array([[[10.2, 20.7], [5, 5], [np.nan, np.nan], [40, 3], [3, -0.6]]])
    visible = np.array([[1, 0, 1, 1, 1]], np.float32)
    enc = codec.encode(kpts, visible)
    assert enc['keypoint_weights'].tolist() == [[1, 0, 0, 0, 0]]
    assert enc['presence'][0, 2, 1] == 1 and enc['presence'][0].sum() > 1
    assert not enc['presence'][1:].any() and not enc['displacements'][2:].any()
    assert np.isfinite(enc['displacements']).all()


def head_cfg(k=3, in_channels=8, size=(32, 32), patch_size=8, **kwargs):
    return dict(type='PatchVotingHead', in_channels=in_channels, out_channels=k,
                conv_out_channels=(16, ), conv_kernel_sizes=(3, ),
                decoder=dict(type='PatchVotingLabel', input_size=size, patch_size=patch_size,
                             **kwargs))


def test_head_output_shapes_and_grid_check():
    head = MODELS.build(head_cfg(size=(56, 40))).eval()
    logits, disp = head((torch.zeros(2, 8, 5, 7), ))
    assert logits.shape == (2, 3, 5, 7) and disp.shape == (2, 6, 5, 7)
    assert torch.sigmoid(logits).max() < 0.05            # low presence prior
    with pytest.raises(ValueError, match='patch_size'):
        head.predict((torch.zeros(1, 8, 4, 4), ), [PoseDataSample()])


def test_head_predict_decodes_sigmoid_votes_in_input_pixels():
    head = MODELS.build(head_cfg(k=1)).eval()
    logits = torch.full((2, 1, 4, 4), -20.0)
    logits[:, 0, 2, 1] = 20.0                             # patch centre (11.5, 19.5)
    disp = torch.zeros(2, 2, 4, 4)
    disp[:, :, 2, 1] = torch.tensor([float(log_scale(1.25)), float(log_scale(-3.0))])
    head.forward = lambda feats: (logits, disp)
    preds, fields = head.predict(None, [PoseDataSample()] * 2, dict(output_heatmaps=True))
    assert len(preds) == 2
    np.testing.assert_allclose(preds[1].keypoints, [[[12.75, 16.5]]], atol=1e-4)
    assert preds[1].keypoint_scores[0, 0] == pytest.approx(1.0)
    assert fields[0].heatmaps.shape == (1, 4, 4) and float(fields[0].heatmaps.max()) <= 1


def packed_sample(codec, kpts, visible, size):
    w, h = size
    results = dict(img=np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8),
                   keypoints=kpts, keypoints_visible=visible,
                   bbox=np.array([[0, 0, w, h]], np.float32), bbox_score=np.ones(1, np.float32),
                   input_size=size, input_center=np.array([w / 2, h / 2]),
                   input_scale=np.array([w, h], np.float64))
    return PackPoseInputs()(GenerateTarget(encoder=codec)(results))


def test_missing_landmark_does_not_change_the_loss():
    head = MODELS.build(head_cfg(k=2))
    codec = head_cfg()['decoder']
    kpts = np.array([[[10.0, 12.0], [20.0, 5.0]]])
    sample = packed_sample(codec, kpts, np.array([[1.0, 0.0]]), (32, 32))['data_samples']
    assert set(sample.gt_fields.keys()) == {'presence', 'displacements'}
    assert sample.gt_instance_labels.keypoint_weights.tolist() == [[1.0, 0.0]]
    logits, disp = torch.randn(1, 2, 4, 4), torch.randn(1, 4, 4, 4)
    head.forward = lambda feats: (logits, disp)
    before = head.loss(None, [sample])
    logits[:, 1] += 5
    disp[:, 2:] -= 3                                      # the missing landmark's channels
    after = head.loss(None, [sample])
    for key in ('loss_presence', 'loss_displacement'):
        assert before[key] > 0 and torch.isclose(before[key], after[key])
    logits[:, 0] += 1                                     # the labelled one's channels do count
    assert not torch.isclose(head.loss(None, [sample])['loss_presence'], after['loss_presence'])


def test_topdown_model_loss_decreases_and_predicts():
    init_default_scope('mmpose')
    size, k = (64, 64), 4
    head = head_cfg(k=k, in_channels=120, size=size, patch_size=8, radius=12, topk=4)
    model = MODELS.build(dict(
        type='TopdownPoseEstimator',
        backbone=dict(type='S2DHRNet', extra=TINY_HRNET, downscale=2),   # features at stride 8
        neck=dict(type='FeatureMapProcessor', concat=True),
        head=head, test_cfg=dict(flip_test=False)))
    model.init_weights()
    kpts = np.random.default_rng(1).uniform(4, 60, (1, k, 2))
    packed = [packed_sample(head['decoder'], kpts, np.ones((1, k)), size) for _ in range(2)]
    x = torch.stack([p['inputs'] for p in packed]).float()
    samples = [p['data_samples'] for p in packed]
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    losses = []
    for _ in range(10):
        parts = model(x, samples, mode='loss')
        loss = parts['loss_presence'] + parts['loss_displacement']
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append([float(v) for v in (loss, parts['loss_presence'],
                                          parts['loss_displacement'])])
    first, last = losses[0], losses[-1]
    assert last[0] < 0.8 * first[0] and last[1] < first[1] and last[2] < first[2], losses
    model.eval()
    with torch.no_grad():
        preds = model(x, samples, mode='predict')
    assert preds[0].pred_instances.keypoints.shape == (1, k, 2)
    assert np.isfinite(preds[0].pred_instances.keypoints).all()
    assert preds[0].pred_instances.keypoint_scores.shape == (1, k)


def test_config_builds_and_predicts_on_a_zero_image():
    init_default_scope('mmpose')
    cfg = Config.fromfile(CONFIG)
    assert cfg.model.head.type == 'PatchVotingHead' and 'keypoint_head' not in cfg.model
    gen = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'GenerateTarget']
    assert gen[0].encoder.type == 'PatchVotingLabel'
    assert gen[0].encoder == cfg.model.head.decoder
    w, h = cfg.model.head.decoder.input_size
    model = MODELS.build(cfg.model).eval()
    sample = PoseDataSample(metainfo=dict(input_size=(w, h), input_center=np.array([w / 2, h / 2]),
                                          input_scale=np.array([w, h], np.float64)))
    sample.gt_instances = InstanceData(bboxes=np.array([[0, 0, w, h]], np.float32),
                                       bbox_scores=np.ones(1))
    with torch.no_grad():
        logits, disp = model(torch.zeros(1, 3, h, w), None, mode='tensor')
        pred = model(torch.zeros(1, 3, h, w), [sample], mode='predict')[0].pred_instances
    assert logits.shape == (1, 19, h // 16, w // 16) and disp.shape == (1, 38, h // 16, w // 16)
    assert pred.keypoints.shape == (1, 19, 2) and np.isfinite(pred.keypoints).all()
    assert ((pred.keypoint_scores > 0) & (pred.keypoint_scores < 1)).all()
