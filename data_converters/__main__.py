"""mmceph dataset converters: raw cephalometric datasets -> COCO-keypoint JSON.

Run ``python -m data_converters <format> --help`` (or ``mmceph-convert``) for each format.
"""
import argparse
import importlib
import sys

from .errors import ConversionError

# Each module defines add_parser(subparsers), whose parser sets func=run(args).
FORMATS = ['synthetic', 'isbi2015', 'webceph2k', 'photo_pickle']


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


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ConversionError, ValueError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
