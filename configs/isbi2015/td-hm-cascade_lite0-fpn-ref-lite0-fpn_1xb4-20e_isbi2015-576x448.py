# ISBI 2015: the pretrained EfficientNet-Lite0 global model (stage 1, frozen) + a local
# refiner that is itself a pretrained EfficientNet-Lite0 + FinestFPN on the cascade's
# 128x128 patches (ImageNet weights again; same patches, views and sampling as the S2D
# cascade). Cost per image: 2.3 GFLOPs global + 19 x 0.14 GFLOPs per test view.
#
# Stage 1: mim train mmceph td-hm_lite0-fpn_1xb4-40e_isbi2015-576x448.py \
#              --work-dir work_dirs/isbi_lite0-fpn
# Stage 2: mim train mmceph THIS_CONFIG --work-dir work_dirs/isbi_lite0-cascade-lite0
_base_ = ['./td-hm-cascade_lite0-fpn-ref-s2d-hrnetv2-small_1xb4-60e_isbi2015-576x448.py']

max_epochs = 20
train_cfg = dict(max_epochs=max_epochs, val_interval=5)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs,
         eta_min=1e-5, by_epoch=True)]

model = dict(
    refiner=dict(
        _delete_=True, type='TopdownPoseEstimator',
        backbone={{_base_.lite0_backbone}},
        neck={{_base_.lite0_neck}},
        head=dict(type='HeatmapHead', in_channels=48, out_channels=19,
                  deconv_out_channels=None,
                  loss=dict(type='KeypointMSELoss', use_target_weight=True),
                  decoder={{_base_.patch_codec}})))
