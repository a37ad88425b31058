"""Round-trip error of heatmap codecs: CompensatedHeatmap vs MMPose's stock codecs.

For random sub-pixel keypoints, each codec decodes heatmaps drawn in its *own* grid
convention, so only decoding is compared:
  ideal     the codec's own encode() output
  sigma     peak 0.6x or 1.6x as wide as the codec's sigma, plus smooth noise (std 0.05)
  2nd-peak  a second peak of 0.6 height 3-5 sigma away, plus the same noise
  border    keypoints within 1 heatmap pixel of the border, plus the same noise
UDPHeatmap decodes to a scale of input_size/(input_size-1), which its paired
``TopdownAffine(use_udp=True)`` undoes; the benchmark applies that factor for it. All at
stride 4 (HRNet / depth-to-space head) and stride 16 (an S2D backbone, r=4, without
the depth-to-space head). Errors are in input pixels and in mm at ISBI scale (a 2400 px
tall, 0.1 mm/px cephalogram resized to a 512 px input: 0.469 mm per input pixel).

    python tools/analysis_tools/benchmark_codec.py [--n 2000] [--seed 0]
"""
import argparse
import time

import cv2
import numpy as np
from mmpose.codecs import MSRAHeatmap, UDPHeatmap

from mmceph.codecs import CompensatedHeatmap

INPUT = 512
MM_PER_INPUT_PX = 2400 * 0.1 / INPUT


def codecs(stride, sigma):
    hm = INPUT // stride
    size, hsize = (INPUT, INPUT), (hm, hm)
    msra_map = lambda x: x / stride                                  # noqa: E731
    udp_map = lambda x: x * (hm - 1) / (INPUT - 1)                   # noqa: E731
    ours = CompensatedHeatmap(size, hsize, sigma)
    return {
        'MSRAHeatmap': (MSRAHeatmap(size, hsize, sigma), msra_map),
        'MSRAHeatmap(unbiased=True) [DARK]': (MSRAHeatmap(size, hsize, sigma, unbiased=True),
                                              msra_map),
        'UDPHeatmap': (UDPHeatmap(size, hsize, sigma=sigma), udp_map),
        'CompensatedHeatmap (mmceph)': (ours, ours.to_heatmap),
    }


def gaussian(hm, mu, sigma, amp=1.0):
    ys, xs = np.mgrid[0:hm, 0:hm]
    return amp * np.exp(-((xs - mu[0]) ** 2 + (ys - mu[1]) ** 2) / (2 * sigma ** 2))


def smooth_noise(rng, hm, std):
    n = cv2.GaussianBlur(rng.normal(0, 1, (hm, hm)).astype(np.float32), (0, 0), 1.0)
    return n / (n.std() + 1e-9) * std


def make_case(case, rng, hm, sigma, stride):
    """Return (keypoint in input px, a function mapping grid coords -> heatmap)."""
    if case == 'border':
        side = rng.integers(4)
        u = rng.uniform(0.05, 0.95) * (INPUT - 1)
        edge = rng.uniform(0, stride)                 # within one heatmap pixel of the edge
        xy = [(edge, u), (INPUT - 1 - edge, u), (u, edge), (u, INPUT - 1 - edge)][side]
    else:
        xy = rng.uniform(0.15, 0.85, 2) * (INPUT - 1)
    xy = np.array(xy, float)
    width = sigma * rng.choice([0.6, 1.6]) if case == 'sigma' else sigma
    angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(3, 5) * sigma
    noise = smooth_noise(rng, hm, 0.05)

    def render(mu):
        h = gaussian(hm, mu, width)
        if case == '2nd-peak':
            h += gaussian(hm, mu + dist * np.array([np.cos(angle), np.sin(angle)]), sigma, 0.6)
        return (h + noise).astype(np.float32)
    return xy, render


def run(n, seed):
    rows = []
    for stride in (4, 16):
        sigma = 2.0
        hm = INPUT // stride
        for case in ('ideal', 'sigma', '2nd-peak', 'border'):
            errs = {name: [] for name in codecs(stride, sigma)}
            times = {name: 0.0 for name in errs}
            rng = np.random.default_rng(seed)
            for _ in range(n):
                xy, render = make_case(case, rng, hm, sigma, stride)
                for name, (codec, grid) in codecs(stride, sigma).items():
                    if case == 'ideal':
                        heat = codec.encode(xy[None, None])['heatmaps']
                    else:
                        heat = render(np.asarray(grid(xy)))[None]
                    t = time.perf_counter()
                    pred, _ = codec.decode(heat)
                    times[name] += time.perf_counter() - t
                    if isinstance(codec, UDPHeatmap):   # what the use_udp affine pairing undoes
                        pred = pred * (INPUT - 1) / INPUT
                    errs[name].append(np.linalg.norm(pred[0, 0] - xy))
            for name, e in errs.items():
                e = np.array(e)
                rows.append((stride, case, name, e.mean(), np.percentile(e, 95),
                             times[name] / n * 1e6))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--n', type=int, default=2000, help='keypoints per case (default: %(default)s)')
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args(argv)
    rows = run(args.n, args.seed)
    print('| stride | case | codec | mean (input px) | p95 (input px) | mean (mm) | p95 (mm) '
          '| decode (us/kpt) | vs best stock |')
    print('|---|---|---|---|---|---|---|---|---|')
    for stride, case in dict.fromkeys((r[0], r[1]) for r in rows):
        group = [r for r in rows if r[:2] == (stride, case)]
        best_stock = min(r[3] for r in group if 'mmceph' not in r[2])
        for _, _, name, mean, p95, us in group:
            rel = f'{100 * (mean / best_stock - 1):+.0f}%' if 'mmceph' in name else ''
            print(f'| {stride} | {case} | {name} | {mean:.4f} | {p95:.4f} | '
                  f'{mean * MM_PER_INPUT_PX:.4f} | {p95 * MM_PER_INPUT_PX:.4f} | '
                  f'{us:.0f} | {rel} |')
    return rows


if __name__ == '__main__':
    main()
