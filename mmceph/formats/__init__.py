"""The files mmceph reads and writes, each described once: the COCO-keypoint annotation
schema (:mod:`.coco`), the ROI prior (:mod:`.roi_prior`) and the image file extensions
(:mod:`.images`).

Light on purpose (the standard library and numpy at most, no MMPose, no torch): the
converters that write these files and the datasets and inference that read them import
the same module.
"""
