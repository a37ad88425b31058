"""The one writer of a converted dataset. Each converter parses its release into
``ImageRecord``s and hands them here; this package writes the COCO-keypoint JSON of every
split (validated by ``mmceph.formats.coco``), the ROI prior and the provenance, atomically
and all-or-nothing (``write_dataset``), so no two converters can write it differently."""
from .coco import ImageRecord, to_coco, write_json_atomic
from .dataset import add_output_args, swap_in_folder, write_dataset

__all__ = ['ImageRecord', 'to_coco', 'write_json_atomic', 'add_output_args', 'swap_in_folder',
           'write_dataset']
