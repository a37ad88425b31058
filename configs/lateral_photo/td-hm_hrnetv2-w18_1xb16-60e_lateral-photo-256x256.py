# Lateral face photographs (19 points on 224x224 images, no pixel spacing: metrics in
# pixels, keys MRE_px / SDR_*px). HRNetV2-W18 fine-tuned from MMPose's AFLW face model,
# whose head has the same 19 outputs, so every weight loads. Download it first:
#   mkdir -p checkpoints && wget -P checkpoints \
#     https://download.openmmlab.com/mmpose/face/hrnetv2/hrnetv2_w18_aflw_256x256-f2bbc62b_20210125.pth
# (or train from scratch with --cfg-options load_from=None).
#
# Data: python -m data_converters photo-pickle --pickle FILE --out data/lateral_photo
_base_ = ['../_base_/default_runtime.py', '../_base_/models/hrnetv2_w18.py']

load_from = 'checkpoints/hrnetv2_w18_aflw_256x256-f2bbc62b_20210125.pth'
data_root = 'data/lateral_photo/'
input_size = (256, 256)
max_epochs = 60
train_cfg = dict(max_epochs=max_epochs, val_interval=2)
default_hooks = dict(checkpoint=dict(save_best='MRE_px', rule='less'))
custom_hooks = [dict(type='BestCheckpointAliasHook', key='MRE_px')]

optim_wrapper = dict(optimizer=dict(type='Adam', lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=200, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs,
         eta_min=1e-6, by_epoch=True)]
auto_scale_lr = dict(base_batch_size=16)

codec = dict(type='CompensatedHeatmap', input_size=input_size,
             heatmap_size=(input_size[0] // 4, input_size[1] // 4), sigma=2)
model = dict(
    type='CephalometricEstimator',  # TopdownPoseEstimator + site offsets (tools/adapt.py)
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone={{_base_.hrnetv2_w18}},
    neck=dict(type='FeatureMapProcessor', concat=True),
    head=dict(type='HeatmapHead', in_channels=270, out_channels=19, deconv_out_channels=None,
              conv_out_channels=(270, ), conv_kernel_sizes=(1, ),
              loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec),
    test_cfg=dict(flip_test=False))

dataset_type = 'LateralPhotoDataset'
data_mode = 'topdown'
# No flip: a lateral profile flipped is a profile facing the other way, not a new sample
# the model will meet (photos are taken facing one direction).
train_pipeline = [
    dict(type='LoadCephalogram'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='RandomBBoxTransform', shift_factor=0.05, scale_factor=(0.85, 1.15),
         rotate_factor=15.0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PhotometricDistortion'),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')]
val_pipeline = [
    dict(type='LoadCephalogram'),
    dict(type='ApplyRoiPrior'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')]

train_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file='annotations/train.json', data_prefix=dict(img=''),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file='annotations/val.json', data_prefix=dict(img=''),
                 test_mode=True, pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=16, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file='annotations/test.json', data_prefix=dict(img=''),
                 test_mode=True, pipeline=val_pipeline))
val_evaluator = dict(type='CephalometricMetric', radii=(2.0, 4.0, 6.0, 8.0))
test_evaluator = val_evaluator
