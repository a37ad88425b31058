"""The review app's records and HTTP API, in process (Starlette's TestClient), without a
model: predictions are written in infer.py's schema (review_folder.py)."""
import hashlib
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from review_folder import SHAPE, SPACING, make_folder, pdf_pages

from mmceph.clinical import analyse
from mmceph.formats.coco import load_coco_json
from mmceph.metainfo.isbi2015 import KEYPOINTS

pytest.importorskip('starlette')
from starlette.testclient import TestClient  # noqa: E402

from mmceph.review.app import MAX_BODY, create_app  # noqa: E402
from mmceph.review.store import ReviewStore  # noqa: E402


@pytest.fixture
def folder(tmp_path):
    return make_folder(str(tmp_path))


def client(folder, token=None, hosts=None, user='dr_a'):
    store = ReviewStore(*folder)
    return TestClient(create_app(store, None, user, token=token, allowed_hosts=hosts)), store


def record_file(work, name):
    return osp.join(work, 'records', name + '.review.json')


def digest(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def points_of(view):
    return [lm['position'] for lm in view['record']['landmarks']]


def test_worklist_puts_what_needs_a_human_first(folder):
    c, _ = client(folder)
    items = c.get('/api/worklist').json()['items']
    assert [(i['image'], i['status']) for i in items] == [
        ('d_rejected.png', 'rejected'), ('sub/c_review.png', 'review'),
        ('b_ok_low.png', 'ok'), ('a_ok.png', 'ok')]          # the less confident ok first
    assert items[1]['min_confidence'] == 0.2 and items[1]['flagged'] == 1


def test_a_drag_is_saved_with_prediction_user_time_and_version(folder):
    images, work = folder
    before = {n: digest(osp.join(images, n)) for n in ('a_ok.png', 'sub/c_review.png')}
    c, _ = client(folder)
    v0 = c.get('/api/image', params=dict(name='a_ok.png')).json()
    assert v0['record']['version'] == 0 and not osp.exists(record_file(work, 'a_ok.png'))
    pts = points_of(v0)
    pts[4] = [pts[4][0] + 7.25, pts[4][1] - 3]                    # A moved
    r = c.put('/api/landmarks', params=dict(name='a_ok.png'), json=dict(version=0, points=pts))
    assert r.status_code == 200, r.text
    with open(record_file(work, 'a_ok.png')) as f:
        saved = json.load(f)
    a = saved['landmarks'][4]
    assert saved['version'] == 1 and a['position'] == [SHAPE[4][0] + 7.25, SHAPE[4][1] - 3]
    assert a['predicted'] == list(SHAPE[4]) and a['corrected_by'] == 'dr_a' and a['corrected_at']
    assert [lm['corrected_by'] for k, lm in enumerate(saved['landmarks']) if k != 4] == [None] * 18
    assert r.json()['status'] == 'corrected'
    # back on the prediction: no longer a correction; a restart reads the same record
    pts[4] = list(SHAPE[4])
    c.put('/api/landmarks', params=dict(name='a_ok.png'), json=dict(version=1, points=pts))
    again = ReviewStore(images, work).record('a_ok.png')
    assert again['version'] == 2 and again['landmarks'][4]['corrected_by'] is None
    assert {n: digest(osp.join(images, n)) for n in before} == before      # images untouched


def test_measurements_are_clinical_on_the_current_points(folder):
    c, _ = client(folder)
    pts = points_of(c.get('/api/image', params=dict(name='a_ok.png')).json())
    pts[5] = [pts[5][0] - 12.5, pts[5][1] + 4]                      # B moved: SNB, ANB change
    m = c.post('/api/measure', params=dict(name='a_ok.png'), json=dict(points=pts)).json()
    expected = analyse(np.array(pts), SPACING)
    got = m['measurements']['values']
    assert set(got) == set(expected)
    for name, e in expected.items():
        assert got[name]['value'] == pytest.approx(e['value'], abs=1e-3)
        assert got[name]['cls'] == e['class'] and got[name]['meaning'] == e['meaning']
    assert m['measurements']['normal_ranges']['ANB'] == [3.2, 5.7]
    # measuring saves nothing
    view = c.get('/api/image', params=dict(name='a_ok.png')).json()
    assert view['record']['version'] == 0
    # the lines drawn: S-N, N-A, N-B (SNA, SNB, ANB) among them, by ISBI index (0-based)
    assert {(0, 1), (1, 4), (1, 5)} <= {tuple(p) for p in view['lines']}


def test_flagged_landmarks_withhold_their_measurements_until_corrected(folder):
    c, _ = client(folder)
    v = c.get('/api/image', params=dict(name='sub/c_review.png')).json()
    m = v['measurements']
    # A (index 4) is flagged: SNA, ANB, ODI, APDI use it; SNB, FHI, FMA, MW do not
    assert set(m['withheld']) == {'SNA', 'ANB', 'ODI', 'APDI'}
    assert set(m['values']) == {'SNB', 'FHI', 'FMA', 'MW'}
    pts = points_of(v)
    pts[4] = [pts[4][0] + 1, pts[4][1]]
    live = c.post('/api/measure', params=dict(name='sub/c_review.png'), json=dict(points=pts))
    assert set(live.json()['measurements']['values']) == set(analyse(np.array(pts), SPACING))
    r = c.put('/api/landmarks', params=dict(name='sub/c_review.png'),
              json=dict(version=0, points=pts)).json()
    assert r['measurements']['withheld'] == {} and len(r['measurements']['values']) == 8


def test_rejected_image_is_placed_landmark_by_landmark_then_approved(folder):
    c, _ = client(folder)
    v = c.get('/api/image', params=dict(name='d_rejected.png')).json()
    assert points_of(v) == [None] * 19 and 'place every landmark' in v['measurements']['error']
    r = c.post('/api/approve', params=dict(name='d_rejected.png'), json=dict(version=0))
    assert r.status_code == 400 and 'place every landmark' in r.json()['error']
    pts = SHAPE.tolist()
    r = c.put('/api/landmarks', params=dict(name='d_rejected.png'), json=dict(version=0,
                                                                             points=pts))
    m = r.json()['measurements']
    assert set(m['values']) == set(analyse(SHAPE, SPACING))     # every one placed by a human
    assert c.post('/api/approve', params=dict(name='d_rejected.png'),
                  json=dict(version=1)).json()['status'] == 'approved'


@pytest.mark.parametrize('points, message', [
    ('wrong count', 'expected 19 landmarks'),
    ('outside', 'lies outside the image'),
    ('text', 'expected [x, y] numbers'),
    ('removed', 'reset it instead'),
])
def test_invalid_edits_are_400_and_save_nothing(folder, points, message):
    images, work = folder
    c, _ = client(folder)
    pts = SHAPE.tolist()
    body = dict(version=0, points={'wrong count': pts[:18],
                                   'outside': pts[:3] + [[200.0, 10]] + pts[4:],
                                   'text': pts[:3] + [['1', 2]] + pts[4:],
                                   'removed': pts[:3] + [None] + pts[4:]}[points])
    r = c.put('/api/landmarks', params=dict(name='a_ok.png'), json=body)
    assert r.status_code == 400 and message in r.json()['error']
    assert not osp.exists(record_file(work, 'a_ok.png'))


def test_nan_and_garbage_bodies_are_refused(folder):
    _, work = folder
    c, _ = client(folder)
    pts = json.dumps(SHAPE.tolist()).replace('[60.0, 70.0]', '[NaN, 70.0]')
    for raw in ('{"version": 0, "points": ' + pts + '}', 'not json', '[1, 2]'):
        r = c.put('/api/landmarks', params=dict(name='a_ok.png'), content=raw,
                  headers={'content-type': 'application/json'})
        assert r.status_code == 400, raw
    r = c.put('/api/landmarks', params=dict(name='a_ok.png'), content=b' ' * (MAX_BODY + 1))
    assert r.status_code == 413
    assert not osp.exists(record_file(work, 'a_ok.png'))


def test_a_stale_write_from_a_second_tab_is_409_and_loses_nothing(folder):
    _, work = folder
    c, _ = client(folder)
    pts = SHAPE.tolist()
    tab1, tab2 = [p[:] for p in pts], [p[:] for p in pts]
    tab1[0][0] += 5
    tab2[1][0] += 9
    assert c.put('/api/landmarks', params=dict(name='a_ok.png'),
                 json=dict(version=0, points=tab1)).status_code == 200
    r = c.put('/api/landmarks', params=dict(name='a_ok.png'), json=dict(version=0, points=tab2))
    assert r.status_code == 409 and 'changed elsewhere' in r.json()['error']
    with open(record_file(work, 'a_ok.png')) as f:
        saved = json.load(f)
    assert saved['version'] == 1 and [lm['position'] for lm in saved['landmarks']] == tab1


def test_approve_export_gives_a_valid_coco_file_for_adapt(folder):
    images, work = folder
    c, _ = client(folder, user='dr_b')
    assert c.post('/api/export').status_code == 400                 # nothing approved yet
    pts = SHAPE.tolist()
    pts[2] = [pts[2][0] + 3, pts[2][1] + 1]
    c.put('/api/landmarks', params=dict(name='a_ok.png'), json=dict(version=0, points=pts))
    c.post('/api/approve', params=dict(name='a_ok.png'), json=dict(version=1))
    c.post('/api/approve', params=dict(name='sub/c_review.png'), json=dict(version=0))
    r = c.post('/api/export')
    assert r.status_code == 200, r.text
    out = r.json()
    doc = load_coco_json(osp.join(work, out['annotations']), 19)
    assert [i['file_name'] for i in doc['images']] == ['a_ok.png', 'sub/c_review.png']
    assert doc['images'][0]['pixel_spacing'] == list(SPACING)
    assert doc['images'][0]['reference'] == 'dr_b' and doc['info']['reference'] == 'dr_b'
    assert doc['categories'][0]['keypoints'] == KEYPOINTS
    k = np.array(doc['annotations'][0]['keypoints']).reshape(19, 3)
    assert k[:, :2].tolist() == pts and (k[:, 2] == 2).all()
    with open(osp.join(work, out['measurements'])) as f:
        rows = f.read().splitlines()
    assert len(rows) == 1 + 2 * 8 and rows[1].startswith('a_ok.png,ANB,')
    # a printable report per image: one PDF page no larger than A4 (210 x 297 mm, in
    # points), the whole drawing (the PNG's pixels, its aspect) on it
    assert [osp.basename(r) for r in out['reports']] == ['a_ok.png.report.pdf',
                                                          'c_review.png.report.pdf']
    for pdf, png in zip(out['reports'], out['report_images']):
        page = c.get('/files/' + png.removeprefix('export/'))
        assert page.status_code == 200 and page.content[:4] == b'\x89PNG'
        h, w = cv2.imdecode(np.frombuffer(page.content, np.uint8), cv2.IMREAD_COLOR).shape[:2]
        report = c.get('/files/' + pdf.removeprefix('export/'))
        assert report.status_code == 200
        tree = pdf_pages(report.content)
        assert tree['count'] == [1] and len(tree['media']) == 1 and tree['images'] == [(w, h)]
        x0, y0, x1, y1 = tree['media'][0]
        a4 = (210 / 25.4 * 72, 297 / 25.4 * 72)
        assert (x0, y0) == (0, 0) and x1 <= a4[0] + 1e-6 and y1 <= a4[1] + 1e-6
        assert max(x1 / a4[0], y1 / a4[1]) == pytest.approx(1)        # as large as fits
        assert x1 / y1 == pytest.approx(w / h)
    # a landmark moved after approval withdraws the approval
    pts[2][0] += 1
    r = c.put('/api/landmarks', params=dict(name='a_ok.png'), json=dict(version=2, points=pts))
    assert r.json()['status'] == 'corrected'


def test_non_isbi_landmark_sets_show_no_isbi_measurements(tmp_path):
    from review_folder import image_file, prediction
    images, work = str(tmp_path / 'i'), str(tmp_path / 'w')
    image_file(osp.join(images, 'p.png'), 0)
    names = [f'p{i}' for i in range(5)]
    result = prediction('ok', [0.9] * 5, names=names, kpts=SHAPE[:5])
    os.makedirs(osp.join(work, 'predictions'))
    with open(osp.join(work, 'predictions', 'p.png.landmarks.json'), 'w') as f:
        json.dump(result, f)
    c, _ = client((images, work))
    view = c.get('/api/image', params=dict(name='p.png')).json()
    assert view['measurements'] is None and view['lines'] == []


def test_pixels_are_the_models_intensity_mapping(folder):
    import cv2
    from PIL import Image
    images, _ = folder
    c, _ = client(folder)
    r = c.get('/api/pixels', params=dict(name='sub/c_review.png'))
    shown = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert (shown == np.asarray(Image.open(osp.join(images, 'sub/c_review.png')))).all()
    assert r.headers['content-type'] == 'image/bmp'         # lossless, no encoding cost
    assert c.get('/api/thumb', params=dict(name='a_ok.png')).content[:2] == b'\xff\xd8'


def test_jpeg_thumbnails_match_the_readers_image_turned_by_exif(folder):
    """The thumbnail of a JPEG is decoded at reduced scale (a shortcut past the reader):
    it must still show what read_image shows, EXIF orientation included (6: the stored
    1200 x 800 pixels are turned to 800 x 1200; libjpeg decodes them at 1/4), compared
    with a resize of read_image's."""
    import cv2
    from PIL import Image

    from mmceph.imaging.image_io import read_image
    images, work = folder
    y, x = np.mgrid[0:800, 0:1200]
    stored = np.stack([x * 0.2, y * 0.3, (x + y) * 0.12], -1).astype(np.uint8)  # smooth
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(osp.join(images, 'turned.jpg'), quality=95, exif=exif)
    c, _ = client(folder)
    r = c.get('/api/thumb', params=dict(name='turned.jpg'))
    thumb = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    full = read_image(osp.join(images, 'turned.jpg')).pixels
    assert full.shape[:2] == (1200, 800) and thumb.shape[:2] == (160, 107)
    expected = cv2.resize(full, (107, 160), interpolation=cv2.INTER_AREA).astype(int)
    assert np.abs(thumb.astype(int) - expected).mean() < 3          # JPEG twice, rounding
    assert np.abs(thumb.astype(int) - expected[::-1, ::-1]).mean() > 20   # not upside down


# ----------------------------------------------------------------------------- security
@pytest.mark.parametrize('name', ['../secret.png', '/etc/passwd', 'sub/../a_ok.png',
                                  '..%2Fsecret.png', 'link/secret.png', 'outside.png',
                                  'sub\\..\\a_ok.png', 'nope.png'])
def test_only_files_inside_the_folders_are_served(folder, tmp_path, name):
    images, work = folder
    secret = tmp_path / 'secret.png'
    secret.write_bytes(b'\x89PNG TOPSECRET')
    os.symlink(tmp_path, osp.join(images, 'link'))                     # a folder outside
    os.symlink(secret, osp.join(images, 'outside.png'))              # a file outside
    c, store = client(folder)
    assert 'outside.png' not in store.images and not any(
        n.startswith('link/') for n in store.images)
    from urllib.parse import unquote
    for url in ('/api/pixels', '/api/image', '/api/thumb'):
        r = c.get(url, params=dict(name=unquote(name)))
        assert r.status_code in (400, 404), (url, name, r.status_code)
        assert b'TOPSECRET' not in r.content
    r = c.get('/files/' + name)
    assert r.status_code in (400, 404) and b'TOPSECRET' not in r.content


def test_static_and_files_refuse_encoded_traversal(folder):
    c, _ = client(folder)
    for url in ('/static/..%2F..%2Fstore.py', '/static/%2e%2e/app.py',
                '/files/%2e%2e/records/a_ok.png.review.json', '/files/..%2Fmodel.json'):
        r = c.get(url)
        assert r.status_code in (400, 404), url
    assert c.get('/static/app.js').status_code == 200


def test_a_token_guards_every_request(folder):
    c, _ = client(folder, token='s3cret')
    for url in ('/', '/api/worklist', '/api/pixels?name=a_ok.png', '/static/app.js'):
        r = c.get(url)
        assert r.status_code == 401, url
    assert c.get('/api/worklist', headers={'Authorization': 'Bearer wrong'}).status_code == 401
    assert c.put('/api/landmarks?name=a_ok.png', json={}).status_code == 401
    assert c.get('/api/worklist', headers={'Authorization': 'Bearer s3cret'}).status_code == 200
    page = c.get('/?token=s3cret')                # the printed address sets the cookie
    assert page.status_code == 200 and 'mmceph_review_token=s3cret' in page.headers['set-cookie']
    assert c.get('/api/worklist').status_code == 200      # TestClient keeps the cookie


def test_loopback_without_token_refuses_foreign_host_headers(folder):
    c, _ = client(folder, hosts=['127.0.0.1:8765'])
    assert c.get('/api/worklist', headers={'host': 'evil.example:8765'}).status_code == 400
    assert c.get('/api/worklist', headers={'host': '127.0.0.1:8765'}).status_code == 200


def test_a_kill_during_saves_leaves_a_complete_record(folder):
    """SIGKILL a process that saves as fast as it can: the record on disk is always one
    complete save (valid JSON whose positions match its version)."""
    images, work = folder
    code = f'''
from mmceph.review.store import ReviewStore
from review_folder import SHAPE
s = ReviewStore({images!r}, {work!r})
v = 0
print('ready', flush=True)
while True:
    pts = SHAPE.tolist()
    pts[0] = [float(v % 100), 5.0]
    s.update('a_ok.png', v, pts, 'x')
    v += 1
'''
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(),
                                                       osp.dirname(osp.abspath(__file__))]))
    for delay in (0.3, 0.7, 1.1):
        p = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, env=env)
        assert p.stdout.readline().strip() == b'ready'
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        with open(record_file(work, 'a_ok.png')) as f:
            rec = json.load(f)
        assert rec['landmarks'][0]['position'] == [float((rec['version'] - 1) % 100), 5.0]
        os.unlink(record_file(work, 'a_ok.png'))
        leftovers = [f for f in os.listdir(osp.join(work, 'records')) if not f.endswith('.part')]
        assert leftovers == []


def test_adaptation_needs_three_approved_images_and_repredict_an_adapted_model(folder):
    from mmceph.review.worker import PredictionWorker, adapted_name
    store = ReviewStore(*folder)
    worker = PredictionWorker(store, 'config.py', str(osp.join(folder[1], 'model.pth')))
    c = TestClient(create_app(store, worker, 'dr_a'))
    for name in ('a_ok.png', 'b_ok_low.png'):
        c.post('/api/approve', params=dict(name=name), json=dict(version=0))
    r = c.post('/api/adapt')
    assert r.status_code == 400 and 'at least 3 approved images, there are 2' in r.json()['error']
    assert c.get('/api/adapt').json() == dict(state='idle')
    r = c.post('/api/repredict')
    assert r.status_code == 400 and 'adapt first' in r.json()['error']
    # at the minimum it starts (here it then fails: there is no model; the page says why)
    c.post('/api/approve', params=dict(name='sub/c_review.png'), json=dict(version=0))
    r = c.post('/api/adapt')
    assert r.status_code == 200 and r.json()['state'] == 'running' and r.json()['images'] == 3
    end = time.monotonic() + 120
    while c.get('/api/adapt').json()['state'] == 'running' and time.monotonic() < end:
        time.sleep(0.05)
    state = c.get('/api/adapt').json()
    assert state['state'] == 'failed' and 'model.pth: checkpoint not found' in state['error']
    # the adapted checkpoint goes beside the original, never over it or another file
    ckpt = osp.join(folder[1], 'best.pth')
    first = adapted_name(ckpt)
    assert osp.dirname(first) == folder[1] and first != ckpt and first.endswith('.pth')
    open(first, 'w').close()
    assert adapted_name(ckpt) not in (first, ckpt)


def test_a_dicom_is_shown_with_the_models_intensity_mapping(folder):
    """A 12-bit DICOM (max 4095) is shown scaled from 12 bits to 0..255, computed here by
    hand, as the model sees it (mmceph.imaging.image_io's one mapping)."""
    import cv2
    from dicom_files import write_dicom
    images, _ = folder
    pixels = (np.arange(60 * 50).reshape(60, 50) * 37 % 4096).astype(np.uint16)
    pixels[0, 0] = 4095
    write_dicom(osp.join(images, 'scan.dcm'), pixels, (0.1, 0.1))
    c, store = client(folder)
    assert 'scan.dcm' in store.images
    r = c.get('/api/pixels', params=dict(name='scan.dcm'))
    shown = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert (shown == np.round(pixels / 4095 * 255).astype(np.uint8)).all()


def test_mim_run_mmceph_review_answers_help_and_serves(folder, tmp_path):
    """Through mim, from an unrelated folder (mim's own ``--help`` comes first, so the
    tool's is ``mim run mmceph review -- --help``), and a real start over the folder."""
    from conftest import BIN, CONFIG
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'], OMP_NUM_THREADS='1')
    out = subprocess.run(['mim', 'run', 'mmceph', 'review', '--', '--help'], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and 'usage: review.py' in out.stdout and '--work' in out.stdout
    images, work = folder
    ckpt = tmp_path / 'cached.pth'          # every image has a cached prediction: not loaded
    ckpt.write_bytes(b'')
    proc = subprocess.Popen(['mim', 'run', 'mmceph', 'review', CONFIG, str(ckpt), images,
                             '--work', work, '--port', '0'], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)   # mim's child server: stopped with it
    try:
        url = next(ln.split()[1] for ln in proc.stdout if ln.startswith('open '))
        import urllib.request
        with urllib.request.urlopen(url + 'api/worklist') as r:
            items = json.load(r)['items']
        assert sorted(it['image'] for it in items) == sorted(
            ['a_ok.png', 'b_ok_low.png', 'sub/c_review.png', 'd_rejected.png'])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
