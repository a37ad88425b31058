# HRNetV2-W18, shared by the recipes (MMPose's hrnet_w18 stages, all four branches out,
# upsampled and concatenated by the neck: 18 + 36 + 72 + 144 = 270 channels).
# Use in a config that lists this file (directly or through its base):
#   backbone={{_base_.hrnetv2_w18}}        stock MMPose HRNet (stride 4)
#   backbone={{_base_.s2d_hrnetv2_w18}}    mmceph's space-to-depth variant (r=4, stride 16)
#   extra={{_base_.hrnetv2_w18_extra}}     the stage dict alone
hrnetv2_w18_extra = dict(
    stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK',
                num_blocks=(4, ), num_channels=(64, )),
    stage2=dict(num_modules=1, num_branches=2, block='BASIC',
                num_blocks=(4, 4), num_channels=(18, 36)),
    stage3=dict(num_modules=4, num_branches=3, block='BASIC',
                num_blocks=(4, 4, 4), num_channels=(18, 36, 72)),
    stage4=dict(num_modules=3, num_branches=4, block='BASIC',
                num_blocks=(4, 4, 4, 4), num_channels=(18, 36, 72, 144),
                multiscale_output=True),
    upsample=dict(mode='bilinear', align_corners=False))
hrnetv2_w18 = dict(type='HRNet', in_channels=3, extra=hrnetv2_w18_extra)
s2d_hrnetv2_w18 = dict(type='S2DHRNet', in_channels=3, downscale=4, extra=hrnetv2_w18_extra)
