# ISBI 2015: the pretrained EfficientNet-Lite0 global model + an ensemble of two local
# refiners, the pretrained Lite0 refiner (td-hm-cascade_lite0-fpn-ref-lite0-fpn_*) and the S2D
# cascade's HRNet refiner, both on ~23 mm patches, 5 views each, all 10 positions
# averaged. Cost per image: 2.33 + 5 x 19 x (0.14 + 0.10) = 25 GFLOPs.
# Weights: no training of its own; the two trained refiners attached to the Lite0 global
# model (refiner 0: Lite0, refiner 1: S2D, the order of `refiner` below):
#   python tools/analysis_tools/attach_refiner.py work_dirs/isbi_lite0-fpn/best_MRE.pth \
#       work_dirs/isbi_lite0-cascade-lite0/best_MRE.pth work_dirs/isbi_s2d48-cascade/best_MRE.pth \
#       work_dirs/isbi_lite0-cascade2/best_MRE.pth
_base_ = ['./td-hm-cascade_lite0-fpn-ref-lite0-fpn_1xb4-20e_isbi2015-576x448.py']

s2d_refiner = dict(
    type='TopdownPoseEstimator',
    backbone={{_base_.refiner_backbone}},   # configs/_base_/models/hrnetv2_w18_refiner.py
    neck=dict(type='FeatureMapProcessor', concat=True),
    head=dict(type='DepthToSpaceHeatmapHead', in_channels=270, out_channels=19,
              upscale=2, conv_out_channels=(270, ), conv_kernel_sizes=(1, ),
              loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder={{_base_.patch_codec}}))
patch_fraction = [0.16, 0.16]
model = dict(refiner=[{{_base_.model.refiner}}, s2d_refiner], patch_fraction=patch_fraction)
input_size = {{_base_.input_size}}
train_pipeline = [
    dict(type='LoadCephalogram'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='RandomBBoxTransform', shift_factor=0.05, scale_factor=(0.9, 1.1),
         rotate_factor=10.0),
    dict(type='SampleRefinerPatches', codecs=[{{_base_.patch_codec}}] * 2,
         input_size=input_size, patch_fraction=patch_fraction, patches_per_image=19,
         jitter=0.12, rotate=5.0, scale_range=(0.85, 1.15)),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
