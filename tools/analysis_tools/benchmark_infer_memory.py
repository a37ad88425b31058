"""Does tools/infer.py keep memory flat on long folders? Peak resident memory (VmHWM) of
one infer.py run over the first N images, for several N, each in a fresh process.

Images come from --images (a folder) or are generated (synthetic cephalograms, one
corrupt file among them to show the run goes on).

    python tools/analysis_tools/benchmark_infer_memory.py CONFIG CHECKPOINT [--counts 20 200]
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time

HERE = osp.dirname(osp.abspath(__file__))


def make_images(folder, n, seed=0):
    import cv2
    import numpy as np

    from data_converters.synthetic import draw_cephalogram, sample_shape
    rng = np.random.default_rng(seed)
    for i in range(n):
        kp = sample_shape(rng, 384, 480)
        cv2.imwrite(osp.join(folder, f'{i:04d}.png'), draw_cephalogram(kp, 384, 480, rng))
    with open(osp.join(folder, '0005_corrupt.png'), 'wb') as f:
        f.write(b'not an image')


def child(argv):
    """Run infer.py's main in this process and report its peak memory."""
    sys.path.insert(0, osp.join(HERE, '..'))
    import infer
    start = time.perf_counter()
    infer.main(argv)
    with open('/proc/self/status') as f:
        peak = next(int(line.split()[1]) for line in f if line.startswith('VmHWM'))
    print(json.dumps(dict(peak_mib=peak / 1024, seconds=time.perf_counter() - start)))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--counts', type=int, nargs='+', default=[20, 200])
    p.add_argument('--images', help='folder of images (default: generated)')
    p.add_argument('--_child', nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._child is not None:
        return child(args._child)
    tmp = tempfile.mkdtemp(prefix='mmceph-mem-')
    try:
        source = args.images
        if source is None:
            source = osp.join(tmp, 'all')
            os.makedirs(source)
            make_images(source, max(args.counts))
        files = sorted(f for f in os.listdir(source) if not f.startswith('.'))
        print('| images in folder | files processed | peak RSS (MiB) | wall time (s) |')
        print('|---|---|---|---|')
        for n in args.counts:
            folder = osp.join(tmp, f'in_{n}')
            os.makedirs(folder)
            for f in files[:n]:
                os.symlink(osp.join(source, f), osp.join(folder, f))
            out = osp.join(tmp, f'out_{n}')
            proc = subprocess.run(
                [sys.executable, __file__, args.config, args.checkpoint, '--_child', folder,
                 args.config, args.checkpoint, '--out-dir', out, '--no-overlay'],
                capture_output=True, text=True)
            if proc.returncode:
                sys.exit(proc.stderr[-3000:])
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            done = len([f for f in os.listdir(out) if f.endswith('.json')])
            print(f"| {n} | {done} | {r['peak_mib']:.0f} | {r['seconds']:.1f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
