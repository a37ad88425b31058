"""Radial landmark errors and their summary statistics (numpy only, usable anywhere).

Conventions (as in the ISBI 2015 evaluation): the radial error of a landmark is the
Euclidean distance between prediction and ground truth after scaling x and y by the
image's pixel spacing; a landmark is a success at radius r when error <= r; landmarks
missing in the ground truth are NaN and excluded from every statistic.
"""
import numpy as np


def radial_errors(pred, gt, visible, spacing=None):
    """Per-landmark errors (N, K), NaN where the ground truth is missing.

    Args:
        pred, gt: (N, K, 2) coordinates in original-image pixels.
        visible: (N, K) ground-truth labelled mask.
        spacing: (N, 2) mm per pixel (x, y), or None for errors in pixels.
    """
    diff = np.asarray(pred, float) - np.asarray(gt, float)
    if spacing is not None:
        diff = diff * np.asarray(spacing, float)[:, None, :]
    err = np.linalg.norm(diff, axis=-1)
    return np.where(np.asarray(visible) > 0, err, np.nan)


def summarise(errors, radii):
    """MRE, SD and SDR at each radius, overall and per landmark.

    Returns ``{'overall': stats, 'per_landmark': [stats] * K}`` with
    ``stats = {'n', 'MRE', 'SD', 'SDR': {radius: fraction}}``; SD is the population
    standard deviation of the radial errors (ddof=0, as the challenge reports it).
    """
    errors = np.asarray(errors, float)

    def stats(e):
        e = e[~np.isnan(e)]
        if e.size == 0:
            return dict(n=0, MRE=float('nan'), SD=float('nan'),
                        SDR={r: float('nan') for r in radii})
        return dict(n=int(e.size), MRE=float(e.mean()), SD=float(e.std()),
                    SDR={r: float((e <= r).mean()) for r in radii})

    return dict(overall=stats(errors.ravel()),
                per_landmark=[stats(errors[:, k]) for k in range(errors.shape[1])])


def format_table(summary, names, radii, unit='mm'):
    """A plain-text per-landmark table for logs."""
    head = f"{'landmark':<26}{'n':>5}{'MRE':>8}{'SD':>8}" + ''.join(
        f"{'SDR' + format(r, 'g') + unit:>11}" for r in radii)
    rows = [head, '-' * len(head)]
    for name, s in list(zip(names, summary['per_landmark'])) + [('ALL', summary['overall'])]:
        rows.append(f"{name:<26}{s['n']:>5}{s['MRE']:>8.3f}{s['SD']:>8.3f}" + ''.join(
            f"{100 * s['SDR'][r]:>10.1f}%" for r in radii))
    return '\n'.join(rows)
