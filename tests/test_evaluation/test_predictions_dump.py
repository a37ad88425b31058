"""mmceph.formats.predictions: the one writer (all or nothing), loader and (N, K) error
matrix of the per-image predictions dump."""
import json
import os

import numpy as np
import pytest

from mmceph.formats.predictions import (
    PredictionsFormatError,
    error_matrix,
    image_record,
    load_predictions,
    write_predictions,
)
from mmceph.utils.errors import UserError


def record(img_id, errors, labelled):
    k = len(errors)
    return image_record(img_id, f'img{img_id}.png', [0.1, 0.1], np.zeros((k, 2)),
                        np.full(k, 0.5), np.ones((k, 2)), np.asarray(labelled),
                        np.asarray(errors, float))


def test_written_dump_loads_and_gives_the_error_matrix(tmp_path):
    path = tmp_path / 'test.predictions.json'
    images = [record(1, [1.25, np.nan], [True, False]), record(2, [0.5, 3.0], [True, True])]
    write_predictions(str(path), ['a', 'b'], 'mm', [2.0], 'senior', images)
    dump = load_predictions(str(path))
    assert dump['reference'] == 'senior' and dump['images'][0]['gt'][1] is None
    errors = error_matrix(dump)
    assert errors.shape == (2, 2)
    np.testing.assert_array_equal(errors, [[1.25, np.nan], [0.5, 3.0]])


def test_a_failed_write_leaves_the_previous_dump_whole(tmp_path):
    path = tmp_path / 'test.predictions.json'
    write_predictions(str(path), ['a'], 'mm', [2.0], 'senior', [record(1, [1.0], [True])])
    before = path.read_bytes()
    with pytest.raises(TypeError):                       # not JSON: fails while writing
        write_predictions(str(path), ['a'], 'mm', [2.0], 'senior', [{'bad': object()}])
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ['test.predictions.json']     # no temporary left


def test_a_malformed_dump_is_a_user_error_naming_file_and_place(tmp_path):
    path = tmp_path / 'p.json'
    path.write_text(json.dumps(dict(keypoint_names=['a'], unit='mm', images=[
        dict(img_id=1, pred=[[0, 0]], gt=[[0, 0]], error=[-1])])))
    with pytest.raises(UserError, match=r'p\.json: invalid predictions dump: '
                                        r'images\[0\]\["error"\]\[0\]'):
        load_predictions(str(path))
    assert issubclass(PredictionsFormatError, UserError)
