"""The synthetic generator: deterministic, loadable by xtcocotools, landmarks inside images."""
import filecmp
import json
import os.path as osp

import numpy as np
import pytest
from xtcocotools.coco import COCO

from data_converters.__main__ import main


def convert(out, seed=0, n=10):
    assert main(['synthetic', '--out', str(out), '--seed', str(seed), '--num-images', str(n),
                 '--width', '192', '--height', '240']) == 0


@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp('synth')
    convert(out)
    return out


def test_same_seed_same_data(synth, tmp_path):
    convert(tmp_path)
    for split in ('train', 'val', 'test'):
        a = json.load(open(osp.join(synth, 'annotations', f'{split}.json')))
        b = json.load(open(osp.join(tmp_path, 'annotations', f'{split}.json')))
        assert a == b
    for im in a['images']:
        assert filecmp.cmp(osp.join(synth, im['file_name']), osp.join(tmp_path, im['file_name']),
                           shallow=False)


def test_other_seed_other_landmarks(synth, tmp_path):
    convert(tmp_path, seed=1)
    a = json.load(open(osp.join(synth, 'annotations', 'train.json')))['annotations'][0]
    b = json.load(open(osp.join(tmp_path, 'annotations', 'train.json')))['annotations'][0]
    assert a['keypoints'] != b['keypoints']


def test_xtcocotools_loads_and_landmarks_lie_inside(synth):
    total = 0
    for split in ('train', 'val', 'test'):
        coco = COCO(osp.join(synth, 'annotations', f'{split}.json'))
        assert coco.loadCats(1)[0]['keypoints'][0] == 'sella'
        for ann in coco.loadAnns(coco.getAnnIds()):
            img = coco.loadImgs(ann['image_id'])[0]
            k = np.array(ann['keypoints']).reshape(-1, 3)
            assert k.shape == (19, 3) and (k[:, 2] == 2).all()
            assert (k[:, 0] >= 0).all() and (k[:, 0] <= img['width'] - 1).all()
            assert (k[:, 1] >= 0).all() and (k[:, 1] <= img['height'] - 1).all()
            assert img['pixel_spacing'] == [0.1, 0.1]
            assert osp.isfile(osp.join(synth, img['file_name']))
            total += 1
    assert total == 10


def test_roi_prior_holds_every_training_landmark(synth):
    roi = json.load(open(osp.join(synth, 'roi_prior.json')))['roi_xyxy_normalised']
    coco = json.load(open(osp.join(synth, 'annotations', 'train.json')))
    for ann, img in zip(coco['annotations'], coco['images']):
        k = np.array(ann['keypoints']).reshape(-1, 3)[:, :2] / [img['width'], img['height']]
        assert (k >= roi[:2]).all() and (k <= roi[2:]).all()
        x, y, w, h = ann['bbox']
        assert x == pytest.approx(roi[0] * img['width'], abs=1e-2)
        assert w == pytest.approx((roi[2] - roi[0]) * img['width'], abs=1e-2)
