# The LandmarkCascade local refiner's backbone: a small S2D-HRNetV2-W18 (r=2, half the
# blocks of the global model) for 128x128 patches, ~0.10 GFLOPs per patch.
# Use: refiner=dict(type='TopdownPoseEstimator', backbone={{_base_.refiner_backbone}}, ...).
refiner_backbone = dict(
    type='S2DHRNet', in_channels=3, downscale=2,
    extra=dict(
        stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK',
                    num_blocks=(2, ), num_channels=(32, )),
        stage2=dict(num_modules=1, num_branches=2, block='BASIC',
                    num_blocks=(2, 2), num_channels=(18, 36)),
        stage3=dict(num_modules=2, num_branches=3, block='BASIC',
                    num_blocks=(2, 2, 2), num_channels=(18, 36, 72)),
        stage4=dict(num_modules=1, num_branches=4, block='BASIC',
                    num_blocks=(2, 2, 2, 2), num_channels=(18, 36, 72, 144),
                    multiscale_output=True),
        upsample=dict(mode='bilinear', align_corners=False)))
