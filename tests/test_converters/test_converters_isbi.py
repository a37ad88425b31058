"""ISBI 2015 converter: the real data (when present) and small generated copies."""
import contextlib
import io
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from data_converters.__main__ import main

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLASSES = ['ANB', 'SNB', 'SNA', 'ODI', 'APDI', 'FHI', 'FMA', 'MW']


def load_split(out, split):
    with open(osp.join(out, 'annotations', f'{split}.json')) as f:
        return json.load(f)


def parse_txt(path):
    """Independent reading of an ISBI txt: 19 'x,y' lines, then 8 class lines."""
    lines = open(path).read().split('\n')
    points = [[float(v) for v in line.split(',')] for line in lines[:19]]
    return points, [int(line) for line in lines[19:27]]


def assert_no_output(out):
    """A failed conversion leaves nothing a later step could mistake for a dataset."""
    ann = osp.join(out, 'annotations')
    assert not osp.exists(ann) or not os.listdir(ann)
    assert not osp.exists(osp.join(out, 'roi_prior.json'))
    assert not osp.exists(osp.join(out, 'images'))


def convert(argv):
    """Run the CLI in-process, capturing stdout/stderr (module fixtures cannot use capsys)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


# --------------------------------------------------------------------- real data
@pytest.fixture(scope='module')
def real(isbi_root, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('isbi_real'))
    rc, stdout, stderr = convert(['isbi2015', '--root', isbi_root, '--out', out])
    return dict(out=out, rc=rc, stdout=stdout, stderr=stderr)


def test_real_keypoints_sizes_spacing_classes(real, isbi_root):
    assert real['rc'] == 0, real['stderr']
    seen = 0
    for split, folder, count in [('train', 'TrainingData', 130), ('val', 'TrainingData', 20),
                                 ('test1', 'Test1Data', 150)]:
        doc = load_split(real['out'], split)
        assert len(doc['images']) == count
        for img, ann in zip(doc['images'], doc['annotations']):
            assert ann['image_id'] == img['id']
            stem = osp.splitext(osp.basename(img['file_name']))[0]
            assert img['file_name'].startswith(f'RawImage/{folder}/')
            assert osp.isfile(osp.join(isbi_root, img['file_name']))
            assert (img['width'], img['height']) == (1935, 2400)
            assert img['pixel_spacing'] == [0.1, 0.1]
            txt = osp.join(isbi_root, 'AnnotationsByMD', '400_senior', f'{stem}.txt')
            points, classes = parse_txt(txt)
            kp = np.array(ann['keypoints']).reshape(19, 3)
            np.testing.assert_array_equal(kp[:, :2], points)
            assert (kp[:, 2] == 2).all() and ann['num_keypoints'] == 19
            assert img['isbi_classes'] == dict(zip(CLASSES, classes))
            seen += 1
    assert seen == 300


def test_real_loads_with_xtcocotools(real):
    from xtcocotools.coco import COCO
    coco = COCO(osp.join(real['out'], 'annotations', 'train.json'))
    assert len(coco.getImgIds()) == 130
    assert coco.loadCats(1)[0]['keypoints'][0] == 'sella'
    assert len(coco.loadAnns(coco.getAnnIds(imgIds=[1]))[0]['keypoints']) == 57


def test_real_roi_contains_every_training_landmark(real):
    with open(osp.join(real['out'], 'roi_prior.json')) as f:
        roi = json.load(f)['roi_xyxy_normalised']
    for split in ('train', 'test1'):
        doc = load_split(real['out'], split)
        for img, ann in zip(doc['images'], doc['annotations']):
            x, y, w, h = ann['bbox']   # the same normalised box on every image of every split
            np.testing.assert_allclose([x / img['width'], y / img['height'], (x + w) / img['width'],
                                        (y + h) / img['height']], roi, atol=1e-3)
            if split == 'train':
                kp = np.array(ann['keypoints']).reshape(-1, 3)
                assert (kp[:, 0] >= x).all() and (kp[:, 0] <= x + w).all()
                assert (kp[:, 1] >= y).all() and (kp[:, 1] <= y + h).all()


def test_real_duplicates_warned_and_dedupe(real, isbi_root, tmp_path):
    for a, b in [('038', '283'), ('144', '173')]:
        line = next(ln for ln in real['stderr'].splitlines() if f'{a}.' in ln)
        assert 'byte-identical' in line and f'{b}.' in line
    rc, _, stderr = convert(['isbi2015', '--root', isbi_root, '--out', str(tmp_path), '--dedupe'])
    assert rc == 0, stderr
    test1 = [i['file_name'] for i in load_split(tmp_path, 'test1')['images']]
    assert len(test1) == 148
    assert not any(n.endswith(('/283.jpg', '/173.jpg')) for n in test1)
    assert len(load_split(tmp_path, 'train')['images']) == 130


# --------------------------------------------------------------- generated data
def make_isbi(root, layout=None, annotators=('senior', 'junior'), size=(64, 80), seed=0):
    """A tiny ISBI tree: {split folder: [file names]}; returns {annotator: {stem: points}}."""
    layout = layout or {'TrainingData': ['001.bmp', '002.png'], 'Test1Data': ['003.jpg']}
    rng = np.random.default_rng(seed)
    truth = {a: {} for a in annotators}
    for folder, names in layout.items():
        os.makedirs(osp.join(root, 'RawImage', folder), exist_ok=True)
        for name in names:
            pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(osp.join(root, 'RawImage', folder, name))
            stem = osp.splitext(name)[0]
            for a in annotators:
                pts = rng.integers(2, min(size) - 2, (19, 2))
                classes = rng.integers(1, 4, 8)
                os.makedirs(osp.join(root, 'AnnotationsByMD', f'400_{a}'), exist_ok=True)
                write_txt(osp.join(root, 'AnnotationsByMD', f'400_{a}', f'{stem}.txt'),
                          pts, classes)
                truth[a][stem] = (pts, classes)
    return truth


def write_txt(path, pts, classes):
    with open(path, 'w') as f:
        f.write('\n'.join([f'{x},{y}' for x, y in pts] + [str(c) for c in classes]) + '\n')


def by_stem(out, split):
    doc = load_split(out, split)
    return {osp.splitext(osp.basename(i['file_name']))[0]: (i, a)
            for i, a in zip(doc['images'], doc['annotations'])}


@pytest.mark.parametrize('annotator', ['senior', 'junior'])
def test_generated_single_annotator(tmp_path, capsys, annotator):
    truth = make_isbi(tmp_path / 'isbi')
    out = tmp_path / 'out'
    assert main(['isbi2015', '--root', str(tmp_path / 'isbi'), '--out', str(out),
                 '--annotator', annotator]) == 0
    assert sorted(os.listdir(out / 'annotations')) == ['test1.json', 'train.json']
    got = {**by_stem(out, 'train'), **by_stem(out, 'test1')}
    assert got['001'][0]['file_name'] == 'RawImage/TrainingData/001.bmp'
    assert got['003'][0]['file_name'] == 'RawImage/Test1Data/003.jpg'
    for stem, (pts, classes) in truth[annotator].items():
        img, ann = got[stem]
        assert (img['width'], img['height']) == (64, 80)
        np.testing.assert_array_equal(np.array(ann['keypoints']).reshape(19, 3)[:, :2], pts)
        assert img['isbi_classes'] == dict(zip(CLASSES, classes.tolist()))
    assert 'splits: train=2, test1=1' in capsys.readouterr().out


def test_generated_mean_averages_points_and_keeps_agreed_classes(tmp_path):
    truth = make_isbi(tmp_path / 'isbi')
    # make the junior agree with the senior on every class of 001 but FMA
    s_pts, s_cls = truth['senior']['001']
    j_pts, _ = truth['junior']['001']
    j_cls = s_cls.copy()
    j_cls[6] = s_cls[6] % 3 + 1
    write_txt(tmp_path / 'isbi/AnnotationsByMD/400_junior/001.txt', j_pts, j_cls)
    out = tmp_path / 'out'
    assert main(['isbi2015', '--root', str(tmp_path / 'isbi'), '--out', str(out),
                 '--annotator', 'mean']) == 0
    img, ann = by_stem(out, 'train')['001']
    kp = np.array(ann['keypoints']).reshape(19, 3)
    np.testing.assert_allclose(kp[:, :2], (s_pts + j_pts) / 2)
    expected = {k: int(v) for k, v in zip(CLASSES, s_cls) if k != 'FMA'}
    assert img['isbi_classes'] == expected


def test_help_states_default_annotator(capsys):
    with pytest.raises(SystemExit):
        main(['isbi2015', '--help'])
    text = capsys.readouterr().out
    assert 'default is the senior' in text and 'Papers differ' in text and '--dedupe' in text


def test_generated_duplicate_across_splits_is_warned_and_deduped(tmp_path, capsys):
    make_isbi(tmp_path / 'isbi', {'TrainingData': ['001.png', '002.png'], 'Test1Data': ['003.png']})
    raw = tmp_path / 'isbi' / 'RawImage'
    (raw / 'Test1Data' / '003.png').write_bytes((raw / 'TrainingData' / '002.png').read_bytes())
    args = ['isbi2015', '--root', str(tmp_path / 'isbi'), '--roi', 'none']
    assert main(args + ['--out', str(tmp_path / 'a')]) == 0
    err = capsys.readouterr().err
    assert 'byte-identical' in err and '002.png (train)' in err and '003.png (test1)' in err
    assert len(load_split(tmp_path / 'a', 'test1')['images']) == 1
    assert main(args + ['--out', str(tmp_path / 'b'), '--dedupe']) == 0
    assert not osp.exists(tmp_path / 'b' / 'annotations' / 'test1.json')   # test1 is now empty
    assert len(load_split(tmp_path / 'b', 'train')['images']) == 2


# ------------------------------------------------------------------- bad input
def run_bad(tmp_path, capsys, *extra):
    out = tmp_path / 'out'
    rc = main(['isbi2015', '--root', str(tmp_path / 'isbi'), '--out', str(out), *extra])
    err = capsys.readouterr().err
    assert rc == 2
    assert_no_output(out)
    return err.strip().splitlines()[-1]


def test_missing_annotator_folder_is_named(tmp_path, capsys):
    make_isbi(tmp_path / 'isbi', annotators=('senior',))
    msg = run_bad(tmp_path, capsys, '--annotator', 'mean')
    assert '400_junior' in msg and 'not found' in msg


def test_missing_image_folder_is_named(tmp_path, capsys):
    make_isbi(tmp_path / 'isbi')
    os.rename(tmp_path / 'isbi' / 'RawImage', tmp_path / 'isbi' / 'Images')
    assert 'RawImage' in run_bad(tmp_path, capsys)


def test_missing_txt_is_named(tmp_path, capsys):
    make_isbi(tmp_path / 'isbi')
    os.unlink(tmp_path / 'isbi' / 'AnnotationsByMD' / '400_senior' / '002.txt')
    assert '002.txt' in run_bad(tmp_path, capsys)


def test_txt_with_too_few_lines(tmp_path, capsys):
    make_isbi(tmp_path / 'isbi')
    path = tmp_path / 'isbi' / 'AnnotationsByMD' / '400_senior' / '002.txt'
    path.write_text('\n'.join(path.read_text().splitlines()[:12]))
    msg = run_bad(tmp_path, capsys)
    assert '002.txt:13' in msg and 'too few lines' in msg


@pytest.mark.parametrize('line,text', [(5, 'abc,12'), (7, '12'), (9, 'nan,4'), (23, 'x')])
def test_txt_with_non_numeric_line(tmp_path, capsys, line, text):
    make_isbi(tmp_path / 'isbi')
    path = tmp_path / 'isbi' / 'AnnotationsByMD' / '400_senior' / '003.txt'
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text('\n'.join(lines))
    msg = run_bad(tmp_path, capsys)
    assert f'003.txt:{line}:' in msg and repr(text) in msg


def test_landmark_outside_image(tmp_path, capsys):
    make_isbi(tmp_path / 'isbi')
    path = tmp_path / 'isbi' / 'AnnotationsByMD' / '400_senior' / '001.txt'
    lines = path.read_text().splitlines()
    lines[3] = '10,80'           # the image is 64x80: y = 80 is past the last row
    path.write_text('\n'.join(lines))
    msg = run_bad(tmp_path, capsys)
    assert '001.txt' in msg and 'landmark 4' in msg and 'outside' in msg


@pytest.mark.parametrize('name,damage', [
    ('001.bmp', lambda b: b[:len(b) // 2]),      # truncated BMP
    ('002.png', lambda b: b[:len(b) - 30]),      # truncated PNG
    ('003.jpg', lambda b: b[:len(b) - 100]),     # truncated JPEG
    ('002.png', lambda b: b''),                  # zero bytes
    ('001.bmp', lambda b: b'not an image at all' * 20),
])
def test_unreadable_or_truncated_image(tmp_path, capsys, name, damage):
    make_isbi(tmp_path / 'isbi')
    folder = 'Test1Data' if name == '003.jpg' else 'TrainingData'
    path = tmp_path / 'isbi' / 'RawImage' / folder / name
    path.write_bytes(damage(path.read_bytes()))
    msg = run_bad(tmp_path, capsys)
    assert name in msg and 'image' in msg


def test_cli_subprocess_exit_code_and_message(tmp_path):
    make_isbi(tmp_path / 'isbi')
    env = dict(os.environ, PYTHONPATH=REPO)
    base = [sys.executable, '-m', 'data_converters', 'isbi2015', '--root', str(tmp_path / 'isbi')]
    ok = subprocess.run(base + ['--out', str(tmp_path / 'good')], capture_output=True, text=True,
                        env=env, cwd=REPO)
    assert ok.returncode == 0, ok.stderr
    assert osp.isfile(tmp_path / 'good' / 'roi_prior.json')
    (tmp_path / 'isbi' / 'AnnotationsByMD' / '400_senior' / '003.txt').write_text('1,2\n3,x\n')
    bad = subprocess.run(base + ['--out', str(tmp_path / 'bad')], capture_output=True, text=True,
                         env=env, cwd=REPO)
    assert bad.returncode == 2
    assert '003.txt' in bad.stderr and 'Traceback' not in bad.stderr
    assert_no_output(tmp_path / 'bad')


# ------------------------------------------------- real data: both annotators
@pytest.fixture(scope='module')
def real_both(isbi_root, tmp_path_factory):
    """The real files converted with --annotator junior and --annotator mean."""
    outs = {}
    for annotator in ('junior', 'mean'):
        out = str(tmp_path_factory.mktemp(f'isbi_{annotator}'))
        rc, stdout, _ = convert(['isbi2015', '--root', isbi_root, '--out', out,
                                 '--annotator', annotator])
        assert rc == 0
        assert f'reference annotation: {annotator}' in stdout
        outs[annotator] = out
    return outs


@pytest.mark.parametrize('annotator', ['junior', 'mean'])
def test_real_other_annotators_exact(real, real_both, isbi_root, annotator):
    out = real_both[annotator]
    ann_dir = osp.join(isbi_root, 'AnnotationsByMD')
    counts = {}
    for split in ('train', 'val', 'test1'):
        doc = load_split(out, split)
        assert doc['info']['reference'] == annotator
        counts[split] = len(doc['images'])
        for img, ann in zip(doc['images'], doc['annotations']):
            assert img['reference'] == annotator
            stem = osp.splitext(osp.basename(img['file_name']))[0]
            s_pts, s_cls = parse_txt(osp.join(ann_dir, '400_senior', f'{stem}.txt'))
            j_pts, j_cls = parse_txt(osp.join(ann_dir, '400_junior', f'{stem}.txt'))
            kp = np.array(ann['keypoints']).reshape(19, 3)
            assert (kp[:, 2] == 2).all()
            if annotator == 'junior':
                np.testing.assert_array_equal(kp[:, :2], j_pts)
                assert img['isbi_classes'] == dict(zip(CLASSES, j_cls))
            else:
                np.testing.assert_array_equal(kp[:, :2], (np.array(s_pts) + j_pts) / 2)
                assert img['isbi_classes'] == {k: s for k, s, j in zip(CLASSES, s_cls, j_cls)
                                               if s == j}
    assert counts == {'train': 130, 'val': 20, 'test1': 150}
    senior = load_split(real['out'], 'train')
    assert senior['info']['reference'] == 'senior'


def test_real_mean_drops_disputed_classes_somewhere(real_both):
    """The annotators disagree on some class (2.35 mm apart): mean must leave some out."""
    doc = load_split(real_both['mean'], 'test1')
    sizes = [len(i['isbi_classes']) for i in doc['images']]
    assert min(sizes) < 8 and max(sizes) == 8


def test_rerun_without_test2_leaves_no_stale_test2(tmp_path):
    layout = {'TrainingData': ['001.bmp'], 'Test1Data': ['002.png'], 'Test2Data': ['003.jpg']}
    make_isbi(tmp_path / 'isbi', layout=layout)
    out = tmp_path / 'out'
    assert main(['isbi2015', '--root', str(tmp_path / 'isbi'), '--out', str(out)]) == 0
    assert sorted(os.listdir(out / 'annotations')) == ['test1.json', 'test2.json', 'train.json']
    import shutil
    shutil.rmtree(tmp_path / 'isbi' / 'RawImage' / 'Test2Data')
    assert main(['isbi2015', '--root', str(tmp_path / 'isbi'), '--out', str(out),
                 '--annotator', 'junior']) == 0
    assert sorted(os.listdir(out / 'annotations')) == ['test1.json', 'train.json']
    assert load_split(out, 'train')['info']['reference'] == 'junior'


def test_dataset_carries_reference_and_metric_logs_it(tmp_path):
    """The reference goes from the JSON into the dataset's metainfo and the metric's log."""
    import logging

    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS, METRICS

    import mmceph.registration  # noqa: F401
    make_isbi(tmp_path / 'isbi')
    out = tmp_path / 'out'
    assert main(['isbi2015', '--root', str(tmp_path / 'isbi'), '--out', str(out),
                 '--annotator', 'mean']) == 0
    init_default_scope('mmpose')
    ds = DATASETS.build(dict(type='ISBI2015Dataset', data_root=str(out),
                             ann_file='annotations/train.json',
                             data_prefix=dict(img=str(tmp_path / 'isbi') + '/'),
                             test_mode=True, pipeline=[]))
    assert ds.metainfo['reference'] == 'mean'
    metric = METRICS.build(dict(type='CephalometricMetric'))
    metric.dataset_meta = ds.metainfo
    gt = np.array(load_split(out, 'train')['annotations'][0]['keypoints']).reshape(19, 3)
    metric.results = [dict(img_id=1, img_path='x', pred=gt[:, :2] + 1, scores=np.ones(19),
                           gt=gt[:, :2], visible=np.ones(19), spacing=[0.1, 0.1])]
    logger = MMLogger.get_instance('mmceph-test-reference')
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    try:
        metric.compute_metrics(metric.results)
    finally:
        logger.removeHandler(handler)
    assert any('reference annotation: mean' in r.getMessage() for r in records)


# ------------------------------------------------------------ validation split
def test_val_ids_are_the_stated_seeded_draw():
    """VAL_IDS is the documented rule's output, not a hand-picked list."""
    from data_converters.isbi2015 import VAL_COUNT, VAL_IDS, VAL_SEED
    from data_converters.splits import seeded_split
    names = seeded_split(150, VAL_COUNT / 150, 0, VAL_SEED)
    assert {i + 1 for i, n in enumerate(names) if n == 'val'} == set(VAL_IDS)
    assert len(VAL_IDS) == 20 and not {38, 144} & VAL_IDS   # the Test1 duplicates stay in train


def test_real_val_split_ids_and_disjoint(real):
    stems = {s: {osp.splitext(osp.basename(i['file_name']))[0] for i in
                 load_split(real['out'], s)['images']} for s in ('train', 'val', 'test1')}
    assert stems['val'] == {'003', '031', '032', '042', '043', '050', '054', '055', '061', '063',
                            '064', '070', '099', '103', '105', '112', '118', '129', '133', '147'}
    assert not stems['val'] & stems['train'] and len(stems['val'] | stems['train']) == 150
    assert 'val_split' in load_split(real['out'], 'val')['info']


def test_generated_val_split_and_none(tmp_path):
    """TrainingData ids 002 (not listed) and 003 (listed) split; a Test1 image is never val;
    --val-split none keeps every training image in train."""
    layout = {'TrainingData': ['002.png', '003.png'], 'Test1Data': ['031.png']}
    truth = make_isbi(tmp_path / 'isbi', layout)
    out = tmp_path / 'out'
    assert main(['isbi2015', '--root', str(tmp_path / 'isbi'), '--out', str(out)]) == 0
    assert sorted(os.listdir(out / 'annotations')) == ['test1.json', 'train.json', 'val.json']
    assert set(by_stem(out, 'train')) == {'002'} and set(by_stem(out, 'val')) == {'003'}
    assert set(by_stem(out, 'test1')) == {'031'}
    kp = np.array(by_stem(out, 'val')['003'][1]['keypoints']).reshape(19, 3)
    np.testing.assert_array_equal(kp[:, :2], truth['senior']['003'][0])
    assert main(['isbi2015', '--root', str(tmp_path / 'isbi'), '--out', str(out),
                 '--val-split', 'none']) == 0
    assert sorted(os.listdir(out / 'annotations')) == ['test1.json', 'train.json']
    assert set(by_stem(out, 'train')) == {'002', '003'}
