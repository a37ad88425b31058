"""The overlay's promises (README "Inference"): labels never overlap or leave the image,
even for adversarial landmark sets; a rejected image gets a red banner and no measurement
lines; the scale bar is drawn at the image's own spacing only, at the right length."""
import itertools

import numpy as np
import pytest

from data_converters.synthetic import MEAN_SHAPE
from mmceph.apis.overlay import (
    LINE,
    STATUS_STYLE,
    LayoutError,
    draw_overlay,
    label_boxes,
    label_texts,
)
from mmceph.metainfo.isbi2015 import KEYPOINTS
from mmceph.predictor.base import describe_landmarks

W, H = 1935, 2400


def sizes_of(texts, char_w=14, h=26):
    return [(char_w * len(t) + 8, h) for t in texts]


def assert_valid(boxes, width, height, obstacles=()):
    """Independent check: integer boxes inside the image, pairwise disjoint interiors."""
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, (x0, y0, x1, y1)
    for a, b in itertools.combinations(list(boxes) + list(obstacles), 2):
        disjoint = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
        assert disjoint, (a, b)


CASES = {
    'anatomy': MEAN_SHAPE * [W, H],
    'all within 3 px': np.array([W / 2, H / 2]) + np.random.default_rng(0).uniform(
        -3, 3, (19, 2)),
    'all on one point': np.full((19, 2), 500.0),
    'top-left corner': np.random.default_rng(1).uniform(0, 4, (19, 2)),
    'bottom-right edge and beyond': np.array([W, H]) + np.random.default_rng(2).uniform(
        -5, 40, (19, 2)),
    'non-finite': np.where(np.arange(19)[:, None] % 3 == 0, np.nan, MEAN_SHAPE * [W, H]),
}


@pytest.mark.parametrize('case', list(CASES))
def test_label_boxes_never_overlap_and_stay_inside(case):
    texts = label_texts(KEYPOINTS)
    obstacle = (30, H - 120, 330, H - 30)             # e.g. the scale bar
    boxes = label_boxes(CASES[case], sizes_of(texts), W, H, [obstacle])
    assert len(boxes) == 19
    assert_valid(boxes, W, H, [obstacle])
    sizes = sizes_of(texts)
    assert [(b[2] - b[0], b[3] - b[1]) for b in boxes] == sizes     # nothing shrunk


def test_labels_leave_the_markers_free_when_there_is_room():
    pts = MEAN_SHAPE * [W, H]
    boxes = label_boxes(pts, sizes_of(label_texts(KEYPOINTS)), W, H, marker=10)
    for x0, y0, x1, y1 in boxes:
        inside = (pts[:, 0] > x0 - 10) & (pts[:, 0] < x1 + 10) & (pts[:, 1] > y0 - 10) \
            & (pts[:, 1] < y1 + 10)
        assert not inside.any()


def test_small_image_crowded_still_valid():
    pts = np.full((19, 2), 64.0)
    boxes = label_boxes(pts, [(20, 9)] * 19, 128, 128, marker=3)
    assert_valid(boxes, 128, 128)


def test_a_label_exactly_the_image_size_fits_one_pixel_more_does_not():
    assert label_boxes([(10, 10)], [(100, 40)], 100, 40, marker=0) == [(0, 0, 100, 40)]
    with pytest.raises(LayoutError):
        label_boxes([(10, 10)], [(101, 40)], 100, 40, marker=0)
    with pytest.raises(LayoutError):                  # a second label has no room left
        label_boxes([(10, 10), (90, 30)], [(100, 40), (5, 5)], 100, 40, marker=0)


def result_for(status, spacing=(0.1, 0.1), assumed=False, width=W, height=H):
    kpts = MEAN_SHAPE * [width, height]
    result = dict(status=status, status_reasons=[] if status == 'ok' else ['a reason'],
                  pixel_spacing_mm=list(spacing) if spacing else None,
                  pixel_spacing_source='command line', pixel_spacing_assumed=assumed)
    # measurements present even when rejected: the drawing must not trust their presence
    result.update(describe_landmarks(KEYPOINTS, kpts, np.ones(19), spacing or (0.1, 0.1)))
    return result, kpts


def image_region(canvas, result_status_rows, width, height):
    return canvas[result_status_rows:result_status_rows + height, :width]


def banner_rows(canvas, status):
    colour = np.array(STATUS_STYLE[status][0], np.uint8)
    rows = 0
    while (canvas[rows, :5] == colour).all():
        rows += 1
    return rows


@pytest.mark.parametrize('status', ['ok', 'review', 'rejected'])
def test_banner_colour_and_measurement_lines_by_status(status):
    image = np.full((H, W, 3), 128, np.uint8)
    result, kpts = result_for(status)
    canvas = draw_overlay(image, result, kpts)
    top = banner_rows(canvas, status)
    assert top > 0                                             # the banner in its colour
    assert canvas.shape[1] > W and canvas.shape[0] >= top + H  # panel beside the image
    region = image_region(canvas, top, W, H)
    cyan = (region == np.array(LINE, np.uint8)).all(-1).sum()
    if status == 'rejected':
        assert cyan == 0                    # no line through points the gate refused
    else:
        assert cyan > 1000
    assert (region[5:50, W // 2] == 128).all()    # the image itself, unscaled, under it


@pytest.mark.parametrize('spacing, assumed, bar_px', [
    ((0.1, 0.1), False, 200),        # 20 mm: the longest round length <= a fifth (387 px)
    ((0.15, 0.15), False, 333),      # 50 mm / 0.15 = 333.3 px
    ((0.1, 0.1), True, None),        # an assumed spacing gets no bar
    (None, False, None)])
def test_scale_bar_length_follows_the_spacing(spacing, assumed, bar_px):
    image = np.full((H, W, 3), 128, np.uint8)
    result, kpts = result_for('ok', spacing, assumed)
    if spacing is None:
        result.pop('measurements')
    canvas = draw_overlay(image, result, kpts)
    region = image_region(canvas, banner_rows(canvas, 'ok'), W, H)
    white = (region[H - 200:, :W // 3] == 255).all(-1)
    if bar_px is None:
        assert not white.any()
    else:
        longest = max(np.diff(np.flatnonzero(np.diff(np.r_[0, row, 0].astype(int)))
                              )[::2].max(initial=0) for row in white)
        assert abs(longest - bar_px) <= 1
