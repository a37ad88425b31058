# ISBI 2015: UNet++ heatmap model trained with L1 loss (seed method), on the same data,
# augmentation, schedule and CompensatedHeatmap codec as the S2D-HRNetV2 recipe.
# UNet++ (depth 4, widths 24-48-96-192-384, VGG blocks) behind a space-to-depth stem
# (PixelUnshuffle(4)), so the nested U-Net runs at 1/4 of the input, on the codec's grid,
# and its top node X^{0,4} feeds a 1x1 conv to 19 heatmaps.
# Cost at 576x448: 4.97 GFLOPs (MMEngine's counter, 1 multiply-add = 1 FLOP), 5.2 M params
# (base_channels=20: 3.48 GFLOPs, 3.6 M).
# Input sides must be multiples of 64 (stride 4 x 2^depth): 576x448 is.
_base_ = ['./td-hm_s2d-hrnetv2-w18_1xb4-100e_isbi2015-576x448.py']

model = dict(
    backbone=dict(_delete_=True, type='UNetPlusPlus', in_channels=3, depth=4,
                  base_channels=24, width_mult=2, output_stride=4),
    neck=None,
    head=dict(_delete_=True, type='HeatmapHead', in_channels=24, out_channels=19,
              deconv_out_channels=None,
              # L1, not MSE: sparse heatmaps, MSE is dominated by the background
              loss=dict(type='KeypointL1Loss', use_target_weight=True),
              decoder={{_base_.codec}}))
