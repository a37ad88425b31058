"""Readable report from a per-image predictions dump of ``CephalometricMetric``.

Usage::

    python tools/analysis_tools/ceph_report.py work_dirs/x/test.predictions.json \\
        --out-dir work_dirs/x/report

Writes per_landmark.md/.csv (n, MRE, SD, SDR per landmark and overall), error_boxplot.png,
sdr_curve.png, worst_cases.csv and, for dumps whose landmark names include the 19 ISBI ones
(ISBI 2015, CL-Detection 2023; never photographs) with a known pixel spacing, clinical.md
(ISBI 2015 task 2: measurement errors, success rates, confusion matrices).
Conventions match the metric: success at radius r is error <= r, SD has ddof=0, and
landmarks missing in the ground truth (null) are left out, never counted as zero.
"""
import argparse
import sys

from mmceph.evaluation.report import write_report
from mmceph.formats.predictions import PredictionsFormatError, load_predictions
from mmceph.formats.spacing import check_spacing_mm


def spacing_arg(text):
    """argparse type of --pixel-spacing: mmceph's one plausible range."""
    try:
        return check_spacing_mm(float(text), '--pixel-spacing')
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def parse_args(argv):
    p = argparse.ArgumentParser(
        description='Turn a CephalometricMetric predictions dump (JSON written with '
        'outfile_prefix) into per-landmark tables, plots, the worst cases and, for landmark '
        'sets that include the 19 ISBI 2015 landmarks by name (known pixel spacing), the '
        'clinical classification report.')
    p.add_argument('predictions', help='the *.predictions.json dump')
    p.add_argument('--out-dir', required=True, help='folder for the report (created)')
    p.add_argument('--top', type=int, default=20, help='rows in worst_cases.csv')
    p.add_argument('--max-radius', type=float, default=None,
                   help='right end of the SDR curve (default: twice the largest radius)')
    p.add_argument('--pixel-spacing', type=spacing_arg, default=None,
                   help='mm per pixel for images without pixel_spacing (clinical.md only)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        dump = load_predictions(args.predictions)
    except PredictionsFormatError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    written, reason = write_report(dump, args.out_dir, args.top, args.max_radius,
                                   args.pixel_spacing)
    for path in written:
        print(f'wrote {path}')
    if reason is not None:
        print(f'no clinical.md: {reason}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
