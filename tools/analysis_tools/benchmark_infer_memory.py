"""Does tools/infer.py keep memory flat on long folders? Peak resident memory of one
infer.py run over the first N images, for several N, each in a fresh process (its wall
time includes starting Python and importing torch).

Images come from --images (a folder) or are generated (synthetic cephalograms, one
corrupt file among them to show the run goes on).

    python tools/analysis_tools/benchmark_infer_memory.py CONFIG CHECKPOINT [--counts 20 200]
"""
import argparse
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time

INFER = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'infer.py')


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


def run_infer(argv):
    """Run tools/infer.py ARGV in a fresh process: (peak resident MiB, seconds).
    The peak is the child's own (wait4's ru_maxrss, KiB on Linux), not this process's."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, INFER, *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1, 3):          # 1: the corrupt file was skipped
        sys.exit(stderr[-3000:])
    return usage.ru_maxrss / 1024, time.perf_counter() - start


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--counts', type=int, nargs='+', default=[20, 200])
    p.add_argument('--images', help='folder of images (default: generated)')
    args = p.parse_args(argv)
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
            peak_mib, seconds = run_infer([folder, args.config, args.checkpoint,
                                           '--out-dir', out, '--no-overlay'])
            done = len([f for f in os.listdir(out) if f.endswith('.json')])
            print(f'| {n} | {done} | {peak_mib:.0f} | {seconds:.1f} |')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
