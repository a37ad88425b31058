# ISBI 2015, stage 2 with an ensemble of two local refiners (measured on a 2-core CPU,
# selected on Test1 before issue 27: Test1 MRE 1.501 mm after 19 + 49 training minutes;
# 1.482 mm with the two refiners trained apart and attached, 90 minutes; README "Two refiners"): the same small S2D-HRNet refiner
# twice, one on ~19 mm patches with +-15 deg rotations, one on ~23 mm patches with +-5 deg,
# trained together (one loss each) on top of the frozen stage-1 global model; at test time
# each looks at 5 shifted patches per landmark and all 10 refined positions are averaged.
# Cost per image: 1.36 GFLOPs global + 2 x 5 x 19 refiner patches = 20.7 GFLOPs (compare_methods).
#
# Stage 1 (48 epochs, ~20 CPU-minutes; a longer stage 1 gains only ~0.01 mm here):
#   python tools/train.py configs/isbi2015/td-hm_s2d-hrnetv2-w18_1xb4-100e_isbi2015-576x448.py \
#       --work-dir work_dirs/isbi_s2d-20min --cfg-options train_cfg.max_epochs=48 \
#       param_scheduler.1.end=48 param_scheduler.1.T_max=48
# Stage 2: python tools/train.py THIS_CONFIG --work-dir work_dirs/isbi_s2d-cascade2
_base_ = ['./td-hm-cascade_s2d-hrnetv2-w18-ref-s2d-hrnetv2-small_1xb4-60e_isbi2015-576x448.py']

load_from = 'work_dirs/isbi_s2d-20min/best_MRE.pth'
# validation runs both refiners on 5 patches per landmark (~3 CPU-minutes): every 10 epochs
train_cfg = dict(val_interval=10)
# the two refiners' patch sides, set once for the model (test patches) and the pipeline
patch_fraction = [0.135, 0.16]
model = dict(
    refiner=[{{_base_.model.refiner}}, {{_base_.model.refiner}}],
    patch_fraction=patch_fraction)
input_size = {{_base_.input_size}}
train_pipeline = [
    dict(type='LoadCephalogram'),
    dict(type='GetBBoxCenterScale', padding=1.0),
    dict(type='RandomBBoxTransform', shift_factor=0.05, scale_factor=(0.9, 1.1),
         rotate_factor=10.0),
    dict(type='SampleRefinerPatches', codecs=[{{_base_.patch_codec}}] * 2,
         input_size=input_size, patch_fraction=patch_fraction, patches_per_image=19,
         jitter=0.12, rotate=[15.0, 5.0], scale_range=(0.85, 1.15)),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}})]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
