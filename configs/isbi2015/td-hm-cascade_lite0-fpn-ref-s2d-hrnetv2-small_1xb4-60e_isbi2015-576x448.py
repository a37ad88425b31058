# ISBI 2015: the pretrained EfficientNet-Lite0 global model (stage 1) + the LandmarkCascade
# local refiner of the S2D cascade recipe (stage 2: same patches, views and settings).
# Cost per image: 2.3 GFLOPs global + 19 x 0.10 GFLOPs per test view (5 views: 11.9;
# test_shifts=[[0, 0]]: 4.2).
#
# Stage 1: mim train mmceph td-hm_lite0-fpn_1xb4-40e_isbi2015-576x448.py \
#              --work-dir work_dirs/isbi_lite0-fpn
# Stage 2, either train a refiner over it:
#          mim train mmceph THIS_CONFIG --work-dir work_dirs/isbi_lite0-cascade
# or reuse a refiner already trained in any cascade of the same landmarks and crop (a
# refiner learns from ground-truth patches only, never from the global model's output):
#          python tools/analysis_tools/attach_refiner.py work_dirs/isbi_lite0-fpn/best_MRE.pth \
#              work_dirs/isbi_s2d48-cascade/best_MRE.pth work_dirs/isbi_lite0-cascade/best_MRE.pth
_base_ = ['./td-hm-cascade_s2d-hrnetv2-w18-ref-s2d-hrnetv2-small_1xb4-60e_isbi2015-576x448.py',
          '../_base_/models/efficientnet_lite0_fpn.py']

load_from = 'work_dirs/isbi_lite0-fpn/best_MRE.pth'
model = dict(
    backbone={{_base_.lite0_backbone}},
    neck={{_base_.lite0_neck}},
    head=dict(_delete_=True, type='HeatmapHead', in_channels=48, out_channels=19,
              deconv_out_channels=None,
              loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder={{_base_.codec}}))
