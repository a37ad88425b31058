# ISBI 2015, stage 2 of mmceph's low-cost recipe: the trained S2D global model (stage 1,
# frozen, loaded with load_from) + a local refiner on 128x128 patches around each landmark
# (patch side 0.16 x the global crop width: ~23 mm, ~0.18 mm per patch pixel on ISBI).
# Prediction: one refinement round, 5 patches per landmark (centre and 4 shifts of 0.15 of
# the side), their refined positions averaged. Cost per image: 1.36 GFLOPs global +
# 5 x 19 x 0.10 GFLOPs refiner = 11.2 GFLOPs (test_shifts=[[0, 0]]: 3.3 GFLOPs).
#
# Stage 1: mim train mmceph td-hm_s2d-hrnetv2-w18_1xb4-100e_isbi2015-576x448.py \
#              --work-dir work_dirs/isbi_s2d-hrnetv2
# Stage 2: mim train mmceph THIS_CONFIG --work-dir work_dirs/isbi_s2d-cascade
#          (--cfg-options load_from=... if your stage-1 checkpoint lives elsewhere)
_base_ = ['./td-hm_s2d-hrnetv2-w18_1xb4-100e_isbi2015-576x448.py',
          '../_base_/models/hrnetv2_w18_refiner.py']

load_from = 'work_dirs/isbi_s2d-hrnetv2/best_MRE.pth'
max_epochs = 60
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs,
         eta_min=1e-5, by_epoch=True)]

input_size = {{_base_.codec.input_size}}   # the global model's crop (w, h)
patch_size = (128, 128)
patch_codec = dict(type='CompensatedHeatmap', input_size=patch_size,
                   heatmap_size=(patch_size[0] // 4, patch_size[1] // 4), sigma=2)
# The patch geometry, set once here: the model cuts its test patches with patch_fraction,
# the train pipeline samples the training patches with the same value (and the refiner's
# codec), in the dataloader workers (SampleRefinerPatches, before TopdownAffine).
patch_fraction = 0.16
sample_patches = dict(type='SampleRefinerPatches', codecs=[patch_codec], input_size=input_size,
                      patch_fraction=patch_fraction, patches_per_image=19, jitter=0.12,
                      rotate=5.0, scale_range=(0.85, 1.15))
model = dict(
    type='LandmarkCascade',
    patch_fraction=patch_fraction, freeze_coarse=True, refine_steps=1,
    test_shifts=((0, 0), (0.15, 0), (-0.15, 0), (0, 0.15), (0, -0.15)),
    refiner=dict(
        type='TopdownPoseEstimator',
        backbone={{_base_.refiner_backbone}},
        neck=dict(type='FeatureMapProcessor', concat=True),
        head=dict(type='DepthToSpaceHeatmapHead', in_channels=270, out_channels=19,
                  upscale=2, conv_out_channels=(270, ), conv_kernel_sizes=(1, ),
                  loss=dict(type='KeypointMSELoss', use_target_weight=True),
                  decoder=patch_codec)))

# Training: the refiners' patches come from the full-resolution image before the crop
# (SampleRefinerPatches + the 'refiner_patches' meta key). Prediction cuts patches around
# the global estimate, so it needs the uncropped image (KeepFullImage + 'full_image').
meta_keys = ('id', 'img_id', 'img_path', 'category_id', 'crowd_index', 'ori_shape',
             'img_shape', 'input_size', 'input_center', 'input_scale', 'flip',
             'flip_direction', 'flip_indices', 'raw_ann_info', 'dataset_name', 'full_image',
             'refiner_patches')
train_pipeline = [
    dict(type='LoadCephalogram'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='RandomBBoxTransform', shift_factor=0.05, scale_factor=(0.9, 1.1),
         rotate_factor=10.0),
    sample_patches,
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs', meta_keys=meta_keys)]
val_pipeline = [
    dict(type='LoadCephalogram'),
    dict(type='KeepFullImage'),
    dict(type='ApplyRoiPrior'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs', meta_keys=meta_keys)]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
