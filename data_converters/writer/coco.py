"""COCO-keypoint JSON in mmceph's convention (see README "Data format").

Coordinates are in original-image pixels, where a pixel's centre sits at its integer
index (ISBI's integer annotations are pixel indices). Missing landmarks are written as
``[0, 0, 0]`` (v=0) and never invented. The schema itself (the entries' fields) is
:mod:`mmceph.formats.coco`, which the datasets validate against. Files are written
atomically: a failed or interrupted conversion leaves no partial JSON behind.
"""
import json
from dataclasses import dataclass, field

import numpy as np

from mmceph.formats.coco import coco_annotation, coco_category, coco_document, coco_image
from mmceph.utils.atomic import write_atomic

from ..errors import ConversionError


@dataclass
class ImageRecord:
    """One image and its landmarks, before it becomes a COCO image + annotation pair."""
    file_name: str                 # relative to the image root
    width: int
    height: int
    keypoints: np.ndarray          # (K, 2) float, NaN where the landmark is missing
    pixel_spacing: tuple | None    # (sx_mm, sy_mm); None when unknown (photographs)
    source: str
    extra: dict = field(default_factory=dict)   # image-level fields (e.g. ISBI classes)
    bbox: tuple | None = None      # xywh; filled by the ROI step (full image if None)
    origin: str = ''               # input file this record comes from (for messages)
    row: int | None = None         # its line/row in that file, when it has one

    def outside(self):
        """Indices of the landmarks outside the image (pixel centres at integer indices,
        so the image spans -0.5 .. size - 0.5)."""
        kpts = self.keypoints
        ok = np.isnan(kpts[:, 0]) | ((kpts[:, 0] >= -0.5) & (kpts[:, 0] <= self.width - 0.5)
                                     & (kpts[:, 1] >= -0.5) & (kpts[:, 1] <= self.height - 0.5))
        return np.flatnonzero(~ok)

    def check_inside(self, origin):
        """Refuse landmarks outside the image: they mean a wrong file or a wrong scale."""
        kpts, bad = self.keypoints, self.outside()
        if len(bad):
            k = int(bad[0])
            raise ConversionError(
                origin, f'landmark {k + 1} at ({kpts[k, 0]:g}, {kpts[k, 1]:g}) lies outside '
                f'its image {self.file_name} ({self.width}x{self.height})')


def to_coco(records, keypoint_names, skeleton=(), description='mmceph', reference=None):
    """Build the COCO dict. Image and annotation ids are 1-based, in record order.

    ``reference`` names whose annotation the keypoints are (``senior``, ``junior``, ``mean``
    for datasets with two annotators, ``released`` otherwise): it is written into ``info``
    and into every image, because a result is only comparable when it states it.
    """
    images, annotations = [], []
    for i, rec in enumerate(records, start=1):
        images.append(coco_image(i, rec.file_name, rec.width, rec.height, rec.source,
                                 rec.pixel_spacing, reference, rec.extra))
        points = [None if np.isnan(x) else (x, y) for x, y in rec.keypoints]
        bbox = rec.bbox or (0.0, 0.0, float(rec.width), float(rec.height))
        annotations.append(coco_annotation(i, i, points, bbox))
    return coco_document(images, annotations, coco_category(keypoint_names, skeleton),
                         description, reference)


def write_json_atomic(obj, path):
    """Write ``obj`` as JSON, all or nothing (:func:`mmceph.utils.atomic.write_atomic`)."""
    write_atomic(path, json.dumps(obj, indent=1))
