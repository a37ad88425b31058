"""COCO-keypoint JSON in mmceph's convention (see README "Data format").

Coordinates are in original-image pixels, where a pixel's centre sits at its integer
index (ISBI's integer annotations are pixel indices). Missing landmarks are written as
``[0, 0, 0]`` (v=0) and never invented. Files are written atomically: a failed or
interrupted conversion leaves no partial JSON behind.
"""
import json
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np

from .errors import ConversionError


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


def make_category(keypoint_names, skeleton=()):
    return dict(id=1, name='cephalogram', supercategory='cephalogram',
                keypoints=list(keypoint_names), skeleton=[list(p) for p in skeleton])


def to_coco(records, keypoint_names, skeleton=(), description='mmceph', reference=None):
    """Build the COCO dict. Image and annotation ids are 1-based, in record order.

    ``reference`` names whose annotation the keypoints are (``senior``, ``junior``, ``mean``
    for datasets with two annotators, ``released`` otherwise): it is written into ``info``
    and into every image, because a result is only comparable when it states it.
    """
    images, annotations = [], []
    for i, rec in enumerate(records, start=1):
        img = dict(id=i, file_name=rec.file_name, width=int(rec.width),
                   height=int(rec.height), source=rec.source,
                   pixel_spacing=None if rec.pixel_spacing is None
                   else [float(s) for s in rec.pixel_spacing])
        if reference is not None:
            img['reference'] = reference
        img.update(rec.extra)
        images.append(img)
        labelled = ~np.isnan(rec.keypoints[:, 0])
        flat = []
        for (x, y), v in zip(rec.keypoints, labelled):
            flat += [round(float(x), 3), round(float(y), 3), 2] if v else [0.0, 0.0, 0]
        x, y, w, h = rec.bbox or (0.0, 0.0, float(rec.width), float(rec.height))
        annotations.append(dict(
            id=i, image_id=i, category_id=1, iscrowd=0, keypoints=flat,
            num_keypoints=int(labelled.sum()),
            bbox=[round(float(v), 3) for v in (x, y, w, h)], area=round(float(w * h), 3)))
    info = dict(description=description)
    if reference is not None:
        info['reference'] = reference
    return dict(info=info, licenses=[], images=images,
                annotations=annotations,
                categories=[make_category(keypoint_names, skeleton)])


def write_json_atomic(obj, path):
    """Write JSON to a temporary file in the same folder, then rename it into place."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path), suffix='.tmp', dir=folder)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)      # mkstemp makes 0600; output is an ordinary file
    try:
        with os.fdopen(fd, 'w') as f:
            json.dump(obj, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
