"""A review folder without a model: real image files (PIL) and predictions written in
tools/infer.py's schema by the predictor's own ``describe_landmarks``; and a reader of
the PDF reports' page tree (no PDF library in the environment)."""
import json
import os
import os.path as osp
import re

import numpy as np
from PIL import Image

from mmceph.metainfo.isbi2015 import KEYPOINTS
from mmceph.predictor.base import describe_landmarks

W, H = 200, 240
SPACING = (0.1, 0.1)
# a plausible ISBI shape (pixels of a 200x240 image): S, N, Or, Po, A, B, Pog, Me, Gn, Go,
# L11, L12, 13-16 soft tissue, PNS, ANS, Ar
SHAPE = np.array([[60, 70], [150, 60], [135, 95], [45, 100], [150, 130], [140, 175],
                  [142, 195], [135, 210], [140, 205], [65, 180], [152, 150], [156, 148],
                  [165, 140], [168, 160], [160, 185], [150, 205], [90, 118], [160, 115],
                  [50, 115]], float)


def image_file(path, seed, size=(W, H)):
    rng = np.random.default_rng(seed)
    a = (rng.random((size[1], size[0])) * 200 + 20).astype(np.uint8)
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(a).save(path)


def prediction(status, scores, flags=None, spacing=SPACING, names=KEYPOINTS, kpts=SHAPE):
    """infer.py's JSON of one image (``result`` part of PredictorBase.predict)."""
    flags = flags or [[] for _ in names]
    result = dict(image='x', width=W, height=H, coordinate_frame='pixels of the stored image',
                  exif_orientation=1, frame=dict(used=0, count=1),
                  pixel_spacing_mm=list(spacing) if spacing else None,
                  pixel_spacing_source='test', roi_xyxy_px=[0.0, 0.0, float(W), float(H)],
                  site_adaptation=None, status=status,
                  status_reasons=['test'] if status != 'ok' else [])
    if status == 'rejected' and scores is None:
        result['landmarks'] = []
        return result
    result.update(describe_landmarks(names, kpts, scores, spacing, flags,
                                     clinical=status != 'rejected'))
    return result


def make_folder(root):
    """IMAGES_DIR with four images (one in a sub-folder) and REVIEW_DIR with their cached
    predictions: ok (0.9), ok with a low landmark (0.6), review (flagged A), rejected."""
    images, work = osp.join(root, 'images'), osp.join(root, 'review')
    specs = {
        'a_ok.png': prediction('ok', [0.9] * 19),
        'b_ok_low.png': prediction('ok', [0.9] * 18 + [0.6]),
        'sub/c_review.png': prediction('review', [0.9] * 4 + [0.2] + [0.9] * 14,
                                       flags=[[]] * 4 + [['low_confidence']] + [[]] * 14),
        'd_rejected.png': prediction('rejected', None),
    }
    for i, (name, result) in enumerate(specs.items()):
        image_file(osp.join(images, name), i)
        target = osp.join(work, 'predictions', name + '.landmarks.json')
        os.makedirs(osp.dirname(target), exist_ok=True)
        with open(target, 'w') as f:
            json.dump(result, f)
    with open(osp.join(work, 'model.json'), 'w') as f:
        json.dump(dict(names=KEYPOINTS), f)
    return images, work


def pdf_pages(raw: bytes) -> dict:
    """What a PDF viewer would count, read from the file's own objects: the page tree's
    /Count, the /Page objects with their /MediaBox (points), the embedded images' sizes."""
    assert raw.startswith(b'%PDF-') and raw.rstrip().endswith(b'%%EOF'), raw[:20]
    text = re.sub(rb'stream\r?\n.*?endstream', b'', raw, flags=re.S).decode('latin-1')
    objects = re.findall(r'\d+ 0 obj\s*<<(.*?)>>\s*endobj', text, re.S)
    pages = [o for o in objects if re.search(r'/Type\s*/Page\b(?!s)', o)]
    return dict(
        count=[int(c) for o in objects if re.search(r'/Type\s*/Pages\b', o)
               for c in re.findall(r'/Count\s+(\d+)', o)],
        media=[[float(v) for v in re.search(r'/MediaBox\s*\[([^\]]*)\]', o).group(1).split()]
               for o in pages],
        images=[(int(re.search(r'/Width\s+(\d+)', o).group(1)),
                 int(re.search(r'/Height\s+(\d+)', o).group(1)))
                for o in objects if re.search(r'/Subtype\s*/Image\b', o)])
