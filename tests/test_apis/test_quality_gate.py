"""The quality gate: its image checks (contrast from a subsample on full-size
radiographs) and every limit of :func:`assess` just above and just below."""
import numpy as np
import pytest

from mmceph.predictor.quality import BLANK_STD, assess, check_image, orientation_reasons


def test_blank_full_size_image_is_refused_and_a_radiograph_like_one_is_not():
    h, w = 2400, 1935                                     # an ISBI image
    blank = np.full((h, w, 3), 90, np.uint8)
    assert check_image(blank) == ['the image is blank (no contrast)']
    ramp = np.broadcast_to(np.linspace(0, 255, w, dtype=np.uint8)[None, :, None], (h, w, 3))
    assert check_image(np.ascontiguousarray(ramp)) == []
    # faint contrast (std just above the limit) is measured the same on the subsample
    rng = np.random.default_rng(0)
    faint = (90 + rng.normal(0, 2 * BLANK_STD, (h, w, 3))).clip(0, 255).astype(np.uint8)
    assert check_image(faint) == []
    tiny = np.full((20, 30, 3), 90, np.uint8)
    assert any('at least' in r for r in check_image(tiny))


# --- assess(): every limit just above and just below -------------------------------
# The limits are written here as literals (0.4, 0.45, 0.25, 0.1), not read from the
# module: a changed constant must fail a test, not move the test along with it.
W, H = 200, 300


def inside(k):
    """k points well inside a W x H image."""
    return np.column_stack([np.linspace(10, 190, k), np.linspace(10, 290, k)])


def test_landmark_confidence_limit_is_inclusive_at_0_4():
    scores = np.full(19, 0.9)
    scores[3] = 0.4                                   # on the limit: not flagged
    report = assess(inside(19), scores, W, H)
    assert report.status == 'ok' and report.flags[3] == [] and report.reasons == []
    scores[3] = np.nextafter(0.4, 0)                  # just below: flagged
    report = assess(inside(19), scores, W, H)
    assert report.flags[3] == ['low_confidence']
    assert report.status == 'review'
    assert report.flagged.tolist() == [i == 3 for i in range(19)]
    assert report.reasons == ['1 landmark(s) flagged; measurements that use them are withheld']
    scores[3] = np.nan                                # no confidence at all: flagged
    assert assess(inside(19), scores, W, H).flags[3] == ['low_confidence']


def test_median_confidence_limit_0_45():
    """Every landmark above the landmark limit (0.4), only the median decides."""
    on = assess(inside(19), np.full(19, 0.45), W, H)
    assert on.status == 'ok' and on.reasons == []
    below = assess(inside(19), np.full(19, np.nextafter(0.45, 0)), W, H)
    assert below.status == 'rejected'
    assert not below.flagged.any()                    # rejected by the median rule alone
    assert below.reasons == ['median landmark confidence 0.45 is below 0.45: the model does '
                             'not recognise a lateral cephalogram it can judge']
    # the median, not the mean: one very confident landmark does not lift 18 weak ones
    scores = np.full(19, 0.44)
    scores[0] = 1.0
    assert assess(inside(19), scores, W, H).status == 'rejected'
    # ... and an even count takes the mean of the middle two: (0.44 + 0.46) / 2 = 0.45
    scores = np.array([0.44] * 10 + [0.46] * 10)
    assert assess(inside(20), scores, W, H).status == 'ok'
    assert assess(np.empty((0, 2)), np.empty(0), W, H).status == 'rejected'


@pytest.mark.parametrize('k, flagged, status', [
    (20, 5, 'review'),      # 5 / 20 = 0.25: on the limit
    (20, 6, 'rejected'),    # 0.30
    (19, 4, 'review'),      # 0.21
    (19, 5, 'rejected'),    # 0.26: just above
    (4, 1, 'review'),       # 0.25
    (4, 2, 'rejected'),     # 0.5
])
def test_flagged_fraction_limit_0_25(k, flagged, status):
    """Flagged by position (outside the image) with full confidence, so the median rule
    cannot decide instead."""
    points = inside(k)
    points[:flagged, 0] = W + 5
    report = assess(points, np.ones(k), W, H)
    assert report.status == status
    assert report.flagged.sum() == flagged
    assert all(f == ['outside_image'] for f in report.flags[:flagged])
    if status == 'rejected':
        assert f'{flagged} of {k} landmarks are flagged' in report.reasons


@pytest.mark.parametrize('axis, limit', [(0, -0.5), (0, W - 0.5), (1, -0.5), (1, H - 0.5)])
def test_outside_image_limits_are_the_pixel_edges(axis, limit):
    """Pixel centres are integers: the image spans [-0.5, size - 0.5] on each axis."""
    points = inside(19)
    points[0, axis] = limit
    assert assess(points, np.ones(19), W, H).flags[0] == []
    points[0, axis] = np.nextafter(limit, np.inf if limit > 0 else -np.inf)
    assert assess(points, np.ones(19), W, H).flags[0] == ['outside_image']
    points[0, axis] = np.nan
    assert assess(points, np.ones(19), W, H).flags[0] == ['outside_image']


def test_orientation_margin_0_1():
    scores = np.full(19, 0.5)
    median = 0.5
    at = assess(inside(19), scores, W, H, reoriented={'mirrored': median + 0.1,
                                                        'upside down': 0.2})
    assert at.status == 'rejected'
    assert len(at.reasons) == 1 and at.reasons[0].startswith('the image looks mirrored')
    below = assess(inside(19), scores, W, H,
                   reoriented={'mirrored': np.nextafter(median + 0.1, 0), 'upside down': 0.2})
    assert below.status == 'ok' and below.reasons == []
    # the better of the two orientations is named
    worse = assess(inside(19), scores, W, H, reoriented={'mirrored': 0.65, 'upside down': 0.7})
    assert worse.reasons[0].startswith('the image looks upside down')
    assert orientation_reasons(0.5, {}) == []


def test_image_checks_at_their_limits():
    """128 px per side is enough, 127 is not; a contrast (std) of 4 grey levels is
    enough, 3.5 is blank."""
    def two_level(h, w, low, high):
        a = np.full((h, w, 3), low, np.uint8)
        a[:, : w // 2] = high
        return a
    assert check_image(two_level(128, 128, 96, 104)) == []            # std exactly 4.0
    assert check_image(two_level(128, 128, 96, 103)) == ['the image is blank (no contrast)']
    for h, w in ((127, 200), (200, 127)):
        reasons = check_image(two_level(h, w, 0, 255))
        assert reasons == [f'the image is {w}x{h} pixels; at least 128 per side is needed']


def test_contrast_is_measured_on_the_documented_subsample_grid():
    """Contrast comes from every step-th row and column, step = floor(sqrt(pixels / 2**20))
    (at most ~1 M pixels: a full-size std costs a quarter of a prediction). Stripes on
    odd rows only show the grid: an ISBI-sized image (step 2) samples even rows, sees
    no contrast and is called blank; a small image (step 1) sees them."""
    def odd_row_stripes(h, w):
        a = np.full((h, w, 3), 90, np.uint8)
        a[1::2] = 200
        return a
    assert int(np.sqrt(2400 * 1935 / 2 ** 20)) == 2
    assert check_image(odd_row_stripes(2400, 1935)) == ['the image is blank (no contrast)']
    assert check_image(odd_row_stripes(200, 160)) == []
    # just under 2**22 pixels the step is still 1: every row is seen
    assert check_image(odd_row_stripes(2047, 2048)) == []
