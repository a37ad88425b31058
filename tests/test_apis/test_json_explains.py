"""The inference JSON explains itself (docs/inference_json.md): each measurement says what
it is, its unit, normal range and class; what the descriptions claim about spacing and
signs holds for the formulas; an assumed spacing makes the status review; provenance and
the coordinate system are recorded."""
import hashlib
import json

import numpy as np
import pytest

from data_converters.synthetic import MEAN_SHAPE
from mmceph.clinical import DESCRIPTIONS, MEASUREMENTS, analyse, measure, normal_range
from mmceph.metainfo.isbi2015 import KEYPOINTS
from mmceph.predictor.base import SCHEMA_VERSION, describe_landmarks

REQUIRED = {'value', 'unit', 'class', 'meaning', 'normal_range', 'full_name', 'definition',
            'about', 'landmarks', 'spacing_dependence'}


def shapes(n=40):
    rng = np.random.default_rng(0)
    base = MEAN_SHAPE * [1935, 2400]
    return [base + rng.normal(0, 40, base.shape) for _ in range(n)]


def test_every_measurement_describes_itself():
    out = describe_landmarks(KEYPOINTS, MEAN_SHAPE * [1935, 2400], np.ones(19), (0.1, 0.1))
    assert list(out['measurements']) == list(MEASUREMENTS)
    for name, m in out['measurements'].items():
        assert REQUIRED <= set(m), name
        assert m['unit'] == ('mm' if name == 'MW' else 'ratio' if name == 'FHI' else 'deg')
    assert out['measurements']['MW']['normal_range'] == [2.0, 4.5]
    assert out['measurements']['SNA']['normal_range'] == [79.4, 83.2]
    assert out['measurements']['MW']['landmarks'] == ['lower_incisal_incision',
                                                      'upper_incisal_incision']
    fma = out['measurements']['FMA']
    # named for what it computes (S-N to Go-Gn), with the challenge's label, and not
    # passed off as the Frankfort-mandibular plane angle
    assert 'S-N' in fma['full_name'] and 'Go-Gn' in fma['full_name'] and 'FMA' in fma['full_name']
    assert 'not the Frankfort-mandibular' in fma['definition']
    assert fma['landmarks'] == ['sella', 'nasion', 'gnathion', 'gonion']
    json.dumps(out, allow_nan=False)


@pytest.mark.parametrize('name', [n for n in MEASUREMENTS if n != 'MW'])
def test_normal_range_is_exactly_class_1(name):
    """The range the JSON prints is the one the class uses, bounds included."""
    low, high = normal_range(name)
    for p in shapes():
        m = analyse(p, 0.1)[name]
        assert (m['class'] == 1) == (low <= m['value'] <= high)


def test_spacing_dependence_is_what_the_formulas_do():
    """'length' scales with the spacing; 'aspect ratio' values do not change with an
    isotropic spacing but do with an anisotropic one."""
    p = shapes(1)[0]
    a, b, c = measure(p, 0.1), measure(p, 0.2), measure(p, (0.1, 0.13))
    for name in MEASUREMENTS:
        if DESCRIPTIONS[name]['spacing_dependence'] == 'length':
            assert b[name] == pytest.approx(2 * a[name])
        else:
            assert b[name] == pytest.approx(a[name])
            assert c[name] != pytest.approx(a[name], abs=1e-6)


def _deg(v):
    return np.degrees(np.arctan2(v[1], v[0]))


def test_odi_palatal_term_is_negative_when_the_palate_rises_anteriorly():
    """Independent route: ODI = angle(Me-Go, B-A) + signed angle(FH, palatal plane);
    with FH horizontal, tilt ANS up by 5 degrees and the palatal term is -5."""
    p = MEAN_SHAPE * [1935, 2400]
    p[3] = (p[2, 0] - 800, p[2, 1])                       # porion level with orbitale
    pns = p[16]
    length = np.linalg.norm(p[17] - pns)
    for tilt, sign in ((5.0, -1), (-5.0, 1)):             # +5: ANS above PNS (y down)
        q = p.copy()
        q[17] = pns + length * np.array([np.cos(np.radians(tilt)), -np.sin(np.radians(tilt))])
        mego, ba = q[9] - q[7], q[4] - q[5]
        base = abs((_deg(mego) - _deg(ba) + 180) % 360 - 180)
        assert measure(q, 0.1)['ODI'] == pytest.approx(base + sign * 5.0, abs=1e-6)


def test_assumed_spacing_marks_lengths_only():
    kpts = MEAN_SHAPE * [1935, 2400]
    out = describe_landmarks(KEYPOINTS, kpts, np.ones(19), (0.1, 0.1), spacing_assumed=True)
    assert out['measurements']['MW']['rests_on_assumed_spacing'] is True
    assert all('rests_on_assumed_spacing' not in m for n, m in out['measurements'].items()
               if n != 'MW')
    own = describe_landmarks(KEYPOINTS, kpts, np.ones(19), (0.1, 0.1))
    assert own['measurements']['MW']['rests_on_assumed_spacing'] is False


@pytest.fixture(scope='module')
def predicted(demo_model):
    from conftest import CONFIG

    from mmceph.apis import LandmarkPredictor
    data, work, _ = demo_model
    ckpt = work / 'best_MRE.pth'
    image = sorted((data / 'images').glob('*.png'))[-1]
    predictor = LandmarkPredictor(CONFIG, str(ckpt), check_orientation=False)
    return (ckpt, CONFIG, predictor.predict(image)[0], predictor.predict(image, (0.1, 0.1))[0])


def test_an_assumed_spacing_is_review_with_the_reason(predicted):
    _, _, assumed, given = predicted
    assert given['status'] == 'ok', given['status_reasons']      # the gate alone: ok
    assert given['pixel_spacing_assumed'] is False
    assert assumed['status'] == 'review' and assumed['pixel_spacing_assumed'] is True
    assert assumed['pixel_spacing_source'] == 'dataset default'
    reason = assumed['status_reasons'][-1]
    assert 'no pixel spacing' in reason and '0.1 x 0.1 mm' in reason
    assert '--pixel-spacing' in reason
    # angles do not move with the spacing source; the length says what it rests on
    for name, m in given['measurements'].items():
        assert assumed['measurements'][name]['value'] == m['value']
    assert assumed['measurements']['MW']['rests_on_assumed_spacing'] is True


def test_provenance_schema_and_coordinate_system(predicted):
    import mmpose
    import torch

    import mmceph
    ckpt, config, result, _ = predicted
    assert result['schema_version'] == SCHEMA_VERSION == 2
    prov = result['provenance']
    assert prov['mmceph_version'] == mmceph.__version__
    assert prov['backend'] == dict(name='pytorch', torch=torch.__version__,
                                   mmpose=mmpose.__version__, device='cpu')
    assert prov['config'].endswith(config.split('/')[-1])
    assert prov['checkpoint']['sha256'] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    cs = result['coordinate_system']
    assert 'top-left pixel' in cs['origin'] and cs['x_axis'].startswith('to the right')
    assert cs['y_axis'].startswith('down') and cs['image'] == result['coordinate_frame']


def test_onnx_provenance_hashes_every_file_the_predictor_loads(tmp_path):
    """The export is identified by the digests of the files that make its predictions,
    and by the checkpoint digest its metadata recorded at export."""
    import onnxruntime

    from mmceph.runtime.export_format import EXPORT_META, checked_model_file
    from mmceph.runtime.onnx_predictor import _provenance
    meta = dict(source=dict(config='a.py', checkpoint='b.pth', checkpoint_sha256='c' * 64),
                **{'global': dict(file='global.onnx')},
                cascade=dict(refiners=[dict(file='refiner0.onnx')]))
    files = {EXPORT_META: json.dumps(meta).encode(), 'global.onnx': b'g', 'refiner0.onnx': b'r',
             'notes.txt': b'not loaded'}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    # the networks' digests as the predictor gets them: from reading each file for its check
    digests = {n: checked_model_file(str(tmp_path), meta, n)[1]
               for n in ('global.onnx', 'refiner0.onnx')}
    prov = _provenance(str(tmp_path), meta, digests)
    assert prov['backend'] == dict(name='onnxruntime', onnxruntime=onnxruntime.__version__,
                                   device='cpu')
    assert prov['checkpoint'] == dict(path='b.pth', sha256='c' * 64) and prov['config'] == 'a.py'
    assert prov['export']['sha256'] == {n: hashlib.sha256(d).hexdigest()
                                        for n, d in files.items() if n != 'notes.txt'}
