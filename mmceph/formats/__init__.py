"""The files mmceph reads and writes, each described once: the COCO-keypoint annotation
schema (:mod:`.coco`), the ROI prior (:mod:`.roi_prior`), the image file extensions
(:mod:`.images`) and the plausible pixel-spacing range (:mod:`.spacing`).

Light on purpose (the standard library and numpy at most, no MMPose, no torch): the
converters that write these files and the datasets and inference that read them import
the same module.
"""
