"""The review loop in a real browser: headless Chromium (Debian's chromium and
chromium-driver, installed by .ci/run) driven by Selenium, against tools/review.py serving
the demo model's predictions of synthetic images.

The Definition of done's loop, from the demo model: predict -> open the least confident
-> drag at zoom 2 -> nudge, undo, reload -> a second tab saves first: 409 shown, nothing
lost -> three landmarks corrected on each of three images, approved -> export (the file
validates, tools/adapt.py accepts it, one-page PDF reports) -> adapt from the page (the
minimum of 3 approved images; before/after on the page) -> re-predict the rest with the
adapted checkpoint. Slow (the session's demo model, then ~1-2 min): run this file alone.
"""
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest
from conftest import CONFIG, REPO, run
from review_folder import pdf_pages

from mmceph.clinical import analyse
from mmceph.formats.coco import load_coco_json
from mmceph.utils.digest import file_sha256

CHROMIUM, DRIVER = shutil.which('chromium'), shutil.which('chromedriver')
ARTIFACTS = os.environ.get('MMCEPH_TEST_ARTIFACTS', osp.join(REPO, 'work_dirs', 'test_artifacts'))
N_IMAGES = 5


def wait(condition, what, timeout=240, every=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f'timed out waiting for {what}')


@pytest.fixture(scope='module')
def model(request):
    """The session's demo model; MMCEPH_REVIEW_DEMO=DIR (with DIR/data and DIR/work from an
    earlier run of the same recipe) skips the training while working on this file."""
    from pathlib import Path
    folder = os.environ.get('MMCEPH_REVIEW_DEMO')
    if folder:
        return Path(folder) / 'data', Path(folder) / 'work', ''
    return request.getfixturevalue('demo_model')


@pytest.fixture(scope='module')
def server(model, tmp_path_factory):
    """tools/review.py on a free port over N_IMAGES synthetic test images; waits until
    every prediction is cached. Yields (url, images dir, review dir, checkpoint)."""
    data, work, _ = model
    tmp = tmp_path_factory.mktemp('review')
    images = tmp / 'images'
    with open(data / 'annotations' / 'test.json') as f:
        names = [img['file_name'] for img in json.load(f)['images']][:N_IMAGES]
    for i, name in enumerate(names):
        target = images / ('sub' if i % 2 else '') / osp.basename(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data / name, target)
    source = work / 'best_MRE.pth'
    if not source.is_file():
        source = sorted(work.glob('best_*.pth'))[0]
    ckpt = str(tmp / 'model' / 'best_MRE.pth')     # adaptation writes beside it: a copy,
    os.makedirs(osp.dirname(ckpt))                 # never into the cached fixture
    shutil.copy(source, ckpt)
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    proc = subprocess.Popen([sys.executable, osp.join(REPO, 'tools', 'review.py'), CONFIG, ckpt,
                             str(images), '--work', str(tmp / 'review'), '--user', 'dr_test',
                             '--port', '0'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    try:
        url = None
        for line in proc.stdout:
            if line.startswith('open '):
                url = line.split()[1]
                break
        assert url, 'tools/review.py printed no address'

        def done():
            with urllib.request.urlopen(url + 'api/worklist') as r:
                p = json.load(r)['progress']
            return p['queued'] == 0 and p['done'] == N_IMAGES
        wait(done, 'the background predictions', timeout=600, every=1)
        yield url, str(images), str(tmp / 'review'), ckpt
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope='module')
def browser():
    if not (CHROMIUM and DRIVER):
        pytest.skip('Chromium is not installed (apt-get install chromium chromium-driver; '
                    '.ci/run does it)')
    webdriver = pytest.importorskip('selenium.webdriver')
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                '--window-size=1400,900', '--force-device-scale-factor=1'):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)   # no driver download
    yield driver
    driver.quit()


def js(driver, code):
    return driver.execute_script('return ' + code)


def record(review, name):
    with open(osp.join(review, 'records', name + '.review.json')) as f:
        return json.load(f)


def settled(driver, version):
    """The page saved (nothing in flight) and shows ``version``."""
    wait(lambda: js(driver, 'document.body.dataset.saving') != '1'
         and js(driver, 'document.body.dataset.version') == str(version), f'version {version}')


def page_measurements(driver):
    rows = js(driver, '[...document.querySelectorAll("#measurements tr[data-name]")].map('
                      'r => [r.dataset.name, r.dataset.value || null])')
    return dict(rows)


def open_row(driver, name, count):
    from selenium.webdriver.common.by import By
    wait(lambda: js(driver, 'document.body.dataset.worklist') == str(count), 'the worklist')
    unstale(lambda: wait(lambda: driver.find_elements(
        By.CSS_SELECTOR, f'#worklist tr[data-name="{name}"]'), f'worklist row {name}')[0].click())
    wait(lambda: js(driver, 'document.body.dataset.loaded') == '1'
         and js(driver, 'document.getElementById("title").textContent') == name, 'the image')
    wait(lambda: driver.find_elements(By.CSS_SELECTOR, 'circle.lm'), 'the landmarks')


def drag(driver, index, version, by=(6, 4)):
    """Drag landmark ``index`` by ``by`` screen pixels; wait for the save of ``version``."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    unstale(lambda: ActionChains(driver).move_to_element(driver.find_element(
        By.CSS_SELECTOR, f'circle.lm[data-index="{index}"]')).click_and_hold()
        .move_by_offset(*by).release().perform())
    settled(driver, version)


def unstale(action, tries=5):
    """Run a find-and-act again when the page re-drew the element in between (a worklist
    refresh); any other failure, or the same one ``tries`` times, is raised."""
    from selenium.common.exceptions import StaleElementReferenceException
    for i in range(tries):
        try:
            return action()
        except StaleElementReferenceException:
            if i == tries - 1:
                raise
            time.sleep(0.2)


def test_correct_approve_export_adapt_in_the_browser(server, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    url, images, review, ckpt = server
    d = browser
    d.get(url)
    wait(lambda: js(d, 'document.body.dataset.worklist') == str(N_IMAGES), 'the worklist')
    items = json.load(urllib.request.urlopen(url + 'api/worklist'))['items']
    order = [it['image'] for it in items]
    shown = js(d, '[...document.querySelectorAll("#worklist tbody tr")].map(r => r.dataset.name)')
    assert shown == order                       # the page keeps the server's order
    todo = [it['image'] for it in items if it['status'] != 'rejected'][:3]
    assert len(todo) == 3, f'the demo model rejected too many images: {items}'

    # --- drag S (sella) by (40, -30) screen pixels at zoom 2: (20, -15) image pixels
    name = todo[0]
    open_row(d, name, N_IMAGES)
    sella = d.find_element(By.CSS_SELECTOR, 'circle.lm[data-index="0"]')
    sella.click()                                        # select, then zoom 2 around it
    d.find_element(By.TAG_NAME, 'body').send_keys('2')
    assert float(js(d, 'document.body.dataset.zoom')) == 2
    before = json.load(urllib.request.urlopen(
        url + 'api/image?name=' + urllib.parse.quote(name)))['record']
    p0 = before['landmarks'][0]['position']
    dx, dy = (40, -30) if p0[1] > 20 else (40, 30)
    ActionChains(d).move_to_element(sella).click_and_hold().move_by_offset(dx / 2, dy / 2) \
        .move_by_offset(dx / 2, dy / 2).release().perform()
    settled(d, 1)
    saved = record(review, name)
    p1 = saved['landmarks'][0]['position']
    assert p1[0] - p0[0] == pytest.approx(dx / 2, abs=0.5)
    assert p1[1] - p0[1] == pytest.approx(dy / 2, abs=0.5)
    assert saved['landmarks'][0]['predicted'] == before['landmarks'][0]['predicted']
    assert saved['landmarks'][0]['corrected_by'] == 'dr_test'
    # the measurements on the page are mmceph.clinical's on the saved points
    wait(lambda: js(d, 'document.body.dataset.measured'), 'measurements')
    pts = np.array([lm['position'] for lm in saved['landmarks']])
    expected = analyse(pts, saved['pixel_spacing_mm'])
    on_page = page_measurements(d)
    assert set(on_page) == set(expected)
    checked = [k for k, v in on_page.items() if v is not None]
    assert checked, f'every measurement withheld on {name}'
    for k in checked:
        assert float(on_page[k]) == pytest.approx(expected[k]['value'], abs=1e-3), k

    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = osp.join(ARTIFACTS, 'review_viewer.png')
    d.save_screenshot(shot)
    import cv2
    img = cv2.imread(shot)
    assert img.shape[:2] == (900, 1400) or img.shape[1] >= 1000
    red = (np.abs(img.astype(int) - [0x35, 0x39, 0xe5]).sum(2) < 40).sum()   # landmark fill
    assert red > 50, 'no landmark drawn in the screenshot'

    # --- arrow keys: 3 right, Shift+down (10); undo the last; reload keeps the record
    body = d.find_element(By.TAG_NAME, 'body')
    for _ in range(3):
        body.send_keys(Keys.ARROW_RIGHT)
    body.send_keys(Keys.SHIFT, Keys.ARROW_DOWN)
    wait(lambda: record(review, name)['landmarks'][0]['position'] == [
        round(p1[0] + 3, 3), round(p1[1] + 10, 3)], 'nudges saved')
    version = record(review, name)['version']
    settled(d, version)
    body.send_keys(Keys.CONTROL, 'z')
    settled(d, version + 1)
    assert record(review, name)['landmarks'][0]['position'] == [round(p1[0] + 3, 3), p1[1]]
    d.refresh()
    wait(lambda: js(d, 'document.body.dataset.loaded') == '1', 'the reloaded image')
    cx = float(d.find_element(By.CSS_SELECTOR, 'circle.lm[data-index="0"]').get_attribute('cx'))
    assert cx == pytest.approx(p1[0] + 3)

    # --- a second tab saves first: this page's next save is refused (409), it says so
    other = record(review, name)
    pts = [lm['position'] for lm in other['landmarks']]
    pts[1] = [pts[1][0] + 1, pts[1][1]]
    urllib.request.urlopen(urllib.request.Request(
        url + 'api/landmarks?name=' + urllib.parse.quote(name), method='PUT',
        data=json.dumps(dict(version=other['version'], points=pts)).encode(),
        headers={'Content-Type': 'application/json'}))
    d.find_element(By.CSS_SELECTOR, 'circle.lm[data-index="0"]').click()
    d.find_element(By.TAG_NAME, 'body').send_keys(Keys.ARROW_LEFT)
    banner = wait(lambda: d.find_element(By.ID, 'banner').is_displayed()
                  and d.find_element(By.ID, 'banner'), 'the conflict banner')
    assert 'changed elsewhere' in banner.text and 'not saved' in banner.text
    kept = record(review, name)
    assert kept['version'] == other['version'] + 1
    assert [lm['position'] for lm in kept['landmarks']] == pts       # the other tab's edit
    banner.find_element(By.TAG_NAME, 'button').click()               # reload this image
    wait(lambda: js(d, 'document.body.dataset.version') == str(kept['version']), 'reload')
    drag(d, 5, kept['version'] + 1)                    # a third landmark (S, 1 and 5)
    d.find_element(By.ID, 'approve').click()
    wait(lambda: record(review, name)['approved_by'] == 'dr_test', 'approval')

    # --- two more images: three landmarks dragged on each, approve
    for other in todo[1:]:
        d.find_element(By.ID, 'back').click()
        open_row(d, other, N_IMAGES)
        for version, index in enumerate((4, 7, 10), start=1):
            drag(d, index, version)
        d.find_element(By.ID, 'approve').click()
        wait(lambda o=other: record(review, o)['approved_by'] == 'dr_test', 'approval')
    for other in todo:
        rec = record(review, other)
        moved = [lm['name'] for lm in rec['landmarks'] if lm['position'] != lm['predicted']]
        assert len(moved) == 3 and all(lm['corrected_by'] == 'dr_test' for lm in
                                       rec['landmarks'] if lm['name'] in moved), (other, moved)

    # --- export: a valid COCO file that tools/adapt.py accepts
    d.find_element(By.ID, 'export').click()
    wait(lambda: js(d, 'document.body.dataset.exported') == '3', 'the export')
    ann = osp.join(review, 'export', 'annotations.json')
    doc = load_coco_json(ann, 19)                       # the package's schema
    assert sorted(i['file_name'] for i in doc['images']) == sorted(todo)
    assert doc['info']['reference'] == 'dr_test'
    for img in doc['images']:                           # the corrected points, exactly
        kpts = next(a['keypoints'] for a in doc['annotations'] if a['image_id'] == img['id'])
        rec = record(review, img['file_name'])
        assert [kpts[i:i + 2] for i in range(0, len(kpts), 3)] == [
            pytest.approx(lm['position']) for lm in rec['landmarks']]
    for n in todo:                                      # a one-page printable report each
        with open(osp.join(review, 'export', 'reports', n + '.report.pdf'), 'rb') as f:
            assert pdf_pages(f.read())['count'] == [1]
    out = osp.join(review, 'cli_adapted.pth')
    log = run([sys.executable, osp.join(REPO, 'tools', 'adapt.py'), CONFIG, ckpt, '--ann', ann,
               '--data-root', images, '--img-prefix', '', '--out', out], REPO)
    assert 'adapted on 3 image(s)' in log and osp.isfile(out)

    # --- adapt from the page: a new checkpoint beside the original; then re-predict
    untouched = [n for n in order if n not in todo]
    prediction = osp.join(review, 'predictions', untouched[0] + '.landmarks.json')
    with open(prediction) as f:
        assert json.load(f)['provenance']['checkpoint']['path'] == ckpt
    original = file_sha256(ckpt)
    d.find_element(By.ID, 'adapt').click()
    wait(lambda: js(d, 'document.body.dataset.adaptation') in ('done', 'failed'), 'adaptation')
    state = json.load(urllib.request.urlopen(url + 'api/adapt'))
    assert state['state'] == 'done', state
    assert osp.dirname(state['checkpoint']) == osp.dirname(ckpt) and state['checkpoint'] != ckpt
    assert osp.isfile(state['checkpoint']) and file_sha256(ckpt) == original   # not over it
    check = state['leave_one_out']                   # 3 approved images are enough
    assert check and state['images'] == 3, state
    shown = d.find_element(By.ID, 'adaptation')
    assert shown.is_displayed()
    assert (f'before {check["mre_unadapted"]:.3f} {check["unit"]}' in shown.text
            and f'after {check["mre_adapted"]:.3f} {check["unit"]}' in shown.text), shown.text
    d.find_element(By.ID, 'repredict').click()
    wait(lambda: json.load(urllib.request.urlopen(url + 'api/state'))['progress']['model']
         == osp.basename(state['checkpoint']), 're-prediction')
    wait(lambda: json.load(urllib.request.urlopen(url + 'api/state'))['progress']['queued'] == 0,
         're-prediction done')
    for n in untouched:                              # provenance: the adapted checkpoint
        with open(osp.join(review, 'predictions', n + '.landmarks.json')) as f:
            result = json.load(f)
        assert result['provenance']['checkpoint'] == dict(
            path=state['checkpoint'], sha256=file_sha256(state['checkpoint']))
        assert result['site_adaptation']['images'] == 3
    assert record(review, todo[0])['approved_by'] == 'dr_test'      # kept
    d.save_screenshot(osp.join(ARTIFACTS, 'review_after_adapt.png'))


def test_security_through_http(model, tmp_path):
    """A real server on 0.0.0.0 needs its token; traversal attempts are refused."""
    data, work, _ = model
    images = tmp_path / 'images'
    images.mkdir()
    first = sorted((data / 'images').iterdir())[0]
    shutil.copy(first, images / first.name)
    (tmp_path / 'secret.txt').write_text('TOPSECRET')
    os.symlink(tmp_path / 'secret.txt', images / 'leak.png')
    ckpt = sorted(str(p) for p in work.glob('best_*.pth'))[0]
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    proc = subprocess.Popen([sys.executable, osp.join(REPO, 'tools', 'review.py'), CONFIG, ckpt,
                             str(images), '--work', str(tmp_path / 'review'), '--host',
                             '0.0.0.0', '--port', '0', '--token', 'tok3n'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        line = next(ln for ln in proc.stdout if ln.startswith('open '))
        port = int(line.split(':')[2].split('/')[0])
        base = f'http://127.0.0.1:{port}'

        def status(path, token=None, method='GET', body=None):
            req = urllib.request.Request(base + path, method=method, data=body)
            if token:
                req.add_header('Authorization', 'Bearer ' + token)
            try:
                with urllib.request.urlopen(req) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as err:
                return err.code, err.read()
        assert '?token=tok3n' in line
        assert status('/')[0] == 401 and status('/api/worklist', 'wrong')[0] == 401
        assert status('/api/worklist', 'tok3n')[0] == 200
        for path in ('/api/pixels?name=..%2Fsecret.txt', '/api/pixels?name=leak.png',
                     '/api/pixels?name=%2Fetc%2Fpasswd', '/files/..%2F..%2Fsecret.txt',
                     '/static/..%2F..%2F..%2Fsecret.txt', '/api/thumb?name=sub%2F..%2F..%2Fx'):
            code, content = status(path, 'tok3n')
            assert code in (400, 404) and b'TOPSECRET' not in content, path
        code, _ = status('/api/landmarks?name=' + first.name, 'tok3n', 'PUT', b'x' * 300_000)
        assert code == 413
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_an_exported_onnx_folder_predicts_the_worklist(model, tmp_path):
    """CHECKPOINT may be a folder of tools/deployment/export_onnx.py: the background
    predictions then run in ONNX Runtime and are cached as infer.py's JSON."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    from runtime_fixtures import cascade_config  # exportable

    from mmceph.review.store import ReviewStore
    from mmceph.review.worker import PredictionWorker
    data, work, _ = model
    cfg_path = cascade_config(tmp_path)
    init_default_scope('mmpose')
    net = MODELS.build(Config.fromfile(cfg_path).model)
    demo = torch.load(work / 'best_MRE.pth', map_location='cpu', weights_only=False)
    state = dict(demo['state_dict'])
    state.update({'refiner.' + k: v for k, v in demo['state_dict'].items()})
    net.load_state_dict(state, strict=True)
    ckpt = str(tmp_path / 'cascade.pth')
    torch.save(dict(state_dict=net.state_dict(), meta=demo['meta']), ckpt)
    run([sys.executable, osp.join(REPO, 'tools/deployment/export_onnx.py'), cfg_path, ckpt,
         str(tmp_path / 'exported'), '--no-verify'], tmp_path)
    images = tmp_path / 'images'
    images.mkdir()
    for f in sorted((data / 'images').iterdir())[:2]:
        shutil.copy(f, images / f.name)
    store = ReviewStore(str(images), str(tmp_path / 'review'))
    worker = PredictionWorker(store, cfg_path, str(tmp_path / 'exported'))
    assert worker.exported
    worker.start()
    wait(lambda: worker.progress()['done'] == 2, 'ONNX predictions', timeout=300)
    from mmceph.runtime import OnnxLandmarkPredictor
    direct = OnnxLandmarkPredictor(str(tmp_path / 'exported'))
    for name in store.images:
        cached = store.prediction(name)
        assert cached == json.loads(json.dumps(direct.predict(str(images / name))[0]))
    with pytest.raises(ValueError, match='exported ONNX folder cannot be adapted'):
        worker.adapt('x')
