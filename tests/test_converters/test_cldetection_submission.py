"""The CL-Detection 2023 submission writer, round trip: convert a fixture written as the
release writes it, score the test split's own ground truth through the real metric's
predictions dump, write the submission, and read it back with the converter's reader."""
import json
import os.path as osp

import numpy as np
import pytest
from test_converters_cldetection import make_stack, run

from data_converters.__main__ import main
from data_converters.cldetection2023 import read_labels
from data_converters.landmarks import load

LABELS = load('cldetection2023').LABEL_NAMES


def dump_ground_truth(out, tmp_path, shift=0.0):
    """The test split through CephalometricMetric (pred = ground truth + shift), dumped as
    a test run dumps it; return (dump path, annotation path, {slice: (points, spacing)})."""
    import mmceph.registration  # noqa: F401
    from mmceph.evaluation import CephalometricMetric
    from mmceph.metainfo.cldetection2023 import KEYPOINTS
    ann_path = osp.join(out, 'annotations', 'test.json')
    doc = json.load(open(ann_path))
    metric = CephalometricMetric(outfile_prefix=str(tmp_path / 'run'))
    metric.dataset_meta = dict(keypoint_id2name=dict(enumerate(KEYPOINTS)), num_keypoints=38)
    samples, truth = [], {}
    for img, ann in zip(doc['images'], doc['annotations']):
        kp = np.array(ann['keypoints'], float).reshape(38, 3)
        samples.append(dict(
            img_id=img['id'], img_path=osp.join(out, img['file_name']),
            pred_instances=dict(keypoints=kp[None, :, :2] + shift,
                                keypoint_scores=np.ones((1, 38))),
            gt_instances=dict(keypoints=kp[None, :, :2], keypoints_visible=kp[None, :, 2]),
            raw_ann_info=dict(pixel_spacing=img['pixel_spacing'])))
        truth[img['slice']] = (kp[:, :2] + shift, img['pixel_spacing'][0])
    metric.process([], samples)
    metric.compute_metrics(metric.results)
    return str(tmp_path / 'run.predictions.json'), ann_path, truth


def submit(predictions, annotations, out):
    return main(['cldetection2023-submission', '--predictions', str(predictions),
                 '--annotations', str(annotations), '--out', str(out)])


def test_round_trip_through_the_converters_reader(tmp_path, capsys):
    make_stack(tmp_path / 'cl')
    out = tmp_path / 'out'
    assert run(tmp_path / 'cl', out, '--test-fraction', '0.375') == 0
    predictions, annotations, truth = dump_ground_truth(out, tmp_path, shift=0.25)
    assert len(truth) == 3
    sub = tmp_path / 'submission' / 'predictions.json'
    assert submit(predictions, annotations, sub) == 0
    assert 'wrote' in capsys.readouterr().out
    text = sub.read_text()
    points = json.loads(text)['points']
    assert points[0]['name'] == 1 and isinstance(points[0]['scale'], str)
    assert [p['point'][2] for p in points[::38]] == sorted(truth)
    back = read_labels(str(sub), LABELS)
    assert sorted(back) == sorted(truth)
    for z, (pts, spacing) in truth.items():
        np.testing.assert_allclose(back[z][0], pts, atol=1e-3)
        assert back[z][1] == spacing


def test_bad_inputs_are_refused_with_nothing_written(tmp_path, capsys):
    make_stack(tmp_path / 'cl')
    out = tmp_path / 'out'
    assert run(tmp_path / 'cl', out, '--test-fraction', '0.375') == 0
    predictions, annotations, _ = dump_ground_truth(out, tmp_path)
    sub = tmp_path / 'sub.json'
    dump = json.load(open(predictions))

    def refused(doc, ann=annotations):
        path = tmp_path / 'edited.predictions.json'
        path.write_text(json.dumps(doc))
        assert submit(path, ann, sub) == 2 and not sub.exists()
        return capsys.readouterr().err.strip().splitlines()[-1]

    assert 'keypoint_names are not the 38 CL-Detection 2023 landmarks' in refused(
        dict(dump, keypoint_names=dump['keypoint_names'][:19]))
    bad = json.loads(json.dumps(dump))
    bad['images'][1]['img_id'] = 99
    assert 'images[1]: image id 99 is not in' in refused(bad)
    bad = json.loads(json.dumps(dump))
    bad['images'][0]['pred'][5] = [1.0, float('nan')]
    assert 'images[0]' in refused(bad) and '38 finite [x, y] points' in refused(bad)
    train = osp.join(out, 'annotations', 'train.json')
    assert 'another annotation file than the run was tested on' in refused(dump, train)


def test_help(capsys):
    with pytest.raises(SystemExit):
        main(['cldetection2023-submission', '--help'])
    assert '"scale": "0.1"' in capsys.readouterr().out
