"""One plausible pixel-spacing range (mmceph.formats.spacing), the same in every place
that takes a spacing: the checker, the annotation schema, the clinical measurements and
inference's --pixel-spacing / DICOM check. Tested just inside and just outside both ends."""
import pytest

from data_converters.synthetic import MEAN_SHAPE
from mmceph import clinical
from mmceph.formats.coco import CocoFormatError, validate_coco
from mmceph.formats.spacing import (
    SPACING_RANGE_MM,
    check_spacing_mm,
    parse_spacing_mm,
    spacing_problem,
)
from mmceph.imaging.image_io import check_spacing

INSIDE = [0.01, 0.0101, 0.1, 4.99, 5.0]
OUTSIDE = [0.0099, 5.01, 10.0, 0.0, -0.1, float('nan'), float('inf')]


def doc(spacing):
    return dict(images=[dict(id=1, file_name='a.png', width=10, height=10,
                             pixel_spacing=[spacing, spacing])],
                annotations=[], categories=[dict(id=1)])


def test_the_bounds_are_the_documented_ones():
    assert SPACING_RANGE_MM == (0.01, 5.0)


@pytest.mark.parametrize('value', INSIDE)
def test_inside_is_accepted_everywhere(value):
    assert spacing_problem(value) is None and check_spacing_mm(value, 'x') == value
    assert parse_spacing_mm(str(value)) == value
    validate_coco(doc(value), 'a.json', 0)
    assert check_spacing([value], '--pixel-spacing') == (value, value)
    clinical.measure(MEAN_SHAPE * [1935, 2400], (value, value))


@pytest.mark.parametrize('value', OUTSIDE)
def test_outside_is_refused_everywhere(value):
    assert 'between 0.01 and 5' in spacing_problem(value)
    assert parse_spacing_mm(repr(value)) is None
    with pytest.raises(ValueError, match='^pixel spacing: expected mm per pixel between'):
        check_spacing_mm(value, 'pixel spacing')
    with pytest.raises(CocoFormatError, match=r'images\[0\].pixel_spacing\[0\]'):
        validate_coco(doc(value), 'a.json', 0)
    with pytest.raises(ValueError, match='between 0.01 and 5'):
        check_spacing([value], '--pixel-spacing')
    with pytest.raises(ValueError, match='pixel_spacing must be mm per pixel between'):
        clinical.measure(MEAN_SHAPE * [1935, 2400], (value, value))


@pytest.mark.parametrize('value', [True, '0.1', None, [0.1]])
def test_only_numbers_are_spacings(value):
    assert 'expected a number' in spacing_problem(value)


def test_strings_parse_only_when_numeric():
    assert parse_spacing_mm(' 0.125 ') == 0.125 and parse_spacing_mm(0.096) == 0.096
    assert parse_spacing_mm('0.1 mm') is None and parse_spacing_mm('') is None


def test_infer_pixel_spacing_option_takes_what_the_converters_write(tmp_path, capsys):
    """What converts (e.g. a CL-Detection scale of "5") is what infer.py accepts: the
    option is checked by the same rule (check_spacing), and out of bounds infer.py stops
    with argparse's exit status 2 before anything is read."""
    from run_tool import run_tool
    assert check_spacing([5.0], '--pixel-spacing') == (5.0, 5.0)
    assert check_spacing([0.01, 0.02], '--pixel-spacing') == (0.01, 0.02)
    base = [tmp_path / 'x.png', 'cfg.py', 'ckpt.pth', '--out-dir', tmp_path / 'out',
            '--pixel-spacing']
    for value in ('5.01', '0.0099', '20'):
        assert run_tool('tools/infer.py', base + [value]) == 2
        assert 'between 0.01 and 5' in capsys.readouterr().err
    for value in ('5', '0.01'):          # accepted: refused later, for the missing config
        assert run_tool('tools/infer.py', base + [value]) == 2
        err = capsys.readouterr().err
        assert 'between 0.01 and 5' not in err and 'cfg.py' in err, err
