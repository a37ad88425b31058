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
import csv
import json
import math
import os
import os.path as osp
import sys

import numpy as np

from mmceph import clinical
from mmceph.evaluation.landmark_errors import summarise
from mmceph.formats.spacing import check_spacing_mm


class ReportError(Exception):
    """A dump that cannot be read; main() turns it into exit code 2."""


def load_dump(path):
    """Read and check the dump; raises ReportError naming the file."""
    try:
        with open(path, encoding='utf-8') as f:
            dump = json.load(f)
    except FileNotFoundError:
        raise ReportError(f'{path}: no such file') from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReportError(f'{path}: not a readable JSON file ({e})') from e

    def bad(msg):
        return ReportError(f'{path}: invalid predictions dump: {msg}')

    if not isinstance(dump, dict):
        raise bad('top level is not an object')
    for key in ('keypoint_names', 'unit', 'images'):
        if key not in dump:
            raise bad(f'missing key "{key}"')
    names, images = dump['keypoint_names'], dump['images']
    if not isinstance(names, list) or not names:
        raise bad('"keypoint_names" must be a non-empty list')
    if not isinstance(images, list) or not images:
        raise bad('"images" must be a non-empty list')
    k = len(names)
    for i, img in enumerate(images):
        if not isinstance(img, dict):
            raise bad(f'images[{i}] is not an object')
        where = f'images[{i}]'
        which = f' (image {image_label(img)})'
        for key in ('pred', 'gt', 'error'):
            if not isinstance(img.get(key), list) or len(img[key]) != k:
                raise bad(f'{where}["{key}"]{which} must be a list of {k} entries')
        for key, nullable in (('pred', False), ('gt', True)):
            for j, point in enumerate(img[key]):
                if not (nullable and point is None) and not (
                        isinstance(point, list) and len(point) == 2
                        and all(is_number(v) for v in point)):
                    raise bad(f'{where}["{key}"][{j}]{which} must be [x, y] (finite numbers)'
                              + (' or null' if nullable else '') + f', not {point!r:.40}')
        for j, e in enumerate(img['error']):
            if e is not None and not (is_number(e) and e >= 0):
                raise bad(f'{where}["error"][{j}]{which} must be a number >= 0 or null, '
                          f'not {e!r:.40}')
        sp = img.get('pixel_spacing')
        values = sp if isinstance(sp, list) else [sp]
        if sp is not None and (len(values) not in (1, 2) or not all(
                is_number(v) and v > 0 for v in values)):
            raise bad(f'{where}["pixel_spacing"]{which} must be a positive number, '
                      f'[sx, sy] of positive numbers or null, not {sp!r:.40}')
    radii = dump.setdefault('radii', [2.0, 2.5, 3.0, 4.0])
    if not isinstance(radii, list) or not radii or not all(
            isinstance(r, (int, float)) and r > 0 for r in radii):
        raise bad('"radii" must be a non-empty list of positive numbers')
    return dump


def is_number(v):
    """A finite JSON number (``true``/``false`` are not numbers here)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def image_label(img):
    """How an error names the image: its path, else its id."""
    return img.get('img_path') or f'id {img.get("img_id")!r}'


def error_matrix(dump):
    """(N, K) radial errors, NaN where the ground truth (or the error) is missing."""
    return np.array([[np.nan if e is None or g is None else float(e)
                      for e, g in zip(img['error'], img['gt'])]
                     for img in dump['images']], dtype=float)


def landmark_table(errors, names, radii):
    """Rows (name, stats) per landmark and a final ('ALL', stats) over everything, with the
    metric's own statistics (``landmark_errors.summarise``)."""
    summary = summarise(errors, radii)
    return list(zip(names, summary['per_landmark'])) + [('ALL', summary['overall'])]


def sdr_curve(errors, radii_grid):
    """Overall SDR (fraction) at each radius of radii_grid."""
    e = errors[~np.isnan(errors)]
    return np.array([(e <= r).mean() if e.size else np.nan for r in radii_grid])


def worst_cases(dump, errors, top=20):
    """The `top` largest errors as (img_id, img_path, landmark, error), largest first."""
    n, k = np.nonzero(~np.isnan(errors))
    order = np.argsort(-errors[n, k], kind='stable')[:top]
    return [(dump['images'][n[i]]['img_id'], dump['images'][n[i]].get('img_path', ''),
             dump['keypoint_names'][k[i]], float(errors[n[i], k[i]])) for i in order]


def clinical_summary(dump, default_spacing=None):
    """Per measurement: mean |pred - gt| value, success rate, confusion matrix.

    Uses images whose 19 ISBI ground-truth landmarks are all present. Returns None with a
    reason when not applicable (landmark names without the 19 ISBI ones, see
    ``clinical.isbi_indices``; unknown spacing; no complete image).
    """
    isbi = clinical.isbi_indices(dump['keypoint_names'])
    if isbi is None:
        return None, (f'the {len(dump["keypoint_names"])} landmarks do not include the 19 '
                      'ISBI ones (by name): the ISBI measurements do not apply')
    preds, gts, spacings, skipped = [], [], [], 0
    for img in dump['images']:
        if any(img['gt'][k] is None for k in isbi):
            skipped += 1
            continue
        sp = img.get('pixel_spacing') or default_spacing
        if sp is None:
            return None, (f'image {image_label(img)} has no pixel_spacing '
                          '(pass --pixel-spacing)')
        preds.append([img['pred'][k] for k in isbi])
        gts.append([img['gt'][k] for k in isbi])
        spacings.append(np.broadcast_to(np.asarray(sp, float), (2,)))
    if not preds:
        return None, 'no image has all 19 ground-truth landmarks'
    spacings = np.array(spacings)
    try:
        out = clinical.compare_measurements(np.array(preds, float), np.array(gts, float), spacings)
    except ValueError as e:  # e.g. non-finite or coincident landmarks
        return None, f'clinical measurements failed: {e}'
    return dict(measurements=out, n_images=len(preds), n_skipped=skipped), None


def _fmt(x, digits=3):
    return 'nan' if x != x else f'{x:.{digits}f}'


def write_tables(rows, radii, unit, out_dir):
    """per_landmark.csv (SDR in %) and per_landmark.md."""
    sdr_cols = [f'SDR@{r:g}{unit}(%)' for r in radii]
    header = ['landmark', 'n', f'MRE({unit})', f'SD({unit})'] + sdr_cols
    body = [[name, str(s['n']), _fmt(s['MRE']), _fmt(s['SD'])]
            + [_fmt(100 * s['SDR'][r], 2) for r in radii] for name, s in rows]
    csv_path = osp.join(out_dir, 'per_landmark.csv')
    with open(csv_path, 'w', newline='') as f:
        csv.writer(f).writerows([header] + body)
    md_path = osp.join(out_dir, 'per_landmark.md')
    with open(md_path, 'w') as f:
        f.write('# Per-landmark radial error\n\n')
        f.write('| ' + ' | '.join(header) + ' |\n')
        f.write('|' + '---|' * len(header) + '\n')
        for line in body:
            f.write('| ' + ' | '.join(line) + ' |\n')
    return [csv_path, md_path]


def write_worst(cases, unit, out_dir):
    path = osp.join(out_dir, 'worst_cases.csv')
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['img_id', 'img_path', 'landmark', f'error({unit})'])
        w.writerows([(i, p, name, _fmt(e, 4)) for i, p, name, e in cases])
    return [path]


def write_plots(errors, names, radii, unit, out_dir, max_radius=None):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    box_path = osp.join(out_dir, 'error_boxplot.png')
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(names) + 2), 4.5))
    data = [errors[:, k][~np.isnan(errors[:, k])] for k in range(len(names))]
    ax.boxplot(data, showfliers=True)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=60, ha='right', fontsize=7)
    ax.set_ylabel(f'radial error ({unit})')
    ax.set_title('Radial error per landmark')
    fig.tight_layout()
    fig.savefig(box_path, dpi=120)
    plt.close(fig)

    curve_path = osp.join(out_dir, 'sdr_curve.png')
    grid = np.linspace(0, max_radius or 2 * max(radii), 201)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for k in range(len(names)):
        ax.plot(grid, 100 * sdr_curve(errors[:, k], grid), color='grey', lw=0.6, alpha=0.35)
    ax.plot(grid, 100 * sdr_curve(errors, grid), color='C0', lw=2, label='all landmarks')
    for r in radii:
        ax.axvline(r, color='k', ls=':', lw=0.8)
    ax.set_xlabel(f'radius ({unit})')
    ax.set_ylabel('SDR (%)')
    ax.set_ylim(0, 100)
    ax.set_title('Successful detection rate (faint: single landmarks)')
    ax.legend(loc='lower right')
    fig.tight_layout()
    fig.savefig(curve_path, dpi=120)
    plt.close(fig)
    return [box_path, curve_path]


def write_clinical(summary, out_dir):
    path = osp.join(out_dir, 'clinical.md')
    units = dict(FHI='', MW=' mm')
    lines = ['# ISBI 2015 clinical classification (predicted vs ground-truth landmarks)', '',
             f'{summary["n_images"]} images; {summary["n_skipped"]} skipped for missing '
             'ground-truth landmarks. Success rate = mean per-class recall over the classes '
             'present in the ground truth (the challenge score).', '',
             '| measurement | mean abs error | success rate (%) |', '|---|---|---|']
    for name, m in summary['measurements'].items():
        lines.append(f'| {name} | {_fmt(m["mae"])}{units.get(name, " deg")} | '
                     f'{_fmt(100 * m["success_rate"], 2)} |')
    for name, m in summary['measurements'].items():
        labels = m['labels']
        lines += ['', f'## {name}', '', 'rows: ground truth, columns: prediction', '',
                  '| gt \\ pred | ' + ' | '.join(
                      f'{c} {clinical.MEANINGS[name][c]}' for c in labels) + ' |',
                  '|---|' + '---|' * len(labels)]
        for c, row in zip(labels, m['confusion']):
            lines.append(f'| {c} | ' + ' | '.join(str(int(x)) for x in row) + ' |')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return [path]


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
        dump = load_dump(args.predictions)
    except ReportError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    names, unit = dump['keypoint_names'], dump['unit']
    radii = [float(r) for r in dump['radii']]
    errors = error_matrix(dump)
    os.makedirs(args.out_dir, exist_ok=True)
    written = write_tables(landmark_table(errors, names, radii), radii, unit, args.out_dir)
    written += write_plots(errors, names, radii, unit, args.out_dir, args.max_radius)
    written += write_worst(worst_cases(dump, errors, args.top), unit, args.out_dir)
    summary, reason = clinical_summary(dump, args.pixel_spacing)
    if summary is not None:
        written += write_clinical(summary, args.out_dir)
    for path in written:
        print(f'wrote {path}')
    if summary is None:
        print(f'no clinical.md: {reason}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
