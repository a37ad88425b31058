"""Overlay PNG: landmarks with their names and the lines behind the measurements."""
import cv2
import numpy as np


def draw_overlay(image, keypoints, names, lines=(), scores=None, flagged=None):
    """Return a copy of ``image`` (BGR) with landmarks, names and index-pair lines;
    landmarks the quality gate flagged are drawn orange."""
    out = image.copy()
    h, w = out.shape[:2]
    scale = max(h, w) / 1000.0
    thick, radius = max(1, int(round(2 * scale))), max(2, int(round(5 * scale)))
    for i, j in lines:
        cv2.line(out, _pt(keypoints[i]), _pt(keypoints[j]), (255, 200, 0), thick, cv2.LINE_AA)
    for k, (p, name) in enumerate(zip(keypoints, names)):
        colour = (0, 165, 255) if flagged is not None and flagged[k] else (0, 0, 255)
        cv2.circle(out, _pt(p), radius, colour, -1, cv2.LINE_AA)
        cv2.putText(out, f'{k + 1} {name}', _pt(np.asarray(p) + [radius + 2, -radius]),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale + 0.2, (0, 255, 255), thick, cv2.LINE_AA)
    return out


def _pt(p):
    x, y = (float(v) for v in p[:2])
    return (int(round(x)) if np.isfinite(x) else 0), (int(round(y)) if np.isfinite(y) else 0)
