"""CephalometricDataset reads each annotation file once: our checked parse is what
xtcocotools indexes (no second ``json.load`` of the file), with the same data list."""
import json
import os

import numpy as np

from data_converters.writer.coco import ImageRecord, to_coco, write_json_atomic
from mmceph.datasets import ISBI2015Dataset
from mmceph.formats.roi_prior import save_roi_prior


def test_annotation_file_is_parsed_once(tmp_path, monkeypatch):
    os.makedirs(tmp_path / 'annotations')
    kpts = np.tile(np.array([[50.0, 60.0]]), (19, 1))
    kpts[3] = np.nan
    records = [ImageRecord(f'{i}.png', 300, 400, kpts + i, (0.1, 0.1), 'fixture',
                           bbox=(20, 20, 260, 360)) for i in range(3)]
    write_json_atomic(to_coco(records, [f'p{k}' for k in range(19)], reference='senior'),
                      tmp_path / 'annotations' / 'train.json')
    save_roi_prior([0.1, 0.2, 0.9, 0.8], str(tmp_path / 'roi_prior.json'), 0.05, 3)

    def second_parse(*args, **kwargs):
        raise AssertionError('the annotation file was parsed a second time')
    monkeypatch.setattr(json, 'load', second_parse)        # xtcocotools' way of reading
    ds = ISBI2015Dataset(data_root=str(tmp_path), ann_file='annotations/train.json',
                         data_prefix=dict(img=''), pipeline=[], test_mode=True)
    assert len(ds) == 3
    first = ds[0]
    assert first['pixel_spacing'] == [0.1, 0.1] and first['keypoints_visible'][0][3] == 0
    assert ds.metainfo['reference'] == 'senior'
    assert ds.metainfo['roi_prior'] == [0.1, 0.2, 0.9, 0.8]
    assert ds.metainfo['default_pixel_spacing'] == [0.1, 0.1]
