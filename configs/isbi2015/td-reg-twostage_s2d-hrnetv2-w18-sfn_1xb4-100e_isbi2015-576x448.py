# ISBI 2015, two-stage coordinate regression with refinement (CEPHMark-Net style) on the
# S2D-HRNetV2-W18 backbone of the low-cost heatmap recipe (data, crop, augmentation,
# schedule and evaluation are that recipe's, inherited from it).
#
# Stage 1: global average pool of the deepest HRNet branch + MLP -> all 19 landmarks
# (normalised to [0, 1] of the 576x448 input). Stage 2: per landmark, roi_align of a
# window of 1/8 of the input from the fused fine map (SemanticFusionNeck, stride 16)
# around the stage-1 estimate; one shared refinement head predicts a residual.
# Loss: L1 on stage 1 + sum over landmarks of L1 refinement losses. CEPHMark-Net uses MSE
# for stage 1 (loss=dict(type='MSELoss', use_target_weight=True) reproduces it); L1 is
# kept here because on normalised coordinates MSE's gradient shrinks with the error
# (errors of ~0.01 give gradients of ~0.02) and the refinement term would swamp it.
#
# Backbone: S2DHRNet (r=4), not stock HRNet: it costs ~1/13 of the FLOPs at this size,
# so it trains on a CPU. Its finest map is at 1/16 of the input (~5 mm per cell at ISBI
# scale); the refinement samples it bilinearly. On a GPU, stock HRNet (type='HRNet',
# finest map at 1/4) gives the refinement finer features: set in_channels accordingly.
_base_ = ['./td-hm_s2d-hrnetv2-w18_1xb4-100e_isbi2015-576x448.py']

input_size = (448, 576)   # (w, h), as the base; divisible by 4r = 16 for S2DHRNet
num_keypoints = 19
regression_codec = dict(type='RegressionLabel', input_size=input_size)
codec = dict(_delete_=True, **regression_codec)   # replaces the base's heatmap codec

model = dict(
    _delete_=True,
    type='CephalometricEstimator',  # TopdownPoseEstimator + site offsets (tools/adapt.py)
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone={{_base_.s2d_hrnetv2_w18}},
    neck=dict(type='SemanticFusionNeck', in_channels=(18, 36, 72, 144), out_channels=64),
    head=dict(
        type='TwoStageRegressionHead', in_channels=(64, 144), num_joints=num_keypoints,
        crop_ratio=1 / 8, roi_size=7, pool_size=1, hidden_channels=256, refine_channels=64,
        loss=dict(type='L1Loss', use_target_weight=True),
        refine_loss=dict(type='L1Loss', use_target_weight=True),
        decoder=regression_codec),
    test_cfg=dict(flip_test=False))

# Same augmentation as the base; only the target changes (RegressionLabel writes
# keypoint_labels and keypoint_weights, which PackPoseInputs packs into
# gt_instance_labels). The val/test pipeline generates no target and is inherited as is.
train_pipeline = [
    dict(type='LoadCephalogram'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='RandomBBoxTransform', shift_factor=0.05, scale_factor=(0.9, 1.1),
         rotate_factor=10.0),
    dict(type='TopdownAffine', input_size=regression_codec['input_size']),
    dict(type='GenerateTarget', encoder=regression_codec),
    dict(type='PackPoseInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
