"""The exported model folder's format, both sides of it: what the exporter writes
(:func:`export_meta`) and what the runtime reads and checks (:func:`load_export_meta`,
:func:`checked_model_file`), so the two cannot drift.

The folder holds ``global.onnx``, one ``refiner{i}.onnx`` per cascade refiner and
:data:`EXPORT_META` (JSON): opset, input/patch sizes, the normalisation (mean, std, channel
order), the box padding, the codec settings, the cascade's prediction settings, the site
offsets, the ROI prior, the landmark names, the default pixel spacing and each .onnx file's
SHA-256. Torch-free: the exporter passes plain numbers and lists.

Versions: 1, and 2 = 1 plus the cascade's ``landmark_patch_scales`` (per-landmark patch
sides). A folder is written as 2 only when it uses that key, so a runtime that predates it
refuses the folder instead of silently cutting patches of the wrong size.
"""
import json
import os.path as osp
from typing import Optional, Sequence, Tuple

from ..utils.atomic import write_atomic
from ..utils.cli import UsageError
from ..utils.digest import file_sha256

EXPORT_META = 'mmceph_export.json'
READABLE_VERSIONS = (1, 2)


def load_export_meta(folder: str) -> dict:
    path = osp.join(folder, EXPORT_META)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{folder}: not an exported mmceph model (no {EXPORT_META}; '
                                'write one with tools/deployment/export_onnx.py)')
    with open(path) as f:
        meta = json.load(f)
    if meta.get('format_version') not in READABLE_VERSIONS:
        raise UsageError(f'{path}: format_version {meta.get("format_version")!r}, this mmceph '
                         f'reads {" and ".join(map(str, READABLE_VERSIONS))}')
    return meta


class ExportIntegrityError(UsageError):
    """An exported model file truncated or altered since the export (a tool's one-line
    error: it is bad input, not a bug)."""


def checked_model_file(folder: str, meta: dict, name: str) -> Tuple[str, str]:
    """The path of ``name`` in ``folder`` and its SHA-256 (read once: the provenance
    records it too), after checking the digest the export recorded
    (``files_sha256``): a damaged file is refused in one line naming it, before ONNX
    Runtime reads it (which would fail deep inside, or load a different network)."""
    path = osp.join(folder, name)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: missing from the exported model folder '
                                '(export it again with tools/deployment/export_onnx.py)')
    want = (meta.get('files_sha256') or {}).get(name)
    digest = file_sha256(path)
    if want is not None and digest != want:
        raise ExportIntegrityError(
            f'{path}: SHA-256 differs from the one recorded at export in {EXPORT_META} '
            '(truncated or altered; export it again with tools/deployment/export_onnx.py)')
    return path, digest


def export_meta(*, opset: int, source: dict, keypoint_names: Sequence[str],
                roi_prior: Optional[list], default_pixel_spacing, site_adaptation: Optional[dict],
                normalisation: dict, global_model: dict, cascade: Optional[dict],
                files_sha256: dict) -> dict:
    """The :data:`EXPORT_META` document (``format_version`` 2 when the cascade has
    ``landmark_patch_scales``, else 1).

    Args:
        opset (int): the ONNX opset of every graph.
        source (dict): ``config``, ``checkpoint`` (file names) and ``checkpoint_sha256``.
        keypoint_names (Sequence[str]): the K landmark names, in channel order.
        roi_prior (list, optional): the ROI prior box, as the predictor holds it.
        default_pixel_spacing: mm per pixel used when an image carries none.
        site_adaptation (dict, optional): what ``tools/adapt.py`` recorded.
        normalisation (dict): ``mean``, ``std`` (per channel) and ``bgr_to_rgb``.
        global_model (dict): ``file``, ``input_size``, ``bbox_padding``, ``codec`` and
            ``site_offsets`` ((K, 2) list, or empty).
        cascade (dict, optional): ``refiners`` (each ``file``, ``patch_fraction``,
            ``patch_size``, ``codec``) and the cascade's prediction settings.
        files_sha256 (dict): SHA-256 of each .onnx file, by file name.
    """
    version = 2 if (cascade or {}).get('landmark_patch_scales') is not None else 1
    return dict(format_version=version, opset=int(opset), source=source,
                keypoint_names=list(keypoint_names), roi_prior=roi_prior,
                default_pixel_spacing=default_pixel_spacing, site_adaptation=site_adaptation,
                normalisation=normalisation, cascade=cascade, files_sha256=dict(files_sha256),
                **{'global': global_model})


def write_export_meta(folder: str, meta: dict) -> str:
    """Write ``meta`` as :data:`EXPORT_META` into ``folder`` atomically; its path."""
    path = osp.join(folder, EXPORT_META)
    write_atomic(path, json.dumps(meta, indent=1))
    return path
