"""Cost of S2D-HRNetV2-W18 vs stock HRNetV2-W18 (same HRNet-W18 stages, same 1x1 head
on the concatenated HRNetV2 features), both producing 19 heatmaps at 1/4 of the input.

Prints one table: parameters, FLOPs (MMEngine's complexity counter, 1 multiply-add =
1 FLOP as MMEngine counts), median CPU forward latency (batch 1, eval mode, warm-up, then
--runs timed runs, torch threads = CPU cores) and the peak extra memory (resident set)
of one training step (batch 1, forward + MSE loss + backward), measured in a fresh
subprocess per model so the numbers do not mix.

    python tools/analysis_tools/benchmark_model.py [--sizes 512 800] [--runs 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

W18 = dict(
    stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(4, ),
                num_channels=(64, )),
    stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(4, 4),
                num_channels=(18, 36)),
    stage3=dict(num_modules=4, num_branches=3, block='BASIC', num_blocks=(4, 4, 4),
                num_channels=(18, 36, 72)),
    stage4=dict(num_modules=3, num_branches=4, block='BASIC', num_blocks=(4, 4, 4, 4),
                num_channels=(18, 36, 72, 144), multiscale_output=True),
    upsample=dict(mode='bilinear', align_corners=False))

MODELS_CFG = {
    'HRNetV2-W18 (stock MMPose)': dict(
        backbone=dict(type='HRNet', extra=W18),
        head=dict(type='HeatmapHead', in_channels=270, out_channels=19,
                  deconv_out_channels=None)),
    'S2D-HRNetV2-W18 (mmceph, r=4)': dict(
        backbone=dict(type='S2DHRNet', extra=W18, downscale=4),
        head=dict(type='DepthToSpaceHeatmapHead', in_channels=270, out_channels=19,
                  upscale=4)),
}


def build(name):
    import torch.nn as nn
    from mmpose.registry import MODELS

    import mmceph.registration  # noqa: F401
    cfg = MODELS_CFG[name]
    return nn.Sequential(MODELS.build(cfg['backbone']),
                         MODELS.build(dict(type='FeatureMapProcessor', concat=True)),
                         MODELS.build(cfg['head']))


def rss_kib(field):
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field))


def measure(name, size, runs):
    """Runs in a subprocess: returns params, flops, latency, train-step memory."""
    import torch
    from mmengine.analysis import get_model_complexity_info
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    model = build(name).train()
    x = torch.randn(1, 3, size, size)
    # memory first, in a process that has not run anything yet (freed buffers would hide it)
    with open('/proc/self/clear_refs', 'w') as f:   # reset VmHWM (the peak) to the current RSS
        f.write('5')
    before = rss_kib('VmRSS')
    out = model(x)
    torch.nn.functional.mse_loss(out, torch.zeros_like(out)).backward()
    peak = rss_kib('VmHWM')
    model.zero_grad(set_to_none=True)
    model.eval()
    info = get_model_complexity_info(model, inputs=(x, ), show_table=False, show_arch=False)
    with torch.no_grad():
        out_shape = list(model(x).shape)
        for _ in range(2):
            model(x)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    return dict(params=info['params'], flops=info['flops'], latency=statistics.median(times),
                train_mem_mib=max(0, peak - before) / 1024, out_shape=out_shape)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--sizes', type=int, nargs='+', default=[512, 800])
    p.add_argument('--runs', type=int, default=5, help='timed forward runs (median reported)')
    p.add_argument('--_one', nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._one:
        print(json.dumps(measure(args._one[0], int(args._one[1]), args.runs)))
        return
    rows = {}
    for size in args.sizes:
        for name in MODELS_CFG:
            proc = subprocess.run([sys.executable, __file__, '--runs', str(args.runs),
                                   '--_one', name, str(size)], capture_output=True, text=True)
            if proc.returncode:
                sys.exit(proc.stderr)
            rows[size, name] = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f'CPU: {os.cpu_count()} threads, torch forward batch 1, median of {args.runs}')
    print('| input | model | params (M) | GFLOPs | CPU latency (s) | train-step memory (MiB) '
          '| heatmaps | FLOPs vs stock | speed-up |')
    print('|---|---|---|---|---|---|---|---|---|')
    for size in args.sizes:
        stock = rows[size, next(iter(MODELS_CFG))]
        for name in MODELS_CFG:
            r = rows[size, name]
            print(f"| {size}x{size} | {name} | {r['params'] / 1e6:.2f} | {r['flops'] / 1e9:.2f} | "
                  f"{r['latency']:.3f} | {r['train_mem_mib']:.0f} | "
                  f"{r['out_shape'][2]}x{r['out_shape'][3]} | "
                  f"{r['flops'] / stock['flops']:.3f} | {stock['latency'] / r['latency']:.1f}x |")


if __name__ == '__main__':
    main()
