"""Site offsets (:mod:`mmceph.apis.adaptation`): a per-landmark shift in fractions of the
crop size, added once to the final prediction. One function for every path that applies
it -- ``CephalometricEstimator.predict`` (PyTorch), the ONNX runtime and the adaptation
estimate's own scoring -- so they cannot drift."""
import numpy as np


def add_site_offsets(keypoints, offsets, crop_scale, dtype=np.float32) -> np.ndarray:
    """``keypoints + offsets * crop_scale``, per image, as a new array of ``dtype``.

    Args:
        keypoints (np.ndarray): landmarks in image pixels, one image or several.
        offsets (np.ndarray): the site offsets, fractions of the crop's width and height.
        crop_scale (np.ndarray): the size in image pixels of each image's model crop
            (MMPose's ``input_scale``).
        dtype: float type of the arithmetic and the result (float32: what the models'
            predictions carry; float64 for the adaptation's estimates).

    Returns:
        np.ndarray: the shifted landmarks, ``keypoints``' shape (only x, y change).

    Raises:
        ValueError: when the offsets are for another number of landmarks.

    Note:
        - keypoints: (K, C) for one image or (N, ..., K, C), C >= 2;
        - offsets: (K, 2);
        - crop_scale: (2, ) for one image (or every image), else (N, 2).
    """
    kpts = np.array(keypoints, dtype)
    off = np.asarray(offsets, dtype).reshape(-1, 2)
    if kpts.shape[-2] != len(off):
        raise ValueError(f'site offsets are for {len(off)} landmarks, the model predicts '
                         f'{kpts.shape[-2]}')
    scale = np.asarray(crop_scale, dtype).reshape(-1, 2)
    scale = scale.reshape((len(scale), ) + (1, ) * (kpts.ndim - 2) + (2, )) if kpts.ndim > 2 \
        else scale.reshape(2)
    kpts[..., :2] += off * scale
    return kpts
