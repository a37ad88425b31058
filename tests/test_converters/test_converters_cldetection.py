"""CL-Detection 2023 converter on a real .mha stack written by SimpleITK (several slice
sizes and spacings, zero padding as released) and labels written as the release writes
them (FORMATS.md: "name" an integer 1..38, "scale" a JSON string such as "0.1")."""
import json
import os
import os.path as osp

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

from data_converters.__main__ import main

PAD_W, PAD_H = 60, 50                       # the stack's common size (2880x2400 released)
SIZES = [(48, 40), (60, 36), (40, 50), (52, 44), (44, 38), (56, 48), (50, 42), (46, 46)]
SPACINGS = [0.1, 0.125, 0.096, 0.1, 0.125, 0.096, 0.1, 0.125]


def make_stack(root, seed=0, sizes=SIZES, spacings=SPACINGS, grey_slices=(1,), name=int,
               scale=str):
    """Write train_stack.mha and train-gt.json; return {z: (image, points, spacing)}.
    ``name``/``scale`` write each point's "name" (from 1..38) and "scale": as released,
    ``int`` and ``str``."""
    rng = np.random.default_rng(seed)
    stack = np.zeros((len(sizes), PAD_H, PAD_W, 3), np.uint8)
    truth, points = {}, []
    for i, ((w, h), s) in enumerate(zip(sizes, spacings)):
        z = i + 1
        img = rng.integers(1, 255, (h, w, 3), dtype=np.uint8)   # no zero row/column inside
        if z in grey_slices:
            img[:] = img[..., :1]
        stack[i, :h, :w] = img
        pts = rng.uniform(1, min(w, h) - 2, (38, 2)).round(1)
        truth[z] = (img, pts, s)
        points += [dict(name=name(k + 1), point=[float(x), float(y), z], scale=scale(s))
                   for k, (x, y) in enumerate(pts)]
    os.makedirs(root, exist_ok=True)
    sitk.WriteImage(sitk.GetImageFromArray(stack, isVector=True), str(root / 'train_stack.mha'))
    with open(root / 'train-gt.json', 'w') as f:
        json.dump(dict(points=points), f)
    return truth


def run(root, out, *extra):
    return main(['cldetection2023', '--stack', str(root / 'train_stack.mha'),
                 '--labels', str(root / 'train-gt.json'), '--out', str(out), *extra])


def load_split(out, split):
    with open(osp.join(out, 'annotations', f'{split}.json')) as f:
        return json.load(f)


@pytest.mark.parametrize('name,scale', [(int, str), (str, float)],
                         ids=['as-released', 'string-names-number-scales'])
def test_slices_cut_written_and_labelled(tmp_path, capsys, name, scale):
    truth = make_stack(tmp_path / 'cl', name=name, scale=scale)
    text = (tmp_path / 'cl' / 'train-gt.json').read_text()
    assert ('"name": 1,' in text and '"scale": "0.125"' in text) == (name is int)
    out = tmp_path / 'out'
    assert run(tmp_path / 'cl', out, '--val-fraction', '0.25', '--test-fraction', '0.25') == 0
    seen = {}
    for split in ('train', 'val', 'test'):
        doc = load_split(out, split)
        assert len(doc['categories'][0]['keypoints']) == 38
        assert doc['categories'][0]['keypoints'][0] == 'sella'
        assert doc['categories'][0]['keypoints'][37] == 'lower_molar'
        for img, ann in zip(doc['images'], doc['annotations']):
            z = img['slice']
            seen[z] = split
            image, pts, spacing = truth[z]
            assert img['file_name'] == f'images/{z:03d}.png'
            assert (img['width'], img['height']) == (image.shape[1], image.shape[0])
            assert img['pixel_spacing'] == [spacing, spacing]
            written = np.asarray(Image.open(out / img['file_name']))
            expected = image[..., 0] if z == 1 else image     # grey slice: one channel
            np.testing.assert_array_equal(written, expected)
            kp = np.array(ann['keypoints']).reshape(38, 3)
            np.testing.assert_allclose(kp[:, :2], pts)
            assert (kp[:, 2] == 2).all()
    assert sorted(seen) == list(range(1, 9))
    assert sorted(seen.values()).count('train') == 4 and list(seen.values()).count('val') == 2
    assert osp.exists(out / 'roi_prior.json')
    text = capsys.readouterr().out
    assert '0.096x0.096' in text and '0.125x0.125' in text


def test_seeded_split_is_reproducible_and_split_file_wins(tmp_path):
    make_stack(tmp_path / 'cl')
    splits = []
    for name in ('a', 'b'):
        assert run(tmp_path / 'cl', tmp_path / name, '--seed', '7') == 0
        splits.append({s: [i['slice'] for i in load_split(tmp_path / name, s)['images']]
                       for s in ('train', 'val', 'test')})
    assert splits[0] == splits[1] and len(splits[0]['train']) == 6
    (tmp_path / 'split.json').write_text(json.dumps(
        dict(train=[1, 2, 3, 4, 5], val=[6], test=[7, 8])))
    assert run(tmp_path / 'cl', tmp_path / 'c', '--split-file', str(tmp_path / 'split.json')) == 0
    assert [i['slice'] for i in load_split(tmp_path / 'c', 'test')['images']] == [7, 8]


def test_rerun_replaces_images_and_annotations(tmp_path):
    make_stack(tmp_path / 'cl')
    out = tmp_path / 'out'
    assert run(tmp_path / 'cl', out) == 0
    (out / 'images' / 'stale.png').write_bytes(b'x')
    make_stack(tmp_path / 'cl', sizes=SIZES[:6], spacings=SPACINGS[:6])
    assert run(tmp_path / 'cl', out, '--roi', 'none') == 0
    assert sorted(os.listdir(out / 'images')) == [f'{z:03d}.png' for z in range(1, 7)]
    assert not osp.exists(out / 'roi_prior.json')


# ------------------------------------------------------------------- bad input
def bad(root, out, capsys, *extra):
    assert run(root, out, *extra) == 2
    assert not osp.exists(out)                # nothing half-written, no empty folder
    return capsys.readouterr().err.strip().splitlines()[-1]


def edit_labels(root, fn):
    path = root / 'train-gt.json'
    doc = json.loads(path.read_text())
    fn(doc['points'])
    path.write_text(json.dumps(doc))


def test_label_for_a_missing_slice(tmp_path, capsys):
    make_stack(tmp_path / 'cl')
    edit_labels(tmp_path / 'cl', lambda pts: pts.append(
        dict(name=1, point=[3.0, 4.0, 9], scale='0.1')))
    msg = bad(tmp_path / 'cl', tmp_path / 'out', capsys)
    assert 'train-gt.json' in msg and 'slice(s) 9' in msg and 'has 8 slices' in msg


def test_slice_without_labels(tmp_path, capsys):
    make_stack(tmp_path / 'cl')
    edit_labels(tmp_path / 'cl', lambda pts: pts.__delitem__(slice(38 * 2, 38 * 3)))
    msg = bad(tmp_path / 'cl', tmp_path / 'out', capsys)
    assert 'no labels for slice(s) 3' in msg


def test_point_on_the_padding(tmp_path, capsys):
    make_stack(tmp_path / 'cl')
    # slice 2 is 60x36: y = 40 lies in the zero rows below it (inside the 60x50 stack)
    edit_labels(tmp_path / 'cl', lambda pts: pts[38 + 4]['point'].__setitem__(1, 40.0))
    msg = bad(tmp_path / 'cl', tmp_path / 'out', capsys)
    assert 'image 2 (60x36' in msg and 'landmark 5 at' in msg and 'padding' in msg


@pytest.mark.parametrize('name', [39, '39', 0, -1, True, 1.0, '1.0', None, 'S'])
def test_unknown_landmark_name(tmp_path, capsys, name):
    make_stack(tmp_path / 'cl')
    edit_labels(tmp_path / 'cl', lambda pts: pts[3].__setitem__('name', name))
    msg = bad(tmp_path / 'cl', tmp_path / 'out', capsys)
    assert f'points[3]: unknown landmark name {name!r} (expected 1..38)' in msg


@pytest.mark.parametrize('scale', ['0.1x', '', 'nan', 'inf', '-0.1', '0', 0, '20', 5.01,
                                   '0.0099', None, True, [0.1]])
def test_scale_that_is_not_a_plausible_spacing(tmp_path, capsys, scale):
    make_stack(tmp_path / 'cl')
    edit_labels(tmp_path / 'cl', lambda pts: pts[38 + 2].__setitem__('scale', scale))
    msg = bad(tmp_path / 'cl', tmp_path / 'out', capsys)
    assert 'points[40] (landmark 3): "scale" must be the spacing in mm/px' in msg
    assert f'between 0.01 and 5, got {scale!r}' in msg


@pytest.mark.parametrize('scale', ['0.01', ' 5 ', 5, '0.096'])
def test_scale_at_the_bounds_is_read(tmp_path, scale):
    make_stack(tmp_path / 'cl')
    edit_labels(tmp_path / 'cl', lambda pts: [p.__setitem__('scale', scale) for p in pts
                                              if p['point'][2] == 2])
    assert run(tmp_path / 'cl', tmp_path / 'out', '--roi', 'none') == 0
    img = [i for s in ('train', 'val', 'test') for i in load_split(tmp_path / 'out', s)['images']
           if i['slice'] == 2][0]
    assert img['pixel_spacing'] == [float(scale)] * 2


def test_landmark_shortfall_is_an_error_unless_allowed(tmp_path, capsys):
    """Every released image has all 38 points: image 3 without landmarks 5 and 38 (and
    image 6 without 1) is refused, naming image 3 and both of its missing landmarks."""
    make_stack(tmp_path / 'cl')
    drop = {(3, 5), (3, 38), (6, 1)}
    edit_labels(tmp_path / 'cl', lambda pts: pts.__setitem__(slice(None), [
        p for p in pts if (p['point'][2], p['name']) not in drop]))
    msg = bad(tmp_path / 'cl', tmp_path / 'out', capsys)
    assert 'train-gt.json: image 3 lacks 2 of its 38 landmarks: 5 (subspinale), 38 ' \
           '(lower_molar); 1 more image(s) lack points too' in msg
    assert '--allow-missing' in msg
    assert run(tmp_path / 'cl', tmp_path / 'out', '--allow-missing') == 0
    got = {i['slice']: np.array(a['keypoints']).reshape(38, 3)
           for s in ('train', 'val', 'test') for doc in [load_split(tmp_path / 'out', s)]
           for i, a in zip(doc['images'], doc['annotations'])}
    assert list(got[3][4]) == [0, 0, 0] and list(got[3][37]) == [0, 0, 0]
    assert list(got[6][0]) == [0, 0, 0] and (got[3][:4, 2] == 2).all()
    assert '3 missing points' in capsys.readouterr().out


def test_baseline2023_split_is_the_official_draw():
    """Checked by an independent route (the baselines' own recipe, with the global
    generator) and against the first rows of their published split CSV."""
    import random

    from data_converters.cldetection2023 import baseline_split
    ids = list(range(1, 401))
    random.seed(2023)
    random.shuffle(ids)
    assert ids[:3] == [104, 99, 278]
    split = baseline_split()
    assert [z for z in ids if split[z] == 'train'] == ids[:300]
    assert [z for z in ids if split[z] == 'val'] == ids[300:350]
    assert [z for z in ids if split[z] == 'test'] == ids[350:]
    assert list(split)[:3] == [104, 99, 278]


def test_baseline2023_split_converts_and_says_so(tmp_path, capsys):
    from data_converters.cldetection2023 import baseline_split
    sizes = [(16 + k % 5, 14 + k % 3) for k in range(400)]
    make_stack(tmp_path / 'cl', sizes=sizes, spacings=[0.1, 0.125, 0.096, 0.1] * 100,
               grey_slices=())
    out = tmp_path / 'out'
    assert run(tmp_path / 'cl', out, '--split', 'baseline2023') == 0
    want = baseline_split()
    for split, n in (('train', 300), ('val', 50), ('test', 50)):
        doc = load_split(out, split)
        zs = [i['slice'] for i in doc['images']]
        assert len(zs) == n and {want[z] for z in zs} == {split}
        assert doc['info']['split'].startswith('baseline2023: the official baselines')
    assert 'split: baseline2023' in capsys.readouterr().out
    seeded = run(tmp_path / 'cl', tmp_path / 'seeded')
    assert seeded == 0 and 'not the official' in load_split(tmp_path / 'seeded',
                                                            'val')['info']['split']
    msg = bad(tmp_path / 'cl', tmp_path / 'o2', capsys, '--split', 'baseline2023', '--seed', '1')
    assert 'baseline2023 defines the splits' in msg


def test_baseline2023_split_needs_the_400_images(tmp_path, capsys):
    make_stack(tmp_path / 'cl')
    msg = bad(tmp_path / 'cl', tmp_path / 'out', capsys, '--split', 'baseline2023')
    assert 'train-gt.json' in msg and 'needs the 400 released training images' in msg
    assert 'these labels have 8' in msg


def test_spacing_disagreement_in_one_image(tmp_path, capsys):
    make_stack(tmp_path / 'cl')
    edit_labels(tmp_path / 'cl', lambda pts: pts[38 * 3 + 7].__setitem__('scale', '0.2'))
    msg = bad(tmp_path / 'cl', tmp_path / 'out', capsys)
    assert 'image 4' in msg and 'disagree' in msg and '0.2 mm/px for landmark(s) 8' in msg


def test_empty_slice_and_unreadable_stack(tmp_path, capsys):
    make_stack(tmp_path / 'cl')
    arr = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / 'cl' / 'train_stack.mha')))
    arr[4] = 0
    sitk.WriteImage(sitk.GetImageFromArray(arr, isVector=True),
                    str(tmp_path / 'cl' / 'train_stack.mha'))
    msg = bad(tmp_path / 'cl', tmp_path / 'out', capsys)
    assert 'train_stack.mha' in msg and 'slice 5 is all zero' in msg
    (tmp_path / 'cl' / 'train_stack.mha').write_bytes(b'not an image')
    msg = bad(tmp_path / 'cl', tmp_path / 'out', capsys)
    assert 'train_stack.mha' in msg and 'not a readable ITK image' in msg


def test_help_explains(capsys):
    with pytest.raises(SystemExit):
        main(['cldetection2023', '--help'])
    text = capsys.readouterr().out
    assert 'zero-padded' in text and '--split-file' in text and '300/50/50' in text
    assert '"scale": "0.1"' in text and 'random.seed(2023)' in text and '--allow-missing' in text
