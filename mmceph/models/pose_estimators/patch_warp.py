"""Square, rotated patches cut from a full-resolution image, and the maps back: the
implementation lives in the torch-free :mod:`mmceph.core.warp` (shared with the ONNX
runtime); this module keeps the names the models import."""
from ...core.warp import apply_affine, to_image, warp_patches

__all__ = ['warp_patches', 'apply_affine', 'to_image']
