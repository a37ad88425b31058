from .landmark_cascade import LandmarkCascade
from .patch_warp import apply_affine, to_image, warp_patches
from .refiner_patches import SampleRefinerPatches

__all__ = ['LandmarkCascade', 'SampleRefinerPatches', 'warp_patches', 'apply_affine', 'to_image']
