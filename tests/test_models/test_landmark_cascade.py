"""LandmarkCascade: patch geometry, refiner training, prediction, and a real runner run."""
import copy
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpose.registry import MODELS, TRANSFORMS
from mmpose.structures import PoseDataSample
from tiny_models import TINY_HRNET

import mmceph  # noqa: F401
from mmceph.core.warp import apply_affine

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SYNTHETIC = osp.join(REPO,
                     'configs/synthetic/td-hm_hrnetv2-w18-small_1xb8-30e_synthetic-192x160.py')
ISBI = osp.join(REPO, 'configs/isbi2015',
                'td-hm-cascade_s2d-hrnetv2-w18-ref-s2d-hrnetv2-small_1xb4-60e_isbi2015-576x448.py')

pytestmark = pytest.mark.usefixtures('one_torch_thread')


PATCH_FRACTION = 0.3      # one value for the tiny model and its patch sampler


def patch_codec(patch=32):
    return dict(type='CompensatedHeatmap', input_size=(patch, patch),
                heatmap_size=(patch // 4, patch // 4), sigma=1.5)


def tiny_cascade(freeze_coarse=True, refine_steps=1, patch=32, head_convs=None):
    """A cascade with the synthetic config's global model (tiny) and a tiny HRNet refiner."""
    init_default_scope('mmpose')
    cfg = Config.fromfile(SYNTHETIC).model
    cfg.backbone.extra = copy.deepcopy(TINY_HRNET)
    cfg.head.update(in_channels=120, conv_out_channels=(16, ))
    codec = patch_codec(patch)
    refiner = dict(type='TopdownPoseEstimator',
                   backbone=dict(type='HRNet', in_channels=3, extra=copy.deepcopy(TINY_HRNET)),
                   neck=dict(type='FeatureMapProcessor', concat=True),
                   head=dict(type='DepthToSpaceHeatmapHead', in_channels=120, out_channels=19,
                             upscale=1, conv_out_channels=head_convs,
                             conv_kernel_sizes=head_convs and (1, ) * len(head_convs),
                             loss=dict(type='KeypointMSELoss', use_target_weight=True),
                             decoder=codec))
    return dict(cfg.to_dict(), type='LandmarkCascade', refiner=refiner,
                patch_fraction=PATCH_FRACTION, refine_steps=refine_steps,
                freeze_coarse=freeze_coarse)


def tiny_sampler(refiners=1, patch=32, **kwargs):
    """The train pipeline's patch sampler for ``tiny_cascade`` (``refiners`` of them)."""
    kwargs.setdefault('patch_fraction', PATCH_FRACTION)
    return TRANSFORMS.build(dict(type='SampleRefinerPatches', input_size=(160, 192),
                                 codecs=[patch_codec(patch)] * refiners, patches_per_image=19,
                                 **kwargs))


def pipeline_results(rng, k=19, size=(240, 192)):
    """What the train pipeline holds before TopdownAffine: full image, landmarks, box."""
    h, w = size
    kpts = np.c_[rng.uniform(30, w - 30, k), rng.uniform(30, h - 30, k)]
    return dict(img=rng.integers(0, 255, (h, w, 3), dtype=np.uint8),
                keypoints=kpts[None].astype(np.float32), keypoints_visible=np.ones((1, k)),
                bbox_scale=np.array([[w, w * 1.2]], np.float32))


def sample_with_image(rng, k=19, size=(240, 192), sampler=None):
    """A data sample as the train pipeline packs it: the refiners' patches and targets."""
    results = (sampler or tiny_sampler()).transform(pipeline_results(rng, k, size))
    return PoseDataSample(metainfo=dict(refiner_patches=results['refiner_patches'])), \
        results['keypoints'][0]


def predict_sample(seed=3):
    from mmengine.structures import InstanceData
    rng = np.random.default_rng(seed)
    h, w = 240, 192
    sample = PoseDataSample(metainfo=dict(
        full_image=rng.integers(0, 255, (h, w, 3), dtype=np.uint8),
        input_center=np.array([w / 2, h / 2], np.float32),
        input_scale=np.array([w, w * 1.2], np.float32), input_size=(160, 192),
        ori_shape=(h, w), img_shape=(h, w)))
    sample.gt_instances = InstanceData(bboxes=np.array([[0.0, 0.0, 192.0, 240.0]]),
                                       bbox_scores=np.ones(1))
    return sample


def test_patch_warp_centres_the_point_and_inverts_exactly():
    model = MODELS.build(tiny_cascade())
    image = np.zeros((240, 192, 3), np.uint8)
    centres = np.array([[50.0, 70.0], [120.5, 33.25]])
    batch, warps = model._cut(image, centres, np.array([40.0, 60.0]), np.array([0.0, 30.0]),
                                (32, 32))
    assert tuple(batch.shape) == (2, 3, 32, 32)
    # the patch centre (15.5, 15.5) in the output maps back to the requested centre
    for warp, centre in zip(warps, centres):
        np.testing.assert_allclose(apply_affine(warp, centre[None]), [[16.0, 16.0]], atol=1e-4)
    # a bright pixel lands where the warp says it does
    image[70, 50] = 255
    batch, warps = model._cut(image, centres[:1], np.array([32.0]), np.array([0.0]), (32, 32))
    peak = np.unravel_index(batch[0, 0].argmax().item(), (32, 32))
    np.testing.assert_allclose(apply_affine(warps[0], np.array([[50.0, 70.0]]))[0],
                               peak[::-1], atol=1.0)


def test_refiner_loss_decreases_and_the_frozen_global_model_does_not_move():
    torch.manual_seed(0)
    model = MODELS.build(tiny_cascade(freeze_coarse=True))
    np.random.seed(0)
    rng = np.random.default_rng(1)
    samples = [sample_with_image(rng)[0] for _ in range(2)]     # the same patches each step
    inputs = torch.zeros(2, 3, 192, 160)
    global_before = [p.detach().clone() for p in model.backbone.parameters()]
    refiner_before = [p.detach().clone() for p in model.refiner.parameters()]
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    assert not model.backbone.training and model.refiner.training
    first = last = None
    for _step in range(25):
        losses = model.loss(inputs, samples)
        assert set(losses) == {'loss_refine'}
        optim.zero_grad()
        losses['loss_refine'].backward()
        optim.step()
        first = first if first is not None else float(losses['loss_refine'])
        last = float(losses['loss_refine'])
    assert np.isfinite(last) and last < 0.5 * first
    assert all(torch.equal(a, b) for a, b in zip(global_before, model.backbone.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(refiner_before, model.refiner.parameters()))


def test_joint_training_adds_the_global_loss():
    model = MODELS.build(tiny_cascade(freeze_coarse=False)).train()
    rng = np.random.default_rng(2)
    sample, _ = sample_with_image(rng)
    from mmengine.structures import InstanceData, PixelData
    sample.gt_fields = PixelData(heatmaps=torch.zeros(19, 48, 40))
    sample.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, 19))
    sample.gt_instances = InstanceData(keypoints_visible=np.ones((1, 19)))
    losses = model.loss(torch.zeros(1, 3, 192, 160), [sample])
    assert {'loss_kpt', 'loss_refine'} <= set(losses)
    assert model.backbone.training


def test_predict_refines_every_landmark_and_drops_the_full_image():
    model = MODELS.build(tiny_cascade(refine_steps=2)).eval()
    sample = predict_sample(seed=3)
    inputs = torch.rand(1, 3, 192, 160)
    with torch.no_grad():
        model.refine_steps = 0
        coarse = model.predict(inputs, [copy.deepcopy(sample)])[0].pred_instances.keypoints
        model.refine_steps, model.max_shift = 2, 0.0       # trust region of zero: undone
        undone = model.predict(inputs, [copy.deepcopy(sample)])[0].pred_instances.keypoints
        model.max_shift = None
        patches = []
        heatmaps_of = model._heatmaps_of
        model._heatmaps_of = lambda r: (lambda x: patches.append(len(x)) or heatmaps_of(r)(x))
        out = model.predict(inputs, [sample])[0]
    np.testing.assert_array_equal(undone, coarse)
    kpts = out.pred_instances.keypoints
    assert kpts.shape == (1, 19, 2) and np.isfinite(kpts).all()
    assert out.pred_instances.keypoint_scores.shape == (1, 19)
    # every landmark: one patch each per round, and each one moved by the refiner
    assert patches == [19, 19] and model.refined_landmarks == 19
    moved = np.abs(kpts - coarse).max(axis=-1)[0]
    assert (moved > 0).all(), moved
    assert 'full_image' not in out                      # not dumped by tools/test.py --dump


def test_refine_only_moves_just_those_landmarks_exactly_as_refining_all_would():
    model = MODELS.build(tiny_cascade(refine_steps=2)).eval()
    sample = predict_sample(seed=3)
    inputs = torch.rand(1, 3, 192, 160)
    with torch.no_grad():
        every = model.predict(inputs, [copy.deepcopy(sample)])[0].pred_instances.keypoints
        model.refine_steps = 0
        coarse = model.predict(inputs, [copy.deepcopy(sample)])[0].pred_instances.keypoints
        picked = [4, 0, 17]
        subset = MODELS.build(dict(tiny_cascade(refine_steps=2), refine_only=picked)).eval()
        subset.load_state_dict(model.state_dict())
        patches = []
        heatmaps_of = subset._heatmaps_of
        subset._heatmaps_of = lambda r: (lambda x: patches.append(len(x)) or heatmaps_of(r)(x))
        only = subset.predict(inputs, [copy.deepcopy(sample)])[0].pred_instances.keypoints
    others = [k for k in range(19) if k not in picked]
    np.testing.assert_array_equal(only[0, others], coarse[0, others])   # untouched
    # the same patches, batched 3 instead of 19 at a time: equal to float tolerance
    np.testing.assert_allclose(only[0, picked], every[0, picked], atol=0.05)
    assert np.abs(only[0, picked] - coarse[0, picked]).max() > 0
    assert patches == [3, 3] and subset.refined_landmarks == 3     # 2 rounds x 3 patches
    for bad in ([], [0, 0], [19], [-1]):
        with pytest.raises(ValueError, match='refine_only must list distinct landmark indices'):
            MODELS.build(dict(tiny_cascade(), refine_only=bad))


def test_test_views_combine_every_shift_and_scale_by_mean_or_median():
    model = MODELS.build(dict(tiny_cascade(), test_shifts=[[0, 0], [0.1, 0]],
                              test_scales=[0.9, 1.0, 1.2])).eval()
    assert model.views_per_landmark == 6
    image = np.random.default_rng(4).integers(0, 255, (240, 192, 3), dtype=np.uint8)
    kpts = np.random.default_rng(5).uniform(40, 150, (19, 2)).astype(np.float32)
    views, _ = model._refine_views(model.refiner, image, kpts, 50.0)
    assert views.shape == (6, 19, 2)
    np.testing.assert_allclose(model.refine(image, kpts, 50.0 / 0.3)[0], views.mean(0), atol=1e-4)
    model.test_reduce = 'median'
    np.testing.assert_allclose(model.refine(image, kpts, 50.0 / 0.3)[0], np.median(views, 0),
                               atol=1e-4)
    with pytest.raises(ValueError, match='test_reduce'):
        MODELS.build(dict(tiny_cascade(), test_reduce='max'))


def test_an_ensemble_of_refiners_trains_each_and_averages_their_predictions():
    torch.manual_seed(0)
    single = tiny_cascade()
    cfg = dict(single, refiner=[single['refiner'], single['refiner']],
               patch_fraction=[0.25, 0.35])
    model = MODELS.build(cfg)
    sampler = tiny_sampler(2, patch_fraction=[0.25, 0.35], rotate=[15, 5])
    assert len(model.refiners) == 2 and model.patch_fraction == [0.25, 0.35]
    assert sampler.patch_fraction == model.patch_fraction
    assert sampler.scale_range == [(0.85, 1.15)] * 2 and sampler.rotate == [15.0, 5.0]
    assert any(k.startswith('refiner.1.') for k in model.state_dict())
    # init_weights reaches every refiner (MMPose heads start near zero: std 0.001)
    model.init_weights()
    for refiner in model.refiners:
        final = [p for n, p in refiner.head.named_parameters() if n.startswith('final_layer')
                 and n.endswith('weight')]
        assert final and all(float(p.std()) < 0.01 for p in final)
    losses = model.train().loss(torch.zeros(1, 3, 192, 160), [sample_with_image(
        np.random.default_rng(6), sampler=sampler)[0]])
    assert set(losses) == {'loss_refine0', 'loss_refine1'}
    sum(losses.values()).backward()
    assert all(next(r.parameters()).grad is not None for r in model.refiners)
    # prediction: the mean of what each refiner alone predicts from the same global estimate
    model.eval()
    image = np.random.default_rng(7).integers(0, 255, (240, 192, 3), dtype=np.uint8)
    kpts = np.random.default_rng(8).uniform(40, 150, (19, 2)).astype(np.float32)
    each = [model._refine_views(r, image, kpts, f * 100.0)[0][0]
            for r, f in zip(model.refiners, model.patch_fraction)]
    np.testing.assert_allclose(model.refine(image, kpts, 100.0)[0], np.mean(each, 0), atol=1e-4)
    out = model.predict(torch.rand(1, 3, 192, 160), [predict_sample()])[0]
    assert np.isfinite(out.pred_instances.keypoints).all()
    with pytest.raises(ValueError, match='patch_fraction: 3 values for 2 refiners'):
        MODELS.build(dict(cfg, patch_fraction=[0.2, 0.3, 0.4]))


def test_landmark_patch_scales_reach_every_refiner_and_are_checked_against_k():
    model = MODELS.build(dict(tiny_cascade(), landmark_patch_scales=[1.0] * 18 + [2.0]))
    assert all(r.landmark_scales.tolist() == [1.0] * 18 + [2.0] for r in model.core_refiners())
    assert MODELS.build(tiny_cascade()).core_refiners()[0].landmark_scales is None
    with pytest.raises(ValueError, match='has 3 values, the model has 19 landmarks'):
        MODELS.build(dict(tiny_cascade(), landmark_patch_scales=[1.0, 1.0, 2.0]))


def test_missing_full_image_names_the_fix():
    model = MODELS.build(tiny_cascade()).eval()
    sample = PoseDataSample(metainfo=dict(input_center=np.array([80.0, 96.0]),
                                          input_scale=np.array([160.0, 192.0]),
                                          input_size=(160, 192), ori_shape=(240, 192)))
    with pytest.raises(KeyError, match='KeepFullImage'):
        model.predict(torch.zeros(1, 3, 192, 160), [sample])


def test_training_without_the_pipeline_patches_names_the_fix():
    model = MODELS.build(tiny_cascade()).train()
    with pytest.raises(KeyError, match='SampleRefinerPatches'):
        model.loss(torch.zeros(1, 3, 192, 160), [PoseDataSample()])
    two = sample_with_image(np.random.default_rng(0), sampler=tiny_sampler(2))[0]
    with pytest.raises(ValueError, match='2 refiners, the model has 1'):
        model.loss(torch.zeros(1, 3, 192, 160), [two])
    # the sampling settings have one owner now: an old-style model config says where they went
    with pytest.raises(TypeError, match='jitter moved to .*SampleRefinerPatches'):
        MODELS.build(dict(tiny_cascade(), jitter=0.1))


def test_cascade_trains_and_tests_in_the_mmengine_runner(tmp_path):
    """The real runner: patches sampled in the train pipeline (two dataloader workers),
    KeepFullImage for prediction, the metric on refined landmarks, the best checkpoint,
    and a reload through load_from (how stage 2 starts)."""
    data = tmp_path / 'data'
    subprocess.run([sys.executable, '-m', 'data_converters', 'synthetic', '--out', str(data),
                    '--num-images', '8', '--width', '192', '--height', '240'],
                   cwd=REPO, check=True, capture_output=True)
    cfg = Config.fromfile(SYNTHETIC)
    cfg.model = tiny_cascade(freeze_coarse=False)
    sampler = dict(type='SampleRefinerPatches', codecs=[cfg.model['refiner']['head']['decoder']],
                   input_size=cfg.input_size, patch_fraction=cfg.model['patch_fraction'],
                   patches_per_image=19)
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.update(num_workers=0, persistent_workers=False, batch_size=4)
        loader.dataset.data_root = f'{data}/'
        pipeline = loader.dataset.pipeline
        types = [t['type'] for t in pipeline]
        if loader is cfg.train_dataloader:
            pipeline.insert(types.index('TopdownAffine'), sampler)
            loader.update(num_workers=2, persistent_workers=False)
        else:
            pipeline.insert(1, dict(type='KeepFullImage'))
        pipeline[-1] = dict(type='PackPoseInputs', meta_keys=Config.fromfile(ISBI).meta_keys)
    cfg.train_cfg.update(max_epochs=2, val_interval=2)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.default_hooks.pop('visualization', None)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert (tmp_path / 'work' / 'best_MRE.pth').is_file()
    cfg.load_from = str(tmp_path / 'work' / 'best_MRE.pth')
    cfg.work_dir = str(tmp_path / 'test')
    metrics = Runner.from_cfg(cfg).test()
    assert np.isfinite(metrics['MRE']) and metrics['MRE'] > 0
    # inference on a new image goes through the same pipeline (tools/infer.py's path)
    from mmceph.apis.inference import LandmarkPredictor
    predictor = LandmarkPredictor(cfg, str(tmp_path / 'work' / 'best_MRE.pth'))
    image = sorted((data / 'images').glob('*.png'))[0] if (data / 'images').is_dir() \
        else sorted(data.rglob('*.png'))[0]
    result, _, kpts = predictor.predict(image)
    assert kpts.shape == (19, 2) and np.isfinite(kpts).all()
    assert len(result['landmarks']) == 19
    # and through MMPose's own inferencer, with the same result
    from mmpose.apis import MMPoseInferencer
    cfg.dump(str(tmp_path / 'cascade.py'))
    inferencer = MMPoseInferencer(pose2d=str(tmp_path / 'cascade.py'), device='cpu',
                                  pose2d_weights=str(tmp_path / 'work' / 'best_MRE.pth'))
    pred = next(inferencer(str(image), return_vis=False))['predictions'][0][0]
    np.testing.assert_allclose(pred['keypoints'], kpts, atol=0.05)


def test_isbi_cascade_config_starts_from_the_stage_one_checkpoint():
    cfg = Config.fromfile(ISBI)
    assert cfg.load_from == 'work_dirs/isbi_s2d-hrnetv2/best_MRE.pth'
    assert cfg.model.type == 'LandmarkCascade' and cfg.model.freeze_coarse
    # training: patches from the full-resolution image, before the crop; no full image carried
    train = cfg.train_dataloader.dataset.pipeline
    types = [t['type'] for t in train]
    assert types.index('SampleRefinerPatches') < types.index('TopdownAffine')
    assert 'KeepFullImage' not in types and 'refiner_patches' in train[-1]['meta_keys']
    # prediction: the uncropped image reaches the model
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        types = [t['type'] for t in loader.dataset.pipeline]
        assert types.index('KeepFullImage') < types.index('TopdownAffine')
        assert 'full_image' in loader.dataset.pipeline[-1]['meta_keys']


@pytest.mark.parametrize('name', [
    'td-hm-cascade_s2d-hrnetv2-w18-ref-s2d-hrnetv2-small_1xb4-60e_isbi2015-576x448.py',
    'td-hm-cascade_s2d-hrnetv2-w18-ref-s2d-hrnetv2-small-x2_1xb4-60e_isbi2015-576x448.py',
    'td-vote-cascade_s2d-hrnetv2-w18-ref-s2d-hrnetv2-small_1xb4-60e_isbi2015-576x448.py',
    'td-hm-cascade_lite0-fpn-ref-lite0-fpn-context_1xb4-20e_isbi2015-576x448.py'])
def test_cascade_configs_give_model_and_sampler_the_same_patch_settings(name):
    cfg = Config.fromfile(osp.join(REPO, 'configs/isbi2015', name))
    sampler, = [t for t in cfg.train_dataloader.dataset.pipeline
                if t['type'] == 'SampleRefinerPatches']
    affine, = [t for t in cfg.train_dataloader.dataset.pipeline if t['type'] == 'TopdownAffine']
    refiners = cfg.model.refiner if isinstance(cfg.model.refiner, list) else [cfg.model.refiner]
    assert sampler['codecs'] == [r['head']['decoder'] for r in refiners]
    assert sampler['patch_fraction'] == cfg.model.patch_fraction
    assert sampler.get('landmark_patch_scales') == cfg.model.get('landmark_patch_scales')
    assert tuple(sampler['input_size']) == tuple(affine['input_size'])
    built = TRANSFORMS.build(sampler)
    assert len(built.patch_fraction) == len(refiners)


def attach_refiner(argv):
    """tools/analysis_tools/attach_refiner.py's command line, in this process."""
    from run_tool import run_tool
    return run_tool('tools/analysis_tools/attach_refiner.py', argv)


def test_attach_refiner_combines_a_global_model_with_a_trained_refiner(tmp_path, capsys):
    main = attach_refiner
    torch.manual_seed(0)
    global_model = MODELS.build(tiny_cascade())
    cascade = MODELS.build(tiny_cascade())
    torch.save(dict(meta=dict(dataset_meta=dict(roi_prior=[0.1, 0.1, 0.9, 0.9])),
                    state_dict=global_model.state_dict(), optimizer={}), tmp_path / 'global.pth')
    torch.save(dict(meta={}, state_dict=cascade.state_dict()), tmp_path / 'cascade.pth')
    main([str(tmp_path / 'global.pth'), str(tmp_path / 'cascade.pth'), str(tmp_path / 'out.pth')])
    out = torch.load(tmp_path / 'out.pth')
    assert out['meta']['dataset_meta']['roi_prior'] == [0.1, 0.1, 0.9, 0.9]
    assert out['meta']['attached'] == dict(global_model=str(tmp_path / 'global.pth'),
                                           refiners=[str(tmp_path / 'cascade.pth')])
    assert 'optimizer' not in out                       # an inference checkpoint
    state = out['state_dict']
    assert set(state) == set(cascade.state_dict())
    # loaded the way MMEngine loads it, every tensor lands where it came from (the output
    # carries no module versions: the refiner's head must not need them)
    from mmengine.runner import load_checkpoint
    fresh = MODELS.build(tiny_cascade(head_convs=(16, )))
    global_model, cascade = (MODELS.build(tiny_cascade(head_convs=(16, ))) for _ in range(2))
    torch.save(dict(meta={}, state_dict=global_model.state_dict()), tmp_path / 'global.pth')
    torch.save(dict(meta={}, state_dict=cascade.state_dict()), tmp_path / 'cascade.pth')
    main([str(tmp_path / 'global.pth'), str(tmp_path / 'cascade.pth'), str(tmp_path / 'out.pth')])
    load_checkpoint(fresh, str(tmp_path / 'out.pth'), strict=True)
    for key, value in fresh.state_dict().items():
        source = cascade if key.startswith('refiner.') else global_model
        assert torch.equal(value, source.state_dict()[key]), key
    # a donor without refiner weights is refused, and nothing is written
    plain = {k: v for k, v in cascade.state_dict().items() if not k.startswith('refiner.')}
    torch.save(dict(state_dict=plain), tmp_path / 'plain.pth')
    assert main([str(tmp_path / 'global.pth'), str(tmp_path / 'plain.pth'),
                 str(tmp_path / 'x.pth')]) == 1
    assert 'no refiner' in capsys.readouterr().err
    assert not (tmp_path / 'x.pth').exists()
    before = (tmp_path / 'global.pth').read_bytes()       # OUT may not be an input
    assert main([str(tmp_path / 'global.pth'), str(tmp_path / 'cascade.pth'),
                 str(tmp_path / 'global.pth')]) == 1
    assert 'must not overwrite an input' in capsys.readouterr().err
    assert (tmp_path / 'global.pth').read_bytes() == before


def test_attach_refiner_builds_an_ensemble_from_single_refiner_checkpoints(tmp_path, capsys):
    main = attach_refiner
    from mmengine.runner import load_checkpoint
    torch.manual_seed(0)
    single = tiny_cascade(head_convs=(16, ))
    ensemble_cfg = dict(single, refiner=[single['refiner']] * 2, patch_fraction=[0.25, 0.35])
    global_model, first, second = (MODELS.build(single) for _ in range(3))
    for name, model in (('global', global_model), ('a', first), ('b', second)):
        torch.save(dict(meta={}, state_dict=model.state_dict()), tmp_path / f'{name}.pth')
    main([str(tmp_path / p) for p in ('global.pth', 'a.pth', 'b.pth', 'out.pth')])
    fresh = MODELS.build(ensemble_cfg)
    load_checkpoint(fresh, str(tmp_path / 'out.pth'), strict=True)
    state = fresh.state_dict()
    for i, donor in enumerate((first, second)):
        for key, value in donor.refiner.state_dict().items():
            assert torch.equal(state[f'refiner.{i}.{key}'], value), key
    assert torch.equal(state['backbone.conv1.weight'],
                       global_model.state_dict()['backbone.conv1.weight'])
    # an ensemble checkpoint cannot be one member of another ensemble
    assert main([str(tmp_path / p) for p in ('global.pth', 'out.pth', 'a.pth', 'y.pth')]) == 1
    assert 'ensemble already' in capsys.readouterr().err
    assert not (tmp_path / 'y.pth').exists()
