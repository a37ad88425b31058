"""COCO-style cephalometric datasets (the JSON written by ``data_converters``).

What they add to MMPose's ``BaseCocoStyleDataset``: each image's ``pixel_spacing``
(mm per pixel, x and y) travels with its sample inside ``raw_ann_info``, which
``PackPoseInputs`` keeps by default, so ``CephalometricMetric`` can report millimetres
with per-image spacing without any config needing to know how.

The ROI prior (``roi_prior.json`` beside the ``annotations/`` folder, written by the
converters) is put into the dataset's metainfo, which MMEngine saves in every checkpoint
(``meta.dataset_meta``), so inference on a new image crops the same region.

The reference annotation the file was converted from (``info.reference``: ``senior``,
``junior``, ``mean`` or ``released``) goes into the metainfo too, so the metric can say
against whose annotation it scored: on ISBI the choice moves MRE by ~1 mm.

The annotation file (and the ROI prior) are checked before xtcocotools and MMPose parse
them (``coco_validation``): a malformed file fails with one ``CocoFormatError`` naming the
file and the JSON path of the problem, never with an error from deep inside them.
"""
import os.path as osp

from mmengine.fileio import exists, get_local_path
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.registry import DATASETS

from ..metainfo import aariz, cldetection2023, isbi2015, lateral_photo, webceph2k
from .coco_validation import CocoFormatError, load_coco_json, load_roi_prior, reference_of


@DATASETS.register_module()
class CephalometricDataset(BaseCocoStyleDataset):
    """Base class: landmarks of one image form one instance; bbox is the ROI."""
    METAINFO: dict = isbi2015.dataset_info

    def load_data_list(self):
        if not exists(self.ann_file):
            raise FileNotFoundError(f'{self.ann_file}: annotation file not found')
        with get_local_path(self.ann_file) as local_path:    # validate before xtcocotools
            doc = load_coco_json(local_path, self.metainfo['num_keypoints'], name=self.ann_file)
        reference = reference_of(doc)
        del doc
        roi_file = osp.join(osp.dirname(osp.dirname(self.ann_file)), 'roi_prior.json')
        roi = load_roi_prior(roi_file) if osp.isfile(roi_file) else None
        data_list = super().load_data_list()
        if not data_list:     # MMEngine would fail later, deep inside, on an empty list
            raise CocoFormatError(self.ann_file, 'annotations', 'no usable instance: every '
                                  'annotation is a crowd, has no labelled keypoint or a box '
                                  'outside its image (or there is none)')
        if roi is not None:
            self._metainfo['roi_prior'] = roi
        if reference is not None:
            self._metainfo['reference'] = reference
        spacings = {tuple(d['pixel_spacing']) for d in data_list if d.get('pixel_spacing')}
        if len(spacings) == 1:   # one spacing for the whole set: the default at inference
            self._metainfo['default_pixel_spacing'] = list(spacings.pop())
        return data_list

    def parse_data_info(self, raw_data_info):
        data_info = super().parse_data_info(raw_data_info)
        if data_info is None:
            return None
        spacing = raw_data_info['raw_img_info'].get('pixel_spacing')
        data_info['raw_ann_info']['pixel_spacing'] = spacing
        data_info['pixel_spacing'] = spacing
        return data_info


@DATASETS.register_module()
class ISBI2015Dataset(CephalometricDataset):
    """ISBI 2015 (19 landmarks, 0.1 mm/px); also the synthetic demo set."""
    METAINFO = isbi2015.dataset_info


@DATASETS.register_module()
class WebCeph2kDataset(CephalometricDataset):
    """WebCeph2k (26 landmarks, per-image spacing, missing points as v=0)."""
    METAINFO = webceph2k.dataset_info


@DATASETS.register_module()
class LateralPhotoDataset(CephalometricDataset):
    """Lateral face photographs (19 points, 224 px, no spacing: metrics in pixels)."""
    METAINFO = lateral_photo.dataset_info


@DATASETS.register_module()
class CLDetection2023Dataset(CephalometricDataset):
    """CL-Detection 2023 (38 landmarks, three centres, per-image spacing)."""
    METAINFO = cldetection2023.dataset_info


@DATASETS.register_module()
class AarizDataset(CephalometricDataset):
    """Aariz (29 landmarks, seven devices; spacing only where the machine CSV gave it)."""
    METAINFO = aariz.dataset_info
