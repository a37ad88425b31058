"""Radial landmark errors and their summary statistics (numpy only, usable anywhere).

Conventions, as the ISBI 2015 challenge's own evaluation computes them (its
``v2_eva_code.m``; see docs/evaluation.md):

- the radial error of a landmark is computed in pixels and scaled to mm once (with
  square pixels; x and y are scaled apart only when the spacing differs), so an error of
  exactly 25 px at 0.1 mm/px is exactly 2.5 mm -- scaling x and y first would make it
  2.5000000000000004 mm for a (7, 24) px offset, a miss at 2.5 mm where the challenge
  counts a hit;
- a landmark is a success at radius r when error <= r (up to 1e-9 of r, so float
  rounding of the scaling cannot turn the challenge's hit into a miss);
- landmarks missing in the ground truth are NaN and excluded from every statistic;
- two SDs, named apart: ``SD`` is the SD of all errors pooled (what most papers print),
  ``SD_landmark_mean`` the mean of the per-landmark SDs (what the challenge's script
  prints as its SD).
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
    if spacing is None:
        err = np.linalg.norm(diff, axis=-1)
    else:
        s = np.asarray(spacing, float)[:, None, :]                  # (N, 1, 2)
        square = s[..., 0] == s[..., 1]                               # (N, 1)
        err = np.where(square, np.linalg.norm(diff, axis=-1) * s[..., 0],   # scaled once
                       np.linalg.norm(diff * s, axis=-1))
    return np.where(np.asarray(visible) > 0, err, np.nan)


def hits(errors, radius):
    """Success at ``radius``: error <= radius, with a 1e-9 relative tolerance."""
    return np.asarray(errors) <= radius * (1 + 1e-9)


def summarise(errors, radii):
    """MRE, SD and SDR at each radius, overall and per landmark.

    Returns ``{'overall': stats, 'per_landmark': [stats] * K}`` with
    ``stats = {'n', 'MRE', 'SD', 'SDR': {radius: fraction}}``; SD is the population
    standard deviation of the radial errors (ddof=0, as the challenge reports it); the
    overall stats add ``SD_landmark_mean``, the mean of the per-landmark SDs (the
    challenge's printed SD).
    """
    errors = np.asarray(errors, float)

    def stats(e):
        e = e[~np.isnan(e)]
        if e.size == 0:
            return dict(n=0, MRE=float('nan'), SD=float('nan'),
                        SDR={r: float('nan') for r in radii})
        return dict(n=int(e.size), MRE=float(e.mean()), SD=float(e.std()),
                    SDR={r: float(hits(e, r).mean()) for r in radii})

    per_landmark = [stats(errors[:, k]) for k in range(errors.shape[1])]
    overall = stats(errors.ravel())
    sds = [s['SD'] for s in per_landmark if s['n']]
    overall['SD_landmark_mean'] = float(np.mean(sds)) if sds else float('nan')
    return dict(overall=overall, per_landmark=per_landmark)


def format_table(summary, names, radii, unit='mm'):
    """A plain-text per-landmark table for logs."""
    head = f"{'landmark':<26}{'n':>5}{'MRE':>8}{'SD':>8}" + ''.join(
        f"{'SDR' + format(r, 'g') + unit:>11}" for r in radii)
    rows = [head, '-' * len(head)]
    for name, s in list(zip(names, summary['per_landmark'])) + [('ALL', summary['overall'])]:
        rows.append(f"{name:<26}{s['n']:>5}{s['MRE']:>8.3f}{s['SD']:>8.3f}" + ''.join(
            f"{100 * s['SDR'][r]:>10.1f}%" for r in radii))
    return '\n'.join(rows)
