# ISBI 2015, the stock-MMPose baseline a user would write today (as MMPose's face
# HRNetV2 configs): HRNetV2-W18 + MSRAHeatmap(unbiased=True) [DARK], 576x448 ROI crop.
# 18.3 GFLOPs per image: the reference the S2D recipe is compared with. Data, schedule,
# augmentation and evaluation are the S2D recipe's; only the model and codec differ.
# ImageNet-pretrained HRNet-W18 weights: model.backbone.init_cfg=dict(type='Pretrained',
# checkpoint='hrnet_w18-00eb2006.pth') (from OpenMMLab's model zoo, downloaded by you).
_base_ = ['./td-hm_s2d-hrnetv2-w18_1xb4-100e_isbi2015-576x448.py']

input_size = (448, 576)
dark_codec = dict(type='MSRAHeatmap', input_size=input_size, unbiased=True,
                  heatmap_size=(input_size[0] // 4, input_size[1] // 4), sigma=2)
codec = dict(_delete_=True, **dark_codec)    # (a _delete_ key must not leak into uses)
model = dict(
    backbone=dict(_delete_=True, type='HRNet', in_channels=3,
                  extra={{_base_.hrnetv2_w18_extra}}),
    head=dict(_delete_=True, type='HeatmapHead', in_channels=270, out_channels=19,
              deconv_out_channels=None, conv_out_channels=(270, ), conv_kernel_sizes=(1, ),
              loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=dark_codec))
train_pipeline = [
    dict(type='LoadCephalogram'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='RandomBBoxTransform', shift_factor=0.05, scale_factor=(0.9, 1.1),
         rotate_factor=10.0),
    dict(type='TopdownAffine', input_size=dark_codec['input_size']),
    dict(type='GenerateTarget', encoder=dark_codec),
    dict(type='PackPoseInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
