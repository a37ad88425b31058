# ISBI 2015, issue 27's resolution lever: the Lite0 recipe on a 704x544 crop (1.5x the
# pixels of 576x448: ~0.26 mm per input pixel instead of ~0.31) with the same heatmap
# Gaussian in millimetres (sigma 2.5 heatmap pixels instead of 2). 30 epochs (cosine).
#
# python tools/analysis_tools/isbi_protocol.py THIS_CONFIG --work-dir work_dirs/isbi_lite0-704 \
#     --target random
_base_ = ['./td-hm_lite1-fpn_1xb4-30e_isbi2015-576x448.py']

input_size = (544, 704)   # (w, h), multiples of 32
codec = dict(type='CompensatedHeatmap', input_size=input_size,
             heatmap_size=(input_size[0] // 4, input_size[1] // 4), sigma=2.5)
model = dict(backbone=dict(type='EfficientNetLite0'), head=dict(decoder=codec))
train_pipeline = [
    dict(type='LoadCephalogram'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='RandomBBoxTransform', shift_factor=0.05, scale_factor=(0.9, 1.1),
         rotate_factor=10.0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')]
val_pipeline = [
    dict(type='LoadCephalogram'),
    dict(type='ApplyRoiPrior'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=val_pipeline))
