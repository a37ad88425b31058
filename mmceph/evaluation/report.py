"""The readable report of a predictions dump (``tools/analysis_tools/ceph_report.py``):
per-landmark tables, an error box plot, the SDR curve, the worst cases and, for dumps whose
landmark names include the 19 ISBI ones with a known pixel spacing, the ISBI 2015 clinical
classification report. Conventions match the metric: success at radius r is error <= r,
SD has ddof=0, landmarks missing in the ground truth (null) are left out."""
import csv
import os
import os.path as osp

import numpy as np

from .. import clinical
from ..formats.predictions import error_matrix, image_label
from .landmark_errors import summarise


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


def write_report(dump: dict, out_dir: str, top: int = 20, max_radius=None,
                 default_spacing=None):
    """Write the report of a loaded dump into ``out_dir`` (created); (the paths written,
    why there is no clinical.md or None)."""
    names, unit = dump['keypoint_names'], dump['unit']
    radii = [float(r) for r in dump['radii']]
    errors = error_matrix(dump)
    os.makedirs(out_dir, exist_ok=True)
    written = write_tables(landmark_table(errors, names, radii), radii, unit, out_dir)
    written += write_plots(errors, names, radii, unit, out_dir, max_radius)
    written += write_worst(worst_cases(dump, errors, top), unit, out_dir)
    summary, reason = clinical_summary(dump, default_spacing)
    if summary is not None:
        written += write_clinical(summary, out_dir)
    return written, reason
