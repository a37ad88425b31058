"""Test-time views and ensembles (mmceph.predictor.averaging) and their evaluation
(mmceph.evaluation.averaged_predictions, tools/analysis_tools/test_time_views.py)."""
import numpy as np
import pytest
from conftest import CONFIG, tool_main

from mmceph.evaluation.averaged_predictions import average_dumps, candidates
from mmceph.predictor.averaging import AveragedPredictor, view_bbox, view_grid
from mmceph.predictor.base import PredictorBase


class BoxCornerPredictor(PredictorBase):
    """A stand-in network: its two 'landmarks' are the crop's top-left corner and centre
    (plus ``offset``), its scores ``score``: averaging can be computed by hand."""

    def __init__(self, names=('a', 'b'), offset=0.0, score=0.5):
        self.names, self.offset, self.score = list(names), offset, score

    def _landmarks(self, pixels, bbox):
        x0, y0, x1, y1 = bbox[0]
        kpts = np.array([[x0, y0], [(x0 + x1) / 2, (y0 + y1) / 2]]) + self.offset
        return kpts, np.full(len(self.names), self.score)


def test_view_bbox_shifts_by_a_fraction_of_the_box_and_scales_about_its_centre():
    box = np.array([[100.0, 200.0, 300.0, 600.0]])          # 200 wide, 400 high, centre (200, 400)
    np.testing.assert_allclose(view_bbox(box, (0.1, -0.05, 1.0)), [[120, 180, 320, 580]])
    np.testing.assert_allclose(view_bbox(box, (0.0, 0.0, 1.5)), [[50, 100, 350, 700]])
    np.testing.assert_allclose(view_bbox(box, (0.0, 0.0, 1.0)), box)


def test_view_grid_lists_identity_first_then_four_shifts_then_scales():
    assert view_grid() == [(0.0, 0.0, 1.0)]
    assert view_grid(0.02, [0.95, 1.0, 1.05]) == [
        (0.0, 0.0, 1.0), (0.02, 0.0, 1.0), (-0.02, 0.0, 1.0), (0.0, 0.02, 1.0),
        (0.0, -0.02, 1.0), (0.0, 0.0, 0.95), (0.0, 0.0, 1.05)]
    assert view_grid(0.0, [1.0]) == [(0.0, 0.0, 1.0)]     # no duplicate of the identity


def test_averaged_predictor_means_landmarks_and_scores_over_members_and_views():
    pixels = np.zeros((400, 200), np.uint8)
    members = [BoxCornerPredictor(offset=0.0, score=0.2), BoxCornerPredictor(offset=4.0, score=0.6)]
    avg = AveragedPredictor(members, [(0.0, 0.0, 1.0), (0.1, 0.0, 1.0), (0.0, 0.0, 2.0)])
    kpts, scores = avg._landmarks(pixels, np.array([[0.0, 0.0, 100.0, 200.0]]))
    # views' boxes: (0,0,100,200), (10,0,110,200), (-50,-100,150,300)
    # top-left x: (0 + 10 - 50) / 3, y: (0 + 0 - 100) / 3; centres: x 50, 60, 50; y 100
    # the two members differ by +4 in every coordinate: their mean adds 2
    np.testing.assert_allclose(kpts, [[-40 / 3 + 2, -100 / 3 + 2], [160 / 3 + 2, 102]])
    np.testing.assert_allclose(scores, [0.4, 0.4])
    assert avg.check_orientation          # predict() keeps the orientation refusal by default


def test_averaged_predictor_refuses_members_with_other_landmarks_and_bad_views():
    with pytest.raises(ValueError, match='different landmarks'):
        AveragedPredictor([BoxCornerPredictor(('a', 'b')), BoxCornerPredictor(('b', 'a'))])
    with pytest.raises(ValueError, match='at least one'):
        AveragedPredictor([])
    with pytest.raises(ValueError, match='scale > 0'):
        AveragedPredictor([BoxCornerPredictor()], [(0.0, 0.0, 0.0)])


def test_average_dumps_is_the_mean_per_image_and_refuses_other_images():
    def dump(path_preds, seconds):
        return dict(keypoint_names=['a'], seconds=seconds, images=[
            dict(img_path=p, pred=[[x, y]], scores=[s]) for p, (x, y, s) in path_preds])
    a = dump([('1.png', (0, 0, 0.2)), ('2.png', (10, 20, 1.0))], 0.1)
    b = dump([('1.png', (4, 8, 0.4)), ('2.png', (20, 40, 0.0))], 0.3)
    mean = average_dumps([a, b])
    assert [i['pred'] for i in mean['images']] == [[[2, 4]], [[15, 30]]]
    np.testing.assert_allclose([i['scores'] for i in mean['images']], [[0.3], [0.5]])
    assert mean['seconds'] == pytest.approx(0.4)           # the passes' time adds up
    with pytest.raises(ValueError, match='different images'):
        average_dumps([a, dump([('2.png', (0, 0, 0)), ('1.png', (0, 0, 0))], 0.1)])


def test_candidates_cover_each_model_and_the_ensemble_with_every_grid():
    got = candidates(['model 1', 'model 2'], [0.01], [0.9, 1.1])
    assert [(name, members, len(views)) for name, members, views in got] == [
        ('model 1', (0,), 1), ('model 1 + shifts ±0.01', (0,), 5),
        ('model 1 + scales 0.9/1.1', (0,), 3),
        ('model 2', (1,), 1), ('model 2 + shifts ±0.01', (1,), 5),
        ('model 2 + scales 0.9/1.1', (1,), 3),
        ('ensemble of all', (0, 1), 1), ('ensemble of all + shifts ±0.01', (0, 1), 5),
        ('ensemble of all + scales 0.9/1.1', (0, 1), 3)]
    assert [n for n, _, _ in candidates(['model 1'], [], [])] == ['model 1']   # no ensemble of one


def test_the_pytorch_predictor_crops_the_box_it_is_given_even_with_a_roi_prior(demo_model):
    """A test-time view only helps if the network really sees the moved crop. Independent
    route: put the image on a larger canvas at (tx, ty) and move the box by the same
    amount -- the crop is then the same pixels, so every landmark must move by exactly
    (tx, ty). With the dataset's ROI prior set (as every ISBI model has), a pipeline that
    replaced the given box by the prior would crop other pixels and fail this."""
    import cv2
    import torch

    from mmceph.apis import LandmarkPredictor
    data, work, _ = demo_model
    image = cv2.imread(str(sorted((data / 'images').glob('*.png'))[0]), cv2.IMREAD_UNCHANGED)
    torch.set_num_threads(1)
    predictor = LandmarkPredictor(CONFIG, str(work / 'best_MRE.pth'), check_orientation=False)
    predictor.model.dataset_meta['roi_prior'] = (0.0, 0.0, 1.0, 1.0)
    h, w = image.shape[:2]
    tx, ty = 37, 23
    canvas = np.zeros((h + 60, w + 80) + image.shape[2:], image.dtype)
    canvas[ty:ty + h, tx:tx + w] = image
    box = np.array([[10.0, 12.0, w - 20.0, h - 8.0]], np.float32)
    kpts, scores = predictor._landmarks(image, box)
    moved, moved_scores = predictor._landmarks(canvas, box + np.float32([tx, ty, tx, ty]))
    # the same pixels up to OpenCV's fixed-point warp weights (1/32 px steps): ~1e-3 px;
    # a crop of other pixels is tens of pixels off (96 px with the prior's box)
    np.testing.assert_allclose(moved, kpts + [tx, ty], atol=0.05)
    np.testing.assert_allclose(moved_scores, scores, atol=5e-3)
    # and a moved box is a different crop (the view changes the prediction)
    shifted, _ = predictor._landmarks(image, box + np.float32([6, 0, 6, 0]))
    assert np.abs(shifted - kpts).max() > 1e-3


def test_tool_refuses_missing_conversions_in_one_line(tmp_path):
    res = tool_main('analysis_tools/test_time_views.py', '--model', f'a={CONFIG}:x.pth',
                    '--data', str(tmp_path / 'isbi'))
    assert res.returncode == 2
    assert 'val.json not found' in res.stderr and 'isbi_model.sh' in res.stderr
    assert res.stderr.count('\n') == 1


def test_tool_refuses_a_model_without_a_checkpoint_in_one_line(tmp_path):
    for d in ('isbi', 'isbi_junior', 'isbi_mean'):
        (tmp_path / d / 'annotations').mkdir(parents=True)
        for split in ('val', 'test1'):
            (tmp_path / d / 'annotations' / f'{split}.json').write_text('{}')
    res = tool_main('analysis_tools/test_time_views.py', '--model',
                    f'a={CONFIG}:{tmp_path}/missing.pth', '--data', str(tmp_path / 'isbi'))
    assert res.returncode == 2
    assert 'missing.pth' in res.stderr and 'not found' in res.stderr
    res = tool_main('analysis_tools/test_time_views.py', '--model', 'no-equals-sign',
                    '--data', str(tmp_path / 'isbi'))
    assert res.returncode == 2 and 'NAME=CONFIG:CHECKPOINT' in res.stderr
