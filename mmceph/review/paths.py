"""Which files the review server may touch: only files inside its two folders.

A name from a request is a relative path with ``/`` separators; anything else (absolute,
``..`` parts, a NUL, a backslash, a symlink whose target lies outside the folder) is
refused with :class:`UnsafePath` before any file is opened.
"""
import os
import os.path as osp


class UnsafePath(ValueError):
    """A requested name that would leave its folder; the message says why."""


def resolve_inside(root: str, name: str) -> str:
    """The real path of ``root/name``; raises :class:`UnsafePath` unless it lies inside
    ``root`` (after following every symlink)."""
    if not isinstance(name, str) or not name:
        raise UnsafePath('empty file name')
    if '\0' in name or '\\' in name:
        raise UnsafePath(f'{name!r}: invalid character in the file name')
    if name.startswith('/') or osp.isabs(name):
        raise UnsafePath(f'{name!r}: absolute paths are refused')
    if any(part in ('..', '.', '') for part in name.split('/')):
        raise UnsafePath(f'{name!r}: only plain relative names are accepted (no "..")')
    root_real = osp.realpath(root)
    full = osp.realpath(osp.join(root_real, name))
    if osp.commonpath([root_real, full]) != root_real:
        raise UnsafePath(f'{name!r}: points outside the served folder')
    return full


def is_inside(root: str, path: str) -> bool:
    root_real = osp.realpath(root)
    return osp.commonpath([root_real, osp.realpath(path)]) == root_real


def walk_images(folder: str, skip: str = None) -> list:
    """Relative names (``/``-separated, sorted) of the readable images under ``folder``
    (recursively, as ``tools/infer.py --recursive``), hidden entries, infer.py's outputs
    and ``skip`` (the review folder when it lies inside) left out; symlinks leaving
    ``folder`` are not followed."""
    from ..formats.images import READABLE_EXTENSIONS
    outputs = ('.landmarks.json', '.overlay.png')
    skip_real = osp.realpath(skip) if skip else None
    found = []
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith('.')
                         and osp.realpath(osp.join(current, d)) != skip_real
                         and is_inside(folder, osp.join(current, d)))
        for f in files:
            full = osp.join(current, f)
            if f.startswith('.') or not f.lower().endswith(READABLE_EXTENSIONS) \
                    or f.endswith(outputs) or not is_inside(folder, full):
                continue
            found.append(osp.relpath(full, folder).replace(os.sep, '/'))
    return sorted(found)
