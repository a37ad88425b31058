"""A converted split predicted by any :class:`~mmceph.predictor.base.PredictorBase`, as the
predictions dump :func:`.rescore.rescore` scores against any annotation of the split.

Why not MMEngine's test loop: test-time views and ensembles
(:class:`~mmceph.predictor.averaging.AveragedPredictor`) and the ONNX runtime are
predictors, not MMPose models. The predictor sees what ``tools/infer.py`` sees (the whole
file, the ROI prior as the crop), which is also what the configs' test pipeline feeds the
model (``ApplyRoiPrior``), so its identity view reproduces ``tools/test.py`` to within
about 0.002 mm of MRE (docs/accuracy_protocol.md, section 5: the cause not isolated).
"""
import os.path as osp
import time
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..formats.coco import load_coco_json
from ..imaging.image_io import read_image
from ..predictor.averaging import View, view_grid
from ..predictor.base import PredictorBase


def predict_split(predictor: PredictorBase, ann_file: str, image_root: str,
                  limit: Optional[int] = None, progress: bool = True) -> dict:
    """``{'keypoint_names', 'images': [{'img_path', 'pred', 'scores'}], 'seconds'}`` of
    ``predictor`` on every image of ``ann_file`` (the first ``limit`` ones), read from
    ``image_root`` + ``file_name``; ``seconds``: the model time per image (file reading
    excluded)."""
    from tqdm import tqdm

    doc = load_coco_json(ann_file, len(predictor.names))
    images = doc['images'][:limit] if limit else doc['images']
    records, seconds = [], []
    for image in tqdm(images, desc=osp.basename(ann_file), unit='img', disable=not progress):
        path = osp.join(image_root, image['file_name'])
        pixels = read_image(path).pixels
        start = time.perf_counter()
        kpts, scores = predictor.landmarks(pixels)
        seconds.append(time.perf_counter() - start)
        records.append(dict(img_path=path, pred=np.asarray(kpts, float).tolist(),
                            scores=np.asarray(scores, float).tolist()))
    return dict(keypoint_names=list(predictor.names), images=records,
                seconds=float(np.median(seconds)) if seconds else float('nan'))


def average_dumps(dumps: Sequence[dict]) -> dict:
    """The dump whose predictions (and scores) are the mean of ``dumps``' -- predictions of
    the same images in the same order, e.g. one per (model, view): exactly what an
    :class:`AveragedPredictor` of those members and views predicts, from cached parts."""
    first = dumps[0]
    for other in dumps[1:]:
        if [i['img_path'] for i in other['images']] != [i['img_path'] for i in first['images']]:
            raise ValueError('average_dumps: the dumps predict different images')
    images = []
    for k, image in enumerate(first['images']):
        parts = [d['images'][k] for d in dumps]
        images.append(dict(img_path=image['img_path'],
                           pred=np.mean([p['pred'] for p in parts], axis=0).tolist(),
                           scores=np.mean([p['scores'] for p in parts], axis=0).tolist()))
    return dict(keypoint_names=first['keypoint_names'], images=images,
                seconds=float(sum(d['seconds'] for d in dumps)))


def candidates(names: Sequence[str], shifts: Sequence[float], scales: Sequence[float]
               ) -> List[Tuple[str, Tuple[int, ...], List[View]]]:
    """(name, member model indices, views) of every combination worth comparing: each
    model (``names``) and (with two or more) all models together, each with the identity
    view, the shift grid of each ``shifts`` value and the ``scales`` grid."""
    sets = [(name, (i,)) for i, name in enumerate(names)]
    if len(names) > 1:
        sets.append(('ensemble of all', tuple(range(len(names)))))
    grids = [('', view_grid())]
    grids += [(f' + shifts ±{s:g}', view_grid(shift=s)) for s in shifts]
    if scales:
        grids.append((' + scales ' + '/'.join(f'{s:g}' for s in scales),
                      view_grid(scales=scales)))
    return [(name + suffix, members, views) for name, members in sets for suffix, views in grids]
