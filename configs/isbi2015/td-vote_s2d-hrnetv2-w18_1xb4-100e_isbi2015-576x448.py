# ISBI 2015, global patch voting (Noothout et al. 2020) on mmceph's S2D-HRNetV2-W18:
# the concatenated HRNetV2 features at stride 16 (36x28 cells, HxW, for a 576x448 input) vote,
# per landmark, with a presence probability and a log-scaled displacement per 16x16 patch;
# the landmark is the probability-weighted mean of the 9 most probable votes.
# Data, schedule, pipelines and evaluation: as the heatmap recipe this file inherits.
# The paper's optional local refinement stage is not part of this recipe.
_base_ = ['./td-hm_s2d-hrnetv2-w18_1xb4-100e_isbi2015-576x448.py']

input_size = (448, 576)
patch_size = 16
# radius 2 patches: the holding patch and its neighbours (~12 patches) learn to vote.
codec = dict(type='PatchVotingLabel', input_size=input_size, patch_size=patch_size,
             radius=2 * patch_size, scale=1.0, topk=9)

model = dict(
    _delete_=True,
    type='CephalometricEstimator',  # TopdownPoseEstimator + site offsets (tools/adapt.py)
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone={{_base_.s2d_hrnetv2_w18}},
    # all four branches resized to the first one (stride 4 * downscale = 16) and concatenated
    neck=dict(type='FeatureMapProcessor', concat=True),
    head=dict(type='PatchVotingHead', in_channels=270, out_channels=19,
              conv_out_channels=(270, ), conv_kernel_sizes=(3, ),
              displacement_loss='l1', decoder=codec),
    test_cfg=dict(flip_test=False))

# GenerateTarget packs presence + displacements (gt_fields) and keypoint_weights
# (gt_instance_labels), as PatchVotingLabel's mapping tables say.
train_pipeline = [
    dict(type='LoadCephalogram'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='RandomBBoxTransform', shift_factor=0.05, scale_factor=(0.9, 1.1),
         rotate_factor=10.0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
