"""How fast does the review app answer? tools/review.py over a folder, measured in headless
Chromium (Debian's chromium + chromium-driver, driven by Selenium):

1. predictions of the whole folder in the background (first start; s per image);
2. restart with the predictions cached: start of the process -> the worklist drawn in
   the browser (all rows);
3. click on a worklist row -> the full-resolution radiograph drawn (first opening, when
   the server reads the file, and again, from the browser's cache);
4. a drag -> the measurements redrawn (the page's own performance.now() from the move to
   the frame after the answer of /api/measure: server time and round trip), median over
   many moves;
5. the server's resident memory (VmRSS) while every image is opened one after another
   (the image's record and its full-resolution pixels, as the page asks for them).

    python tools/analysis_tools/benchmark_review.py CONFIG CHECKPOINT IMAGES_DIR \\
        [--limit 150] [--work REVIEW_DIR]

Prints a Markdown table (README "Review and correct"). Timings depend on the machine and
its load; nothing here is asserted.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = osp.dirname(osp.abspath(__file__))
REVIEW = osp.join(osp.dirname(HERE), 'review.py')


def parse_args():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('images', help='folder of images (the first --limit are linked)')
    p.add_argument('--limit', type=int, default=150)
    p.add_argument('--work', help='review folder (default: a temporary one)')
    p.add_argument('--moves', type=int, default=40, help='drag moves timed')
    p.add_argument('--opens', type=int, default=8, help='images opened in the browser')
    return p.parse_args()


def start(args, images, work):
    env = dict(os.environ, OMP_NUM_THREADS='1',      # this checkout's mmceph
               PYTHONPATH=osp.dirname(osp.dirname(HERE)))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, REVIEW, args.config, args.checkpoint, images,
                             '--work', work, '--port', '0', '--user', 'bench'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    for line in proc.stdout:
        if line.startswith('open '):
            return proc, line.split()[1], t0
    raise SystemExit('tools/review.py did not start:\n' + proc.stdout.read())


def get(url):
    with urllib.request.urlopen(url) as r:
        return r.read()


def progress(url):
    return json.loads(get(url + 'api/worklist'))['progress']


def rss_mb(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return float('nan')


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    o = webdriver.ChromeOptions()
    o.binary_location = shutil.which('chromium')
    for a in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
              '--window-size=1400,900'):
        o.add_argument(a)
    return webdriver.Chrome(service=Service(shutil.which('chromedriver')), options=o)


def wait(cond, timeout=120, every=0.005):
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        v = cond()
        if v:
            return v
        time.sleep(every)
    raise SystemExit('timed out')


def main():
    args = parse_args()
    from mmceph.formats.images import READABLE_EXTENSIONS
    tmp = tempfile.mkdtemp(prefix='mmceph-review-bench-')
    images = osp.join(tmp, 'images')
    os.makedirs(images)
    names = sorted(f for f in os.listdir(args.images) if f.lower().endswith(READABLE_EXTENSIONS))
    for f in names[:args.limit]:
        try:        # a link: symlinks leaving IMAGES_DIR are (rightly) not served
            os.link(osp.join(args.images, f), osp.join(images, f))
        except OSError:
            shutil.copy(osp.join(args.images, f), osp.join(images, f))
    n = min(len(names), args.limit)
    work = args.work or osp.join(tmp, 'review')
    rows = []
    # 1. predictions (only what is not cached yet)
    proc, url, t0 = start(args, images, work)
    todo = progress(url)['total']
    wait(lambda: progress(url)['queued'] == 0, timeout=3600, every=1)
    if todo:
        rows.append(('background predictions (first start)',
                     f'{(time.perf_counter() - t0) / todo:.2f} s per image ({todo} images)'))
    proc.terminate()
    proc.wait()
    shutil.rmtree(osp.join(work, 'cache'), ignore_errors=True)     # cold thumbnails
    d = browser()
    try:
        d.get('about:blank')
        # 2. restart, cached: process start -> worklist drawn
        proc, url, t0 = start(args, images, work)
        t_up = time.perf_counter()
        d.get(url)
        wait(lambda: d.execute_script('return document.body.dataset.worklist') == str(n))
        t_drawn = time.perf_counter()
        rows.append((f'worklist of {n} images drawn after the start (cached predictions): '
                     'total = server up + page', f'{t_drawn - t0:.2f} s = {t_up - t0:.2f} s + '
                     f'{t_drawn - t_up:.2f} s'))
        # 3. click -> radiograph drawn, first time (cold) and again (warm)
        order = d.execute_script('return [...document.querySelectorAll("#worklist tbody tr")]'
                                 '.map(r => r.dataset.name)')
        cold, warm = [], []
        for times in (cold, warm):
            for name in order[:args.opens]:
                d.execute_script('location.hash = ""')
                wait(lambda: d.execute_script('return document.body.dataset.worklist') == str(n))
                d.execute_script('window.mmcephReview.openMs = null')
                d.execute_script('document.querySelector(\'#worklist tr[data-name="\' + '
                                 'arguments[0] + \'"]\').click()', name)
                times.append(wait(lambda: d.execute_script(
                    'return window.mmcephReview.openMs')))
        size = d.execute_script('return [window.mmcephReview.W, window.mmcephReview.H]')
        rows.append((f'click -> {size[0]}x{size[1]} radiograph drawn, first opening (median)',
                     f'{statistics.median(cold):.0f} ms'))
        rows.append(('click -> radiograph drawn again (the browser\'s cache; median)',
                     f'{statistics.median(warm):.0f} ms'))
        # 4. drag -> measurements drawn
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By
        circle = d.find_element(By.CSS_SELECTOR, 'circle.lm[data-index="5"]')
        d.execute_script('window.mmcephReview.latencies = []')
        chain = ActionChains(d, duration=50).move_to_element(circle).click_and_hold()
        for i in range(args.moves):
            chain.move_by_offset(2 if i % 2 else -2, 1)
            chain.pause(0.15)
        chain.release().perform()
        time.sleep(1)
        lat = d.execute_script('return window.mmcephReview.latencies')
        rows.append((f'drag -> measurements redrawn (median of {len(lat)} moves; p90)',
                     f'{statistics.median(lat):.0f} ms; '
                     f'{sorted(lat)[int(0.9 * (len(lat) - 1))]:.0f} ms'))
        # 5. memory while every image is opened
        marks = {}
        for i, name in enumerate(order, start=1):
            q = urllib.parse.quote(name)
            get(url + 'api/image?name=' + q)
            get(url + 'api/pixels?name=' + q)
            if i in (1, 10, n // 2, n):
                marks[i] = rss_mb(proc.pid)
        rows.append((f'server memory (VmRSS) after opening 1 / 10 / {n // 2} / {n} images',
                     ' / '.join(f'{marks[k]:.0f}' for k in sorted(marks)) + ' MB'))
        proc.terminate()
        proc.wait()
    finally:
        d.quit()
        if not args.work:
            shutil.rmtree(tmp, ignore_errors=True)
    load = ' / '.join(f'{v:.1f}' for v in os.getloadavg())
    rows.append(('machine load average (1 / 5 / 15 min) at the end', f'{load} on {os.cpu_count()} '
                 'cores'))
    print('| measured | value |\n|---|---|')
    for k, v in rows:
        print(f'| {k} | {v} |')


if __name__ == '__main__':
    main()
