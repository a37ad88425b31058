"""COCO-style cephalometric datasets (the JSON written by ``data_converters``).

What they add to MMPose's ``BaseCocoStyleDataset``: each image's ``pixel_spacing``
(mm per pixel, x and y) travels with its sample inside ``raw_ann_info``, which
``PackPoseInputs`` keeps by default, so ``CephalometricMetric`` can report millimetres
with per-image spacing without any config needing to know how.

The ROI prior (:mod:`mmceph.formats.roi_prior`, written by the converters) is put into
the dataset's metainfo, which MMEngine saves in every checkpoint
(``meta.dataset_meta``), so inference on a new image crops the same region.

The reference annotation the file was converted from (``info.reference``: ``senior``,
``junior``, ``mean`` or ``released``) goes into the metainfo too, so the metric can say
against whose annotation it scored: on ISBI the choice moves MRE by ~1 mm.

The annotation file is parsed once: :func:`mmceph.formats.coco.load_coco_json` reads and
checks it (a malformed file fails with one ``CocoFormatError`` naming the file and the
JSON path of the problem, never with an error from deep inside xtcocotools or MMPose),
and xtcocotools indexes that same dict (``COCO(ann_data=...)``).

An image field ``annotators`` (``{name: [[x, y], ...]}``, written by the ISBI converter
when both annotators are present) becomes the sample's ``annotator_keypoints``
(``{name: (1, K, 2)}``), from which ``PickAnnotator`` chooses the training target.
"""
import os.path as osp

import numpy as np
from mmengine.fileio import exists, get_local_path
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.registry import DATASETS
from xtcocotools.coco import COCO

from ..formats.coco import CocoFormatError, load_coco_json, reference_of
from ..formats.roi_prior import load_roi_prior, roi_prior_path
from ..metainfo import aariz, cldetection2023, isbi2015, lateral_photo, webceph2k


@DATASETS.register_module()
class CephalometricDataset(BaseCocoStyleDataset):
    """Base class: landmarks of one image form one instance; bbox is the ROI.

    Args (those of MMPose's ``BaseCocoStyleDataset``; none added):
        ann_file (str): the converter's COCO keypoint JSON, relative to ``data_root``.
        data_root (str): dataset folder (the converter's ``--out``).
        data_mode (str): ``'topdown'`` (one instance per image).
        data_prefix (dict): ``dict(img=FOLDER)``, where ``file_name`` is relative to.
        pipeline (list[dict]): the transforms.
        test_mode (bool): evaluation split (no training-only filtering).
        metainfo (dict, optional): overrides ``METAINFO`` (landmark names, skeleton).
    ``roi_prior.json`` beside ``ann_file``, when present, becomes ``metainfo['roi_prior']``.
    """
    METAINFO: dict = isbi2015.dataset_info

    def load_data_list(self) -> list:
        if not exists(self.ann_file):
            raise FileNotFoundError(f'{self.ann_file}: annotation file not found')
        roi_file = roi_prior_path(self.ann_file)
        roi = load_roi_prior(roi_file) if osp.isfile(roi_file) else None
        data_list = super().load_data_list()
        if not data_list:     # MMEngine would fail later, deep inside, on an empty list
            raise CocoFormatError(self.ann_file, 'annotations', 'no usable instance: every '
                                  'annotation is a crowd, has no labelled keypoint or a box '
                                  'outside its image (or there is none)')
        if roi is not None:
            self._metainfo['roi_prior'] = roi
        spacings = {tuple(d['pixel_spacing']) for d in data_list if d.get('pixel_spacing')}
        if len(spacings) == 1:   # one spacing for the whole set: the default at inference
            self._metainfo['default_pixel_spacing'] = list(spacings.pop())
        return data_list

    def _load_annotations(self):
        """MMPose's loop over ``self.coco``, with the index built from the checked dict
        instead of a second parse of the file."""
        with get_local_path(self.ann_file) as local_path:
            doc = load_coco_json(local_path, self.metainfo['num_keypoints'], name=self.ann_file)
        reference = reference_of(doc)
        if reference is not None:
            self._metainfo['reference'] = reference
        self.coco = COCO(self.ann_file, ann_data=doc)
        self._metainfo['CLASSES'] = self.coco.loadCats(self.coco.getCatIds())
        instances, images = [], []
        for img_id in self.coco.getImgIds():
            if img_id % self.sample_interval != 0:
                continue
            img = self.coco.loadImgs(img_id)[0]
            img.update(img_id=img_id, img_path=osp.join(self.data_prefix['img'], img['file_name']))
            images.append(img)
            for ann in self.coco.loadAnns(self.coco.getAnnIds(imgIds=img_id)):
                instance = self.parse_data_info(dict(raw_ann_info=ann, raw_img_info=img))
                if instance:
                    instances.append(instance)
        return instances, images

    def parse_data_info(self, raw_data_info: dict):
        data_info = super().parse_data_info(raw_data_info)
        if data_info is None:
            return None
        spacing = raw_data_info['raw_img_info'].get('pixel_spacing')
        data_info['raw_ann_info']['pixel_spacing'] = spacing
        data_info['pixel_spacing'] = spacing
        both = raw_data_info['raw_img_info'].get('annotators')
        if both:   # ISBI: every annotator's points, for PickAnnotator
            data_info['annotator_keypoints'] = {
                name: np.array(points, np.float32).reshape(1, -1, 2)
                for name, points in both.items()}
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
