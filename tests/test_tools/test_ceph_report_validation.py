"""ceph_report.py refuses a dump whose values are not what the metric writes -- strings
as coordinates, NaN, negative errors, zero or negative spacings -- in one line naming the
file, the entry and the image, with no report folder written (issue 25, item 7)."""
import copy
import json

import pytest
from test_ceph_report import cli, tiny_dump

from mmceph.formats.predictions import load_predictions


def refused(tmp_path, capsys, dump):
    path = tmp_path / 'dump.json'
    path.write_text(json.dumps(dump))
    assert cli([str(path), '--out-dir', str(tmp_path / 'o')]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err
    assert not (tmp_path / 'o').exists()
    return err


@pytest.mark.parametrize('key, index, value, entry', [
    ('pred', 1, ['12', 3], 'images[1]["pred"][1]'),        # a string as a coordinate
    ('pred', 0, None, 'images[1]["pred"][0]'),            # pred is never null
    ('pred', 0, [1.0], 'images[1]["pred"][0]'),           # one value
    ('pred', 0, [True, 2], 'images[1]["pred"][0]'),       # JSON true is not a number
    ('gt', 1, ['a', 'b'], 'images[1]["gt"][1]'),
    ('error', 0, '1.5', 'images[1]["error"][0]'),
    ('error', 0, -0.001, 'images[1]["error"][0]'),        # just below the smallest error
])
def test_bad_values_are_refused_naming_entry_and_image(tmp_path, capsys, key, index, value,
                                                       entry):
    dump = tiny_dump()
    dump['images'][1][key][index] = value
    err = refused(tmp_path, capsys, dump)
    assert entry in err and '(image img2.jpg)' in err


@pytest.mark.parametrize('spacing', [0, -0.1, [0.1, 0.0], [0.1, -1], ['0.1', 0.1],
                                     [0.1, 0.1, 0.1], 'x'])
def test_zero_negative_or_malformed_spacing_is_refused(tmp_path, capsys, spacing):
    dump = tiny_dump()
    dump['images'][2]['pixel_spacing'] = spacing
    err = refused(tmp_path, capsys, dump)
    assert 'images[2]["pixel_spacing"]' in err and '(image img3.jpg)' in err


def test_an_image_without_a_path_is_named_by_its_id(tmp_path, capsys):
    dump = tiny_dump()
    del dump['images'][0]['img_path']
    dump['images'][0]['pixel_spacing'] = -1
    assert '(image id 1)' in refused(tmp_path, capsys, dump)


@pytest.mark.parametrize('spacing', [1e-6, 0.1, [0.1, 0.12], None])
def test_the_values_just_inside_are_accepted(tmp_path, spacing):
    """The controls: the smallest error (0), a tiny positive spacing, null entries."""
    dump = tiny_dump()
    dump['images'][0]['error'][0] = 0
    dump['images'][1]['pixel_spacing'] = spacing
    path = tmp_path / 'dump.json'
    path.write_text(json.dumps(copy.deepcopy(dump)))
    assert load_predictions(str(path))['images'][1]['pixel_spacing'] == spacing
