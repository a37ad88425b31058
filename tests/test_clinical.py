"""ISBI 2015 clinical measurements: hand-built geometry, thresholds, scores, real labels."""
import glob
import math
import os.path as osp

import numpy as np
import pytest

from mmceph import clinical as C


def face():
    """A (19, 2) array with distinct, generic points; tests overwrite what they need."""
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1000, size=(19, 2)).round()


def put(p, **points):
    """Set 1-based landmarks by ISBI abbreviation."""
    idx = dict(S=0, N=1, Or=2, Po=3, A=4, B=5, Pog=6, Me=7, Gn=8, Go=9, L11=10, L12=11,
               PNS=16, ANS=17)
    for name, xy in points.items():
        p[idx[name]] = xy
    return p


def polar(origin, deg, r=100.0):
    """origin + r * (cos, sin) in image coordinates (y down)."""
    t = math.radians(deg)
    return (origin[0] + r * math.cos(t), origin[1] + r * math.sin(t))


# --- measurements on constructed geometry -------------------------------------------

def test_sna_snb_anb_known_angles():
    n = (500.0, 200.0)
    p = put(face(), S=(300.0, 200.0), N=n, A=(500.0, 400.0),   # N->S left, N->A down
            B=polar(n, 180 - 80))                                # 80 deg from N->S
    m = C.measure(p)
    assert m['SNA'] == pytest.approx(90.0, abs=1e-9)
    assert m['SNB'] == pytest.approx(80.0, abs=1e-9)
    assert m['ANB'] == pytest.approx(10.0, abs=1e-9)
    cls = C.classify(m)
    assert (cls['SNA'], cls['SNB'], cls['ANB']) == (2, 3, 2)


def test_fhi_ratio_and_fma_angle():
    p = put(face(), S=(0.0, 0.0), N=(100.0, 0.0), Go=(0.0, 60.0), Me=(100.0, 80.0),
            Gn=polar((0.0, 60.0), 30.0, 50.0))
    m = C.measure(p, pixel_spacing=1.0)
    assert m['FHI'] == pytest.approx(0.75, abs=1e-12)   # |S Go| / |N Me| = 60 / 80
    assert m['FMA'] == pytest.approx(30.0, abs=1e-9)    # S-N vs Go-Gn
    assert C.classify(m)['FMA'] == 1
    # the ratio does not depend on the (isotropic) spacing
    assert C.measure(p, pixel_spacing=0.1)['FHI'] == pytest.approx(0.75, abs=1e-12)


def test_odi_palatal_plane_sign():
    """ODI = angle(Me->Go, B->A) +- angle(FH, palatal plane), sign from the cross product."""
    base = put(face(), Po=(0.0, 0.0), Or=(100.0, 0.0), PNS=(200.0, 300.0),
               Me=(600.0, 900.0), Go=(300.0, 900.0),          # Me->Go points left (180)
               B=(650.0, 800.0), A=polar((650.0, 800.0), 180 + 70))  # B->A at 250 deg
    flat = C.measure(put(base.copy(), ANS=(300.0, 300.0)))
    assert flat['ODI'] == pytest.approx(70.0, abs=1e-9)
    down = C.measure(put(base.copy(), ANS=polar((200.0, 300.0), 5)))   # cross > 0
    up = C.measure(put(base.copy(), ANS=polar((200.0, 300.0), -5)))    # cross < 0
    assert down['ODI'] == pytest.approx(75.0, abs=1e-9)
    assert up['ODI'] == pytest.approx(65.0, abs=1e-9)
    assert [C.classify(m)['ODI'] for m in (flat, down, up)] == [1, 1, 3]


def test_apdi_terms():
    """APDI = angle(Or->Po, N->Pog) + s2 * angle(N->Pog, A->B) + palatal term (0 here)."""
    n = (500.0, 100.0)
    p = put(face(), Or=(400.0, 300.0), Po=(100.0, 300.0), PNS=(100.0, 500.0),
            ANS=(400.0, 500.0), N=n, Pog=polar(n, 100, 800))     # angle(180, 100) = 80
    a = (600.0, 500.0)
    behind = C.measure(put(p.copy(), A=a, B=polar(a, 100 + 10)))  # cross(N->Pog, A->B) > 0
    ahead = C.measure(put(p.copy(), A=a, B=polar(a, 100 - 10)))   # cross < 0
    assert behind['APDI'] == pytest.approx(70.0, abs=1e-9)
    assert ahead['APDI'] == pytest.approx(90.0, abs=1e-9)
    assert C.classify(behind)['APDI'] == 2 and C.classify(ahead)['APDI'] == 3


@pytest.mark.parametrize('offset, mw, cls', [
    ((30.0, 40.0), 5.0, 4),     # upper incision 3 mm ahead: large overjet
    ((-30.0, 40.0), -5.0, 3),   # upper behind lower: cross bite, negative
    ((0.0, 25.0), 2.5, 1),      # same x counts as positive
    ((0.0, 0.0), 0.0, 2),       # coincident incisions: edge to edge
    ((10.0, 0.0), 1.0, 3),      # 0 < MW < 2 falls in "otherwise"
])
def test_mw_sign_and_classes(offset, mw, cls):
    low = np.array([800.0, 1500.0])
    p = put(face(), L11=low, L12=low + offset)
    m = C.measure(p, pixel_spacing=0.1)
    assert m['MW'] == pytest.approx(mw, abs=1e-9)
    assert C.classify(m)['MW'] == cls


def test_anisotropic_spacing_scales_before_angles():
    p = put(face(), S=(0.0, 0.0), N=(100.0, 0.0), A=(200.0, 100.0))
    assert C.measure(p, 0.1)['SNA'] == pytest.approx(135.0)
    expected = 180 - math.degrees(math.atan2(2, 1))   # N->A becomes (100, 200) mm-ish
    assert C.measure(p, (1.0, 2.0))['SNA'] == pytest.approx(expected)


def test_batch_matches_single():
    batch = np.stack([face() + i for i in range(3)])
    batch[1] = batch[1] * 1.3
    out = C.measure(batch, pixel_spacing=[0.1, 0.2, 0.1])
    classes = C.classify(out)
    for i in range(3):
        one = C.measure(batch[i], pixel_spacing=[0.1, 0.2, 0.1][i])
        for k in C.MEASUREMENTS:
            assert out[k][i] == pytest.approx(one[k])
            assert classes[k][i] == C.classify(one)[k]
    assert out['MW'].shape == (3,) and classes['MW'].dtype.kind == 'i'


# --- thresholds ------------------------------------------------------------------------

def normal_values():
    return dict(ANB=4.0, SNB=76.0, SNA=81.0, ODI=74.0, APDI=81.0, FHI=0.7, FMA=29.0, MW=3.0)


@pytest.mark.parametrize('name', [n for n in C.MEASUREMENTS if n != 'MW'])
def test_threshold_boundaries_are_normal(name):
    low, high, below, above = C.THRESHOLDS[name]
    for value, expected in [(low, 1), (high, 1), (np.nextafter(low, -np.inf), below),
                            (np.nextafter(high, np.inf), above)]:
        v = normal_values()
        v[name] = value
        assert C.classify(v)[name] == expected, (name, value)


def test_threshold_table_matches_design():
    assert C.THRESHOLDS == {'ANB': (3.2, 5.7, 3, 2), 'SNB': (74.6, 78.7, 2, 3),
                            'SNA': (79.4, 83.2, 3, 2), 'ODI': (68.4, 80.5, 3, 2),
                            'APDI': (77.6, 85.2, 2, 3), 'FHI': (0.65, 0.75, 3, 2),
                            'FMA': (26.8, 31.4, 3, 2)}


@pytest.mark.parametrize('mw, cls', [(2.0, 1), (4.5, 1), (4.5000001, 4), (1.9999, 3),
                                     (0.0, 2), (-0.0, 2), (5e-7, 2), (1e-3, 3), (-0.1, 3)])
def test_mw_boundaries(mw, cls):
    v = normal_values()
    v['MW'] = mw
    assert C.classify(v)['MW'] == cls


def test_analyse_reports_value_class_meaning():
    n = (500.0, 200.0)
    p = put(face(), S=(300.0, 200.0), N=n, A=(500.0, 400.0), B=polar(n, 180 - 80),
            L11=(800.0, 1500.0), L12=(830.0, 1540.0))
    out = C.analyse(p)
    assert list(out) == list(C.MEASUREMENTS)
    assert out['SNA']['value'] == pytest.approx(90.0)
    assert out['SNA']['class'] == 2 and out['SNA']['meaning'] == 'prognathic maxilla'
    assert out['ANB']['meaning'] == 'skeletal Class II'
    assert out['MW']['class'] == 4 and out['MW']['meaning'] == 'large overjet'
    for k, item in out.items():
        assert item['meaning'] == C.MEANINGS[k][item['class']]


def test_measurement_lines_are_valid_pairs():
    assert set(C.MEASUREMENT_LINES) == set(C.MEASUREMENTS)
    assert C.MEASUREMENT_LINES['SNA'] == ((1, 0), (1, 4))
    for pairs in C.MEASUREMENT_LINES.values():
        for a, b in pairs:
            assert 0 <= a < 19 and 0 <= b < 19 and a != b


# --- scores ----------------------------------------------------------------------------

def test_confusion_matrix_and_success_rate_by_hand():
    gt = [1, 1, 1, 1, 2, 2, 3, 3, 3, 3]
    pred = [1, 1, 1, 2, 2, 3, 3, 3, 1, 1]
    cm = C.confusion_matrix(pred, gt, (1, 2, 3))
    np.testing.assert_array_equal(cm, [[3, 1, 0], [0, 1, 1], [2, 0, 2]])
    # recalls 3/4, 1/2, 2/4 -> mean 0.5833; plain accuracy (0.6) would differ
    assert C.success_rate(pred, gt) == pytest.approx((0.75 + 0.5 + 0.5) / 3)


def test_success_rate_ignores_classes_absent_from_gt():
    gt = [1, 1, 1, 3]
    pred = [1, 4, 4, 3]      # classes 2 and 4 never in gt: only recalls of 1 and 3 count
    # (1/3 + 1) / 2; accuracy would be 0.5, averaging over all four labels 1/3
    assert C.success_rate(pred, gt, labels=(1, 2, 3, 4)) == pytest.approx((1 / 3 + 1) / 2)
    assert C.success_rate(gt, gt) == 1.0


def test_compare_measurements_by_hand_opposite_errors_and_a_misclassification():
    """Three images, ground truth MW 3.0 mm (class 1) in each; predicted +2 mm (5.0,
    large overjet: misclassified as 4), -2 mm (1.0: misclassified as 3) and exact.
    Errors of opposite sign must not cancel: MAE = (2 + 2 + 0) / 3, not |2 - 2| / 3.
    SNA: predicted A moved so that SNA is 92 and 88 deg against 90 (errors +2, -2, 0)."""
    n = (500.0, 200.0)
    gt = put(face(), S=(300.0, 200.0), N=n, A=(500.0, 400.0), B=polar(n, 180 - 80),
             L11=(800.0, 1500.0), L12=(830.0, 1500.0))
    gts = np.stack([gt] * 3)
    preds = gts.copy()
    preds[0] = put(preds[0], L12=(850.0, 1500.0), A=polar(n, 180 - 92, 200))
    preds[1] = put(preds[1], L12=(810.0, 1500.0), A=polar(n, 180 - 88, 200))
    out = C.compare_measurements(preds, gts, pixel_spacing=0.1)
    assert out['MW']['mae'] == pytest.approx(4 / 3, abs=1e-9)
    assert out['MW']['labels'] == (1, 2, 3, 4)
    np.testing.assert_array_equal(out['MW']['confusion'], [[1, 0, 1, 1], [0, 0, 0, 0],
                                                           [0, 0, 0, 0], [0, 0, 0, 0]])
    assert out['MW']['success_rate'] == pytest.approx(1 / 3)
    assert out['SNA']['mae'] == pytest.approx(4 / 3, abs=1e-9)
    # SNA 90 (gt) is class 2 (> 83.2); 92 and 88 stay class 2: no misclassification
    assert out['SNA']['success_rate'] == 1.0
    np.testing.assert_array_equal(out['SNA']['confusion'], [[0, 0, 0], [0, 3, 0], [0, 0, 0]])
    # ANB = SNA - SNB moves with SNA; SNB (N, S, B) does not move at all
    assert out['ANB']['mae'] == pytest.approx(4 / 3, abs=1e-9)
    assert out['SNB']['mae'] == 0.0 and out['FHI']['mae'] == 0.0
    # per-image spacing: the 2 mm errors at 0.1 mm/px are 4 mm at 0.2 mm/px
    twice = C.compare_measurements(preds, gts, pixel_spacing=[[0.2, 0.2], [0.1, 0.1],
                                                              [0.1, 0.1]])
    assert twice['MW']['mae'] == pytest.approx((4 + 2 + 0) / 3, abs=1e-9)
    assert twice['SNA']['mae'] == pytest.approx(4 / 3, abs=1e-9)   # angles: spacing-free


# --- validation ------------------------------------------------------------------------

@pytest.mark.parametrize('bad, match', [
    (np.zeros((18, 2)), 'shape'),
    (np.zeros((19, 3)), 'shape'),
    (np.zeros((2, 3, 19, 2)), 'shape'),
    (np.full((19, 2), np.nan), 'NaN'),
])
def test_measure_rejects_bad_landmarks(bad, match):
    with pytest.raises(ValueError, match=match):
        C.measure(bad)


@pytest.mark.parametrize('spacing', [0.0, -0.1, float('nan'), (0.1, 0.1, 0.1)])
def test_measure_rejects_bad_spacing(spacing):
    with pytest.raises(ValueError, match='pixel_spacing'):
        C.measure(face(), spacing)


def test_other_validation_errors():
    p = face()
    p[1] = p[0]                                   # S == N: the S-N line is undefined
    with pytest.raises(ValueError, match='coincide'):
        C.measure(p)
    v = normal_values()
    del v['MW']
    with pytest.raises(ValueError, match='MW'):
        C.classify(v)
    with pytest.raises(ValueError, match='not finite'):
        C.classify(dict(normal_values(), SNA=float('nan')))
    with pytest.raises(ValueError, match='one image'):
        C.analyse(np.stack([face(), face()]))
    with pytest.raises(ValueError, match='not in labels'):
        C.confusion_matrix([1, 5], [1, 2], (1, 2, 3))
    with pytest.raises(ValueError, match='length'):
        C.confusion_matrix([1, 2], [1], (1, 2, 3))
    with pytest.raises(ValueError, match='at least one'):
        C.success_rate([], [])


# --- the real senior annotations ------------------------------------------------------

def read_isbi_txt(path):
    lines = [ln.strip() for ln in open(path) if ln.strip()]
    points = np.array([[float(v) for v in ln.split(',')] for ln in lines[:19]])
    return points, [int(v) for v in lines[19:27]]


def test_image_001_classes(isbi_root):
    points, labels = read_isbi_txt(osp.join(isbi_root, 'AnnotationsByMD', '400_senior',
                                            '001.txt'))
    cls = C.classify(C.measure(points))
    assert [cls[k] for k in C.MEASUREMENTS] == labels == [3, 3, 2, 3, 3, 1, 2, 3]


def test_all_senior_annotations_reproduce_their_labels(isbi_root):
    files = sorted(glob.glob(osp.join(isbi_root, 'AnnotationsByMD', '400_senior', '*.txt')))
    assert len(files) == 300
    wrong = []
    for path in files:
        points, labels = read_isbi_txt(path)
        assert points.shape == (19, 2) and len(labels) == 8, path
        cls = C.classify(C.measure(points, pixel_spacing=0.1))
        got = [cls[k] for k in C.MEASUREMENTS]
        if got != labels:
            wrong.append((osp.basename(path), got, labels))
    assert not wrong, f'{len(wrong)} files disagree, e.g. {wrong[:5]}'


# --- found by mutation testing (docs/mutation.md) -----------------------------------

def rotate(p, deg, shift=(37.0, -12.0)):
    t = math.radians(deg)
    r = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return p @ r.T + shift


@pytest.mark.parametrize('deg', [15.0, 30.0, 100.0, -140.0])
def test_angles_and_ratio_do_not_change_when_the_whole_head_turns(deg):
    """A film turned or shifted on the scanner shows the same anatomy: every angle
    (signed terms included: the cross products behind ODI/APDI turn with it) and FHI
    are the same; |MW| too (its sign follows x, which turning changes). On a random face
    and on one with both signed terms (palatal tilt, A-B vs N-Pog) non-zero."""
    for p in (face(), apdi_face(90.0, pp_deg=5.0)):
        before, after = C.measure(p), C.measure(rotate(p, deg))
        for name in C.MEASUREMENTS:
            if name != 'MW':
                assert after[name] == pytest.approx(before[name], abs=1e-9), name
        assert abs(after['MW']) == pytest.approx(abs(before['MW']), abs=1e-9)
    turned = C.measure(rotate(apdi_face(90.0, pp_deg=5.0), deg))
    assert turned['APDI'] == pytest.approx(95.0, abs=1e-9)


def test_small_palatal_tilt_keeps_its_sign():
    """0.2 deg of palatal tilt with 10 mm lines: the cross product is 0.35 mm^2, well
    under 1 -- its sign, not its size, decides (ODI 70.2, not 69.8)."""
    base = put(face(), Po=(0.0, 0.0), Or=(100.0, 0.0), PNS=(200.0, 300.0),
               Me=(600.0, 900.0), Go=(300.0, 900.0),
               B=(650.0, 800.0), A=polar((650.0, 800.0), 180 + 70))
    down = C.measure(put(base, ANS=polar((200.0, 300.0), 0.2)))
    assert down['ODI'] == pytest.approx(70.2, abs=1e-9)


def apdi_face(ab_deg, pp_deg=0.0, ab_len=100.0):
    """N->Pog at 100 deg (800 px), Or->Pog at 80 deg, FH (Po->Or) horizontal: the first
    APDI term is angle(Or->Po, N->Pog) = 80; A->B at ``ab_deg``; PNS->ANS at ``pp_deg``."""
    n = (500.0, 100.0)
    pog = polar(n, 100, 800)
    orb = (pog[0] - 300 * math.cos(math.radians(80)), pog[1] - 300 * math.sin(math.radians(80)))
    a = (600.0, 500.0)
    return put(face(), N=n, Pog=pog, Or=orb, Po=(orb[0] - 300.0, orb[1]),
               PNS=(100.0, 500.0), ANS=polar((100.0, 500.0), pp_deg, 300.0),
               A=a, B=polar(a, ab_deg, ab_len))


def test_apdi_sign_comes_from_n_pog_and_the_palatal_term_adds():
    """A->B at 90 deg lies between N->Pog (100) and Or->Pog (80): the sign of the A-B
    term must come from N->Pog (APDI 80 + 10), not from any other line through Pog; a
    palatal plane tilted 5 deg down adds 5."""
    assert C.measure(apdi_face(90.0))['APDI'] == pytest.approx(90.0, abs=1e-9)
    assert C.measure(apdi_face(90.0, pp_deg=5.0))['APDI'] == pytest.approx(95.0, abs=1e-9)
    # 0.05 deg behind N->Pog, 10 mm long: cross product 0.7 mm^2 (< 1): still its sign
    assert C.measure(apdi_face(100.05, ab_len=100.0))['APDI'] == \
        pytest.approx(80.0 - 0.05, abs=1e-9)


def test_collinear_landmarks_give_0_and_180_degrees_not_nan():
    """S, N and A on one line: the cosine rounds to 1.0000000000000002 (resp. below -1)
    and must be clipped, or arccos returns NaN."""
    n = np.array([500.0, 200.0])
    p = put(face(), N=n, S=n + (1, 5), A=n + (2, 10))
    assert C.measure(p, pixel_spacing=1.0)['SNA'] == 0.0
    p = put(face(), N=n, S=n + (1, 5), A=n - (2, 10))
    assert C.measure(p, pixel_spacing=1.0)['SNA'] == 180.0


def test_a_line_of_exactly_unit_length_is_fine_and_a_second_coincidence_is_refused():
    n = np.array([500.0, 200.0])
    p = put(face(), N=n, S=n - (100, 0), A=n + (0, 1))       # N->A exactly 1 mm long
    assert C.measure(p, pixel_spacing=1.0)['SNA'] == pytest.approx(90.0, abs=1e-9)
    p = put(face(), N=n, S=n - (100, 0), A=n)                 # N == A: second vector zero
    with pytest.raises(ValueError, match=r'^two landmarks that define a line coincide: '
                                         r'angle undefined$'):
        C.measure(p)


def test_default_spacing_is_0_1_mm_and_analyse_passes_its_spacing_on():
    low = np.array([800.0, 1500.0])
    p = put(face(), L11=low, L12=low + (30.0, 40.0))          # 50 px
    assert C.measure(p)['MW'] == pytest.approx(5.0, abs=1e-9)
    assert C.analyse(p)['MW']['value'] == pytest.approx(5.0, abs=1e-9)
    assert C.analyse(p, 0.2)['MW']['value'] == pytest.approx(10.0, abs=1e-9)
    gt = np.stack([put(face(), L11=low, L12=low + (30.0, 0.0))])
    pred = np.stack([put(face(), L11=low, L12=low + (50.0, 0.0))])
    assert C.compare_measurements(pred, gt)['MW']['mae'] == pytest.approx(2.0, abs=1e-9)


@pytest.mark.parametrize('mw, cls', [(1e-6, 2), (-1e-6, 2), (np.nextafter(1e-6, 1), 3),
                                     (np.nextafter(-1e-6, -1), 3)])
def test_mw_edge_to_edge_tolerance_is_inclusive(mw, cls):
    v = normal_values()
    v['MW'] = mw
    assert C.classify(v)['MW'] == cls


def test_spacing_per_image_only_for_a_batch():
    """19 spacings for one image (19, 2) would broadcast into nonsense; a batch of 2 with
    3 spacings is refused with the reason, not a reshape error."""
    with pytest.raises(ValueError, match='^pixel_spacing must be a scalar or'):
        C.measure(face(), np.full(19, 0.1))
    with pytest.raises(ValueError, match='^pixel_spacing must be a scalar or'):
        C.measure(np.stack([face(), face()]), [0.1, 0.1, 0.1])


def test_error_messages_in_full():
    with pytest.raises(ValueError, match=r'^landmarks contain NaN or inf \(a missing '
                                         r'landmark\?\)$'):
        C.measure(np.full((19, 2), np.inf))
    with pytest.raises(ValueError, match=r'^analyse takes one image: landmarks of shape '
                                         r'\(19, 2\)$'):
        C.analyse(np.stack([face(), face()]))
    with pytest.raises(ValueError, match='^success_rate needs at least one sample$'):
        C.success_rate([], [])


def test_scores_count_in_integers_and_default_labels_cover_both_sides():
    cm = C.confusion_matrix([1, 2], [1, 1], (1, 2, 3))
    assert cm.dtype.kind == 'i'
    # class 2 is only predicted, never true: still a label, so no 'not in labels' error
    assert C.success_rate([1, 2, 3], [1, 1, 3]) == pytest.approx((1 / 2 + 1) / 2)
