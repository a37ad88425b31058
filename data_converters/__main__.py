"""mmceph dataset converters: raw cephalometric datasets -> COCO-keypoint JSON.

Run ``python -m data_converters <format> --help`` (or ``mmceph-convert``) for each format.
"""
import argparse
import importlib
import os.path as osp
import shutil
import sys

from .errors import ConversionError

# Each module defines add_parser(subparsers), whose parser sets func=run(args).
FORMATS = ['synthetic', 'isbi2015', 'webceph2k', 'photo_pickle', 'cldetection2023', 'aariz',
           'cldetection2023_submission']


def build_parser():
    parser = argparse.ArgumentParser(
        prog='python -m data_converters', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='format', required=True, metavar='FORMAT')
    for name in FORMATS:
        try:
            module = importlib.import_module(f'.{name}', __package__)
        except ModuleNotFoundError as err:
            if err.name == f'{__package__}.{name}':
                continue  # format not available in this version
            raise
        module.add_parser(sub)
    return parser


def missing_folders(path):
    """The folders on the way to ``path`` (itself included) that do not exist yet, deepest
    first: what a run creates, and what a failed run must remove again."""
    missing, path = [], osp.abspath(path)
    while path and not osp.lexists(path):
        missing.append(path)
        parent = osp.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def main(argv=None):
    args = build_parser().parse_args(argv)
    created = missing_folders(args.out) if getattr(args, 'out', None) else []
    try:
        args.func(args)
    except BaseException as err:
        # A failed run leaves no folder behind that it created (they did not exist before
        # it started, so everything in them is this run's).
        for folder in created:
            if osp.isdir(folder) and not osp.islink(folder):
                shutil.rmtree(folder, ignore_errors=True)
        if isinstance(err, (ConversionError, ValueError, FileNotFoundError)):
            print(f'error: {err}', file=sys.stderr)
            return 2
        raise
    return 0


if __name__ == '__main__':
    sys.exit(main())
