# ISBI 2015, mmceph's low-cost recipe: S2D-HRNetV2-W18 (r=4) + depth-to-space head +
# CompensatedHeatmap, on the ROI-prior crop at 576x448 (about 0.31 mm per input pixel).
# CPU-affordable (1.3 GFLOPs per image). For GPUs see the 1024x1024 variant.
#
# Data: python -m data_converters isbi2015 --root /path/to/ISBI2015 --out data/isbi2015
#       ln -s /path/to/ISBI2015 data/isbi2015/raw      (file_name is relative to the root)
# Selection: by MRE on the validation split (val.json: 20 fixed training ids, see
# data_converters/isbi2015.py), never on Test1; Test1 is the test split, scored once.
# Literature protocol (selection on Test1, optimistic; label such results "selected on
# Test1"): --cfg-options val_dataloader.dataset.ann_file=annotations/test1.json
_base_ = ['../_base_/default_runtime.py', '../_base_/models/hrnetv2_w18.py']

data_root = 'data/isbi2015/'
input_size = (448, 576)   # (w, h): about the ROI prior's aspect ratio; stock HRNet needs multiples of 32
max_epochs = 100
train_cfg = dict(max_epochs=max_epochs, val_interval=5)

optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs,
         eta_min=1e-5, by_epoch=True)]
auto_scale_lr = dict(base_batch_size=4)

codec = dict(type='CompensatedHeatmap', input_size=input_size,
             heatmap_size=(input_size[0] // 4, input_size[1] // 4), sigma=2)

# ImageNet-pretrained HRNet-W18 weights fit every layer but the stem's first conv:
# backbone.init_cfg=dict(type='Pretrained', checkpoint='hrnet_w18-00eb2006.pth') (a file
# from OpenMMLab's model zoo, downloaded by you). Left out so the recipe runs offline.
model = dict(
    type='CephalometricEstimator',  # TopdownPoseEstimator + site offsets (tools/adapt.py)
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone={{_base_.s2d_hrnetv2_w18}},
    neck=dict(type='FeatureMapProcessor', concat=True),
    head=dict(type='DepthToSpaceHeatmapHead', in_channels=270, out_channels=19, upscale=4,
              conv_out_channels=(270, ), conv_kernel_sizes=(1, ),
              loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec),
    test_cfg=dict(flip_test=False))

dataset_type = 'ISBI2015Dataset'
data_mode = 'topdown'
# No flip: a lateral cephalogram has no left/right landmark pairs to swap.
train_pipeline = [
    dict(type='LoadCephalogram'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='RandomBBoxTransform', shift_factor=0.05, scale_factor=(0.9, 1.1),
         rotate_factor=10.0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')]
val_pipeline = [
    dict(type='LoadCephalogram'),
    dict(type='ApplyRoiPrior'),   # at inference: the model's ROI prior becomes the bbox
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')]

train_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file='annotations/train.json', data_prefix=dict(img='raw/'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file='annotations/val.json', data_prefix=dict(img='raw/'),
                 test_mode=True, pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=4, num_workers=2, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_mode=data_mode,
                 ann_file='annotations/test1.json', data_prefix=dict(img='raw/'),
                 test_mode=True, pipeline=val_pipeline))
val_evaluator = dict(type='CephalometricMetric', clinical=True)   # + the 8 ISBI measurements
test_evaluator = val_evaluator
