"""Shared tiny model settings and training helpers for fast CPU tests."""

# HRNet stages with one block each and narrow branches: builds and trains in a second.
TINY_HRNET = dict(
    stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1, ),
                num_channels=(16, )),
    stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1),
                num_channels=(8, 16)),
    stage3=dict(num_modules=1, num_branches=3, block='BASIC', num_blocks=(1, 1, 1),
                num_channels=(8, 16, 32)),
    stage4=dict(num_modules=1, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1),
                num_channels=(8, 16, 32, 64), multiscale_output=True),
    upsample=dict(mode='bilinear', align_corners=False))


def heatmap_samples(codec, n=2, num_keypoints=3, seed=0):
    """``n`` PoseDataSamples carrying ``codec``'s targets for random landmarks inside
    its input (8 px from the border): a batch to train a heatmap model on."""
    import numpy as np
    import torch
    from mmengine.structures import InstanceData, PixelData
    from mmpose.structures import PoseDataSample
    rng = np.random.default_rng(seed)
    w, h = codec.input_size
    samples = []
    for _ in range(n):
        target = codec.encode(rng.uniform(8, (w - 8, h - 8), (1, num_keypoints, 2)))
        sample = PoseDataSample()
        sample.gt_fields = PixelData(heatmaps=torch.from_numpy(target['heatmaps']))
        sample.gt_instance_labels = InstanceData(
            keypoint_weights=torch.from_numpy(target['keypoint_weights']))
        samples.append(sample)
    return samples


def loss_curve(model, x, samples, steps, lr, key='loss_kpt'):
    """The loss ``key`` before each of ``steps`` Adam steps on the one batch (x, samples)."""
    import torch
    opt = torch.optim.Adam(model.parameters(), lr)
    losses = []
    for _ in range(steps):
        loss = model(x, samples, mode='loss')[key]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return losses
