# Full-resolution variant for GPUs (8 GPUs x 4 images): the ROI crop at 1280x1024
# (about 0.14 mm per input pixel), 300 epochs. Everything else as the 576x448 recipe.
#   mim train mmceph THIS_CONFIG --launcher pytorch --gpus 8
_base_ = ['./td-hm_s2d-hrnetv2-w18_1xb4-100e_isbi2015-576x448.py']

input_size = (1024, 1280)
max_epochs = 300
train_cfg = dict(max_epochs=max_epochs, val_interval=10)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='CosineAnnealingLR', begin=0, end=max_epochs, T_max=max_epochs,
         eta_min=1e-5, by_epoch=True)]
auto_scale_lr = dict(base_batch_size=32)
codec = dict(type='CompensatedHeatmap', input_size=input_size,
             heatmap_size=(input_size[0] // 4, input_size[1] // 4), sigma=3)
model = dict(head=dict(decoder=codec))
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
train_dataloader = dict(batch_size=4, num_workers=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=4, num_workers=4, dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
env_cfg = dict(cudnn_benchmark=True)
