# Demo recipe: a small HRNetV2-W18 (fewer blocks than the full model) trained from scratch
# on the synthetic cephalograms, sized to train on 2 CPU cores in a few minutes.
# Data: `python -m data_converters synthetic --out data/synthetic`.
_base_ = ['../_base_/default_runtime.py']

data_root = 'data/synthetic/'
input_size = (160, 192)   # (w, h) of the ROI crop fed to the network
max_epochs = 30
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
default_hooks = dict(logger=dict(interval=5))

optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=20, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs,
         eta_min=1e-5, by_epoch=True)]
auto_scale_lr = dict(base_batch_size=8)

# The recipes' codec (not MMPose's MSRAHeatmap): the torch-free ONNX runtime decodes
# CompensatedHeatmap only, so the demo model can be exported (make demo does).
codec = dict(type='CompensatedHeatmap', input_size=input_size,
             heatmap_size=(input_size[0] // 4, input_size[1] // 4), sigma=2)

model = dict(
    type='CephalometricEstimator',  # TopdownPoseEstimator + site offsets (tools/adapt.py)
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        type='HRNet', in_channels=3,
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK',
                        num_blocks=(2, ), num_channels=(32, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC',
                        num_blocks=(2, 2), num_channels=(18, 36)),
            stage3=dict(num_modules=1, num_branches=3, block='BASIC',
                        num_blocks=(2, 2, 2), num_channels=(18, 36, 72)),
            stage4=dict(num_modules=1, num_branches=4, block='BASIC',
                        num_blocks=(2, 2, 2, 2), num_channels=(18, 36, 72, 144),
                        multiscale_output=True),
            upsample=dict(mode='bilinear', align_corners=False))),
    neck=dict(type='FeatureMapProcessor', concat=True),
    head=dict(type='HeatmapHead', in_channels=270, out_channels=19, deconv_out_channels=None,
              conv_out_channels=(128, ), conv_kernel_sizes=(3, ),
              loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec),
    test_cfg=dict(flip_test=False))

dataset_type = 'ISBI2015Dataset'
data_mode = 'topdown'
# No flip: a lateral cephalogram has no left/right landmark pairs to swap.
train_pipeline = [
    dict(type='LoadCephalogram'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='RandomBBoxTransform', shift_factor=0.05, scale_factor=(0.9, 1.1),
         rotate_factor=8.0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')]
val_pipeline = [
    dict(type='LoadCephalogram'),
    dict(type='ApplyRoiPrior'),   # at inference: the model's ROI prior becomes the bbox
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')]

_loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(
    batch_size=8, **_loader, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file='annotations/train.json', data_prefix=dict(img=''),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8, **_loader, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file='annotations/val.json', data_prefix=dict(img=''),
                 test_mode=True, pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=8, **_loader, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file='annotations/test.json', data_prefix=dict(img=''),
                 test_mode=True, pipeline=val_pipeline))
val_evaluator = dict(type='CephalometricMetric')
test_evaluator = dict(type='CephalometricMetric')
