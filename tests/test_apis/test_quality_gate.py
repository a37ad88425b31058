"""The quality gate's image checks on full-size radiographs (contrast from a subsample)."""
import numpy as np

from mmceph.apis.quality import BLANK_STD, check_image


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
