"""Both ISBI annotators in one JSON, and PickAnnotator choosing the training target."""
import json
import os

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, TRANSFORMS
from PIL import Image

import mmceph.registration  # noqa: F401
from data_converters.__main__ import main

K = 19
# hand-chosen points: senior (10, 20 + k), junior (14, 26 + k); mean (12, 23 + k)
SENIOR = np.array([[10, 20 + k] for k in range(K)], float)
JUNIOR = np.array([[14, 26 + k] for k in range(K)], float)
MEAN = np.array([[12, 23 + k] for k in range(K)], float)


def make_tree(root, annotators=('senior', 'junior')):
    """One training image 002 (not a validation id) with both annotators' txt files."""
    os.makedirs(root / 'RawImage' / 'TrainingData')
    Image.new('RGB', (64, 80)).save(root / 'RawImage' / 'TrainingData' / '002.png')
    for name, pts in (('senior', SENIOR), ('junior', JUNIOR)):
        if name in annotators:
            folder = root / 'AnnotationsByMD' / f'400_{name}'
            os.makedirs(folder)
            lines = [f'{int(x)},{int(y)}' for x, y in pts] + ['1'] * 8
            (folder / '002.txt').write_text('\n'.join(lines) + '\n')


def dataset(tmp_path, annotators=('senior', 'junior'), pipeline=()):
    make_tree(tmp_path / 'isbi', annotators)
    out = tmp_path / 'out'
    assert main(['isbi2015', '--root', str(tmp_path / 'isbi'), '--out', str(out),
                 '--roi', 'none']) == 0
    init_default_scope('mmpose')
    return DATASETS.build(dict(type='ISBI2015Dataset', data_root=str(out),
                               ann_file='annotations/train.json',
                               data_prefix=dict(img=str(tmp_path / 'isbi') + '/'),
                               pipeline=list(pipeline)))


def test_converter_keeps_both_annotators(tmp_path):
    ds = dataset(tmp_path)
    with open(tmp_path / 'out' / 'annotations' / 'train.json') as f:
        image = json.load(f)['images'][0]
    assert image['annotators'] == {'senior': SENIOR.tolist(), 'junior': JUNIOR.tolist()}
    info = ds.get_data_info(0)
    np.testing.assert_array_equal(info['keypoints'][0], SENIOR)    # --annotator default
    np.testing.assert_array_equal(info['annotator_keypoints']['junior'][0], JUNIOR)


@pytest.mark.parametrize('target,expected', [('senior', SENIOR), ('junior', JUNIOR),
                                             ('mean', MEAN)])
def test_fixed_targets_hand_computed(tmp_path, target, expected):
    ds = dataset(tmp_path, pipeline=[dict(type='PickAnnotator', target=target)])
    sample = ds[0]
    np.testing.assert_array_equal(sample['keypoints'][0], expected)
    assert sample['keypoints_visible'].min() == 1 and sample['annotator'] == target


def test_random_picks_both_over_seeds(tmp_path):
    info = dataset(tmp_path).get_data_info(0)
    pick = TRANSFORMS.build(dict(type='PickAnnotator', target='random'))
    seen = set()
    for seed in range(20):
        np.random.seed(seed)
        out = pick(dict(info))
        expected = {'senior': SENIOR, 'junior': JUNIOR}[out['annotator']]
        np.testing.assert_array_equal(out['keypoints'][0], expected)   # one of the two, whole
        seen.add(out['annotator'])
    assert seen == {'senior', 'junior'}
    np.random.seed(3)
    first = [pick(dict(info))['annotator'] for _ in range(8)]
    np.random.seed(3)
    assert [pick(dict(info))['annotator'] for _ in range(8)] == first   # seeded: reproducible


def test_missing_landmark_in_target_becomes_invisible(tmp_path):
    info = dataset(tmp_path).get_data_info(0)
    info['annotator_keypoints'] = {k: v.copy() for k, v in info['annotator_keypoints'].items()}
    info['annotator_keypoints']['junior'][0, 4] = np.nan
    out = TRANSFORMS.build(dict(type='PickAnnotator', target='mean'))(info)
    assert out['keypoints_visible'][0, 4] == 0 and out['keypoints_visible'][0, 3] == 1
    np.testing.assert_array_equal(out['keypoints'][0, 3], MEAN[3])


def test_refused_without_second_annotator(tmp_path):
    ds = dataset(tmp_path, annotators=('senior',))
    with open(tmp_path / 'out' / 'annotations' / 'train.json') as f:
        assert 'annotators' not in json.load(f)['images'][0]
    pick = TRANSFORMS.build(dict(type='PickAnnotator', target='senior'))
    with pytest.raises(ValueError, match=r'002\.png.*no senior or junior'):
        pick(ds.get_data_info(0))


def test_unknown_target_refused():
    with pytest.raises(ValueError, match="'both'"):
        TRANSFORMS.build(dict(type='PickAnnotator', target='both'))
