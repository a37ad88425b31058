"""Overlay PNG a clinician can read: the image with its quality status, landmarks and the
lines behind the measurements, next to a panel with the measurement table and a legend.

Rules (README "Inference"; tests in ``tests/test_apis/test_overlay_layout.py``):

- a banner above the image gives the status in colour (green ok, amber review, red
  rejected) and its reasons; a rejected image gets no measurement lines and no values;
- labels are short (number and abbreviation), placed by :func:`label_boxes` so that no two
  overlap and none leaves the image, with a leader line when a label sits away from its
  point; each label box is opaque, so it reads on white bone as on black air;
- a scale bar when the spacing is the image's own (file or ``--pixel-spacing``), not an
  assumed one;
- the panel: each measurement's value, unit, class, normal range and meaning, withheld
  measurements with the reason, the spacing and where it came from, the landmark legend.

OpenCV's Hershey font draws ASCII only; :func:`_ascii` maps the few other characters.
"""
import textwrap
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..clinical import MEASUREMENT_LINES
from ..metainfo.isbi2015 import KEYPOINTS as ISBI_KEYPOINTS

FONT = cv2.FONT_HERSHEY_SIMPLEX
# BGR. Banner background and text per status.
STATUS_STYLE = {'ok': ((45, 125, 30), (255, 255, 255)),
                'review': ((0, 165, 255), (0, 0, 0)),
                'rejected': ((30, 30, 200), (255, 255, 255))}
STATUS_TITLE = {'ok': 'STATUS: OK - passed the quality gate',
                'review': 'STATUS: REVIEW - check the reasons before using the values',
                'rejected': 'STATUS: REJECTED - no measurements; do not use this result'}
POINT, FLAGGED, LINE, REJECTED = (0, 235, 255), (0, 120, 255), (255, 255, 0), (80, 80, 255)
OUT_OF_RANGE, NOTE = (0, 200, 255), (185, 185, 185)
LABEL_BG, LABEL_FG, PANEL_BG, PANEL_FG = (20, 20, 20), (255, 255, 255), (38, 38, 38), \
    (235, 235, 235)
ISBI_ABBREVIATIONS = ('S', 'N', 'Or', 'Po', 'A', 'B', 'Pog', 'Me', 'Gn', 'Go', 'LIT', 'UIT',
                      'UL', 'LL', 'Sn', "Pog'", 'PNS', 'ANS', 'Ar')
PANEL_CHARS = 50        # characters per panel line


class LayoutError(RuntimeError):
    """No place left for a label (only for images far too small for their labels)."""


Box = Tuple[int, int, int, int]       # x0, y0, x1, y1 (x1, y1 exclusive)


def _overlaps(cands: np.ndarray, boxes: np.ndarray, gap: float) -> np.ndarray:
    """(M,) True where candidate box m overlaps any of ``boxes`` grown by ``gap``."""
    if not len(boxes):
        return np.zeros(len(cands), bool)
    c, b = cands[:, None, :], boxes[None, :, :]
    return ((c[..., 0] < b[..., 2] + gap) & (c[..., 2] > b[..., 0] - gap)
            & (c[..., 1] < b[..., 3] + gap) & (c[..., 3] > b[..., 1] - gap)).any(1)


def label_boxes(points, sizes, width: int, height: int, obstacles: Sequence[Box] = (),
                marker: float = 4.0, gap: float = 2.0) -> List[Box]:
    """Boxes for labels of ``sizes`` [(w, h)] near their ``points`` (K, 2), inside the
    ``width`` x ``height`` image, overlapping neither each other nor ``obstacles``.

    Greedy, crowded points first: each label takes, of the candidates on rings around its
    point (then, if none is free, anywhere on a grid over the image), the free one that
    covers the fewest landmark markers (radius ``marker``), then the nearest. Raises
    :class:`LayoutError` when a label does not fit anywhere.
    """
    pts = np.nan_to_num(np.asarray(points, float).reshape(-1, 2), nan=0.0, posinf=0.0,
                        neginf=0.0)
    pts = np.clip(pts, 0, [max(width - 1, 0), max(height - 1, 0)])
    sizes = np.asarray(sizes, float).reshape(-1, 2)
    placed = np.zeros((0, 4))
    fixed = np.asarray(obstacles, float).reshape(-1, 4)
    boxes: List[Optional[Box]] = [None] * len(pts)
    dist = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
    crowd = (dist < 3 * sizes[:, 1].max(initial=1)).sum(1)
    angles = np.radians(np.arange(0, 360, 22.5))
    for k in sorted(range(len(pts)), key=lambda i: (-crowd[i], i)):
        (bw, bh), (px, py) = sizes[k], pts[k]
        if bw > width or bh > height:
            raise LayoutError(f'a label of {bw:.0f}x{bh:.0f} px does not fit a {width}x'
                              f'{height} image')
        radii = marker + gap + bh * np.arange(0, 16) * 0.75
        r, a = np.meshgrid(radii, angles, indexing='ij')
        cx = px + np.cos(a) * (r + bw / 2)
        cy = py + np.sin(a) * (r + bh / 2)
        cands = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], -1).reshape(-1, 4)
        best = _choose(cands, pts, placed, fixed, width, height, marker, gap)
        if best is None:                     # the rings are full: anywhere in the image
            gx, gy = np.meshgrid(np.arange(0, width - bw + 1, max(1.0, bw / 4)),
                                 np.arange(0, height - bh + 1, max(1.0, bh / 2)))
            grid = np.stack([gx, gy, gx + bw, gy + bh], -1).reshape(-1, 4)
            best = _choose(grid, pts, placed, fixed, width, height, marker, gap, (px, py))
        if best is None:
            raise LayoutError(f'no free place for label {k + 1} in a {width}x{height} image')
        boxes[k] = best
        placed = np.vstack([placed, best])
    return [tuple(int(v) for v in b) for b in boxes]


def _choose(cands, pts, placed, fixed, width, height, marker, gap, anchor=None):
    """The best free candidate (rounded, shifted inside the image) or None."""
    # shift inside the image rather than drop: a point at the edge keeps near candidates
    shift_x = np.clip(-cands[:, 0], 0, None) - np.clip(cands[:, 2] - width, 0, None)
    shift_y = np.clip(-cands[:, 1], 0, None) - np.clip(cands[:, 3] - height, 0, None)
    c = np.round(cands + np.stack([shift_x, shift_y, shift_x, shift_y], -1))
    ok = (c[:, 0] >= 0) & (c[:, 1] >= 0) & (c[:, 2] <= width) & (c[:, 3] <= height)
    ok &= ~_overlaps(c, placed, gap) & ~_overlaps(c, fixed, gap)
    if not ok.any():
        return None
    c = c[ok]
    covered = ((pts[None, :, 0] > c[:, None, 0] - marker) & (pts[None, :, 0] < c[:, None, 2]
               + marker) & (pts[None, :, 1] > c[:, None, 1] - marker)
               & (pts[None, :, 1] < c[:, None, 3] + marker)).sum(1)
    if anchor is None:
        order = np.arange(len(c))          # rings come nearest first
    else:
        centre = (c[:, :2] + c[:, 2:]) / 2
        order = np.argsort(np.linalg.norm(centre - anchor, axis=1), kind='stable')
    pick = order[np.argmin(covered[order])] if len(order) else None
    return None if pick is None else c[pick]


def _ascii(text) -> str:
    text = str(text)
    for a, b in (('\u2013', '-'), ('\u2014', '-'), ('\u00b0', ' deg'), ('\u00d7', 'x'),
                 ('\u2264', '<='), ('\u2265', '>='), ('\u2212', '-')):
        text = text.replace(a, b)
    return text.encode('ascii', 'replace').decode()


def _text_size(text, scale, thick):
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thick)
    return tw, th, base


def _put(img, text, org, scale, colour, thick):
    cv2.putText(img, _ascii(text), (int(org[0]), int(org[1])), FONT, scale, colour, thick,
                cv2.LINE_AA)


def _line(img, p, q, colour, thick):
    """A line with a dark outline: visible on bone as on air."""
    p, q = _pt(p), _pt(q)
    cv2.line(img, p, q, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.line(img, p, q, colour, thick, cv2.LINE_AA)


def _pt(p):
    x, y = (float(v) for v in p[:2])
    return (int(round(x)) if np.isfinite(x) else 0), (int(round(y)) if np.isfinite(y) else 0)


def label_texts(names: Sequence[str]) -> List[str]:
    """Short labels: number and abbreviation for the ISBI landmarks, else the number (the
    panel's legend gives the full names)."""
    if list(names) == ISBI_KEYPOINTS:
        return [f'{k + 1} {a}' for k, a in enumerate(ISBI_ABBREVIATIONS)]
    return [str(k + 1) for k in range(len(names))]


def scale_bar(spacing_x: float, width: int, height: int, margin: int, thick: int):
    """(length in mm, bar length in px, box) of a bar about a fifth of the image wide at
    its bottom left, or None when even 1 mm does not fit."""
    for mm in (200, 100, 50, 20, 10, 5, 2, 1):
        px = mm / spacing_x
        if px <= width / 5:
            break
    else:
        return None
    if px < 8:
        return None
    x0, y1 = margin, height - margin
    return mm, int(round(px)), (x0, y1 - 4 * thick - margin, x0 + int(round(px)), y1)


def draw_overlay(image: np.ndarray, result: dict, keypoints=None) -> np.ndarray:
    """The overlay of one inference ``result`` (the JSON dict) over its uint8 BGR
    ``image``: a new, larger image (banner above, panel to the right)."""
    h, w = image.shape[:2]
    s = max(h, w) / 1000.0
    thick = max(1, int(round(1.5 * s)))
    radius = max(3, int(round(6 * s)))
    status = result.get('status', 'review')
    lms = result.get('landmarks') or []
    if keypoints is None:
        keypoints = [(lm['x_px'] if lm['x_px'] is not None else np.nan,
                      lm['y_px'] if lm['y_px'] is not None else np.nan) for lm in lms]
    kpts = np.asarray(keypoints, float).reshape(-1, 2)
    names = [lm['name'] for lm in lms]
    flagged = [bool(lm.get('flags')) for lm in lms]
    spacing = result.get('pixel_spacing_mm')
    own_spacing = spacing is not None and not result.get('pixel_spacing_assumed')

    img = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    measurements = result.get('measurements') or {}
    if status != 'rejected':                                     # lines of given values only
        pairs = sorted({p for name in measurements for p in MEASUREMENT_LINES.get(name, ())})
        for i, j in pairs:
            if i < len(kpts) and j < len(kpts):
                _line(img, kpts[i], kpts[j], LINE, thick)
    obstacles = []
    bar = scale_bar(spacing[0], w, h, radius * 3, thick) if own_spacing else None
    if bar:
        mm, px, box = bar
        x0, y0, x1, y1 = box
        label = f'{mm} mm'
        ls = 0.5 * s + 0.15
        tw, th, base = _text_size(label, ls, thick)
        obstacles.append((x0, y0 - th - base - 2 * thick, max(x1, x0 + tw), y1))
        cv2.rectangle(img, (x0 - 2, obstacles[0][1]), (obstacles[0][2] + 2, y1 + 2), LABEL_BG, -1)
        cv2.rectangle(img, (x0, y1 - 2 * thick), (x1, y1), (255, 255, 255), -1)
        _put(img, label, (x0, y0 - base), ls, LABEL_FG, thick)
    finite = np.isfinite(kpts).all(1)
    for k, p in enumerate(kpts):
        if not finite[k]:
            continue
        cv2.circle(img, _pt(p), radius + thick, (0, 0, 0), -1, cv2.LINE_AA)
        if status == 'rejected':              # hollow red: points the gate refused
            cv2.circle(img, _pt(p), radius, REJECTED, max(1, thick), cv2.LINE_AA)
        else:
            colour = FLAGGED if k < len(flagged) and flagged[k] else POINT
            cv2.circle(img, _pt(p), radius, colour, -1, cv2.LINE_AA)
    _draw_labels(img, kpts, names, flagged, s, thick, radius, obstacles)
    panel = _panel(result, names, s, thick, h)
    banner = _banner(result, w + panel.shape[1], s, thick)
    top = banner.shape[0]
    canvas = np.empty((top + max(h, panel.shape[0]), w + panel.shape[1], 3), np.uint8)
    canvas[:] = PANEL_BG
    canvas[:top] = banner
    canvas[top:top + h, :w] = img
    canvas[top:top + panel.shape[0], w:] = panel
    return canvas


def _draw_labels(img, kpts, names, flagged, s, thick, radius, obstacles):
    h, w = img.shape[:2]
    texts = label_texts(names)
    for ls in (0.5 * s + 0.15, 0.35 * s + 0.1, 0.25 * s + 0.1):    # smaller if crowded
        pad = max(2, int(round(3 * s)))
        sizes = []
        for t in texts:
            tw, th, base = _text_size(t, ls, thick)
            sizes.append((tw + 2 * pad, th + base + 2 * pad))
        try:
            boxes = label_boxes(kpts, sizes, w, h, obstacles, marker=radius + thick)
            break
        except LayoutError:
            continue
    else:
        return                                    # no room at all: the legend still lists them
    for k, (box, t) in enumerate(zip(boxes, texts)):
        x0, y0, x1, y1 = box
        if np.isfinite(kpts[k]).all():
            p = np.clip(kpts[k], 0, [w - 1, h - 1])
            near = (np.clip(p[0], x0, x1 - 1), np.clip(p[1], y0, y1 - 1))
            if np.hypot(near[0] - p[0], near[1] - p[1]) > radius + thick + 2:
                _line(img, p, near, LABEL_FG, max(1, thick // 2))
        colour = FLAGGED if k < len(flagged) and flagged[k] else LABEL_FG
        cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), LABEL_BG, -1)
        cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), colour, 1)
        tw, th, base = _text_size(t, ls, thick)
        _put(img, t, (x0 + (x1 - x0 - tw) // 2, y1 - base - (y1 - y0 - th - base) // 2), ls,
             colour, thick)


def _wrap(lines, width_px, scale, thick, margin):
    """(rows of (text, colour or None), row step px, block height px) of ``lines``
    wrapped to ``width_px``."""
    cw = _text_size('x' * 20, scale, thick)[0] / 20
    chars = max(10, int((width_px - 2 * margin) / cw))
    rows = [(part, colour) for text, colour in lines
            for part in textwrap.wrap(_ascii(text), chars, subsequent_indent='   ') or ['']]
    _, th, base = _text_size('Ag', scale, thick)
    step = int(round((th + base) * 1.35))
    return rows, step, 2 * margin + step * len(rows)


def _text_block(lines, width_px, scale, thick, bg, fg, margin):
    """Rows of (text, colour or None) wrapped to ``width_px``, on ``bg``."""
    rows, step, height = _wrap(lines, width_px, scale, thick, margin)
    block = np.empty((height, int(width_px), 3), np.uint8)
    block[:] = bg                                 # np.full with a colour tuple is slow
    th = _text_size('Ag', scale, thick)[1]
    for i, (text, colour) in enumerate(rows):
        _put(block, text, (margin, margin + step * i + th), scale, colour or fg, thick)
    return block


def _banner(result, width, s, thick):
    status = result.get('status', 'review')
    bg, fg = STATUS_STYLE.get(status, STATUS_STYLE['review'])
    lines = [(STATUS_TITLE.get(status, f'STATUS: {status}'), None)]
    lines += [(f'- {r}', None) for r in result.get('status_reasons') or []]
    return _text_block(lines, width, 0.55 * s + 0.2, thick, bg, fg, max(4, int(10 * s)))


def _fmt(v, digits=2):
    return 'n/a' if v is None else f'{v:.{digits}f}' if isinstance(v, float) else str(v)


def _panel(result, names, s, thick, height=None):
    """The measurement table, spacing, landmark legend and colour key; its font shrinks
    (to a floor) until it is no taller than ``height``, the image's."""
    lines = _panel_lines(result, names)
    margin = max(4, int(12 * s))
    scale = max(0.4, 0.7 * s)
    while True:
        width = PANEL_CHARS * _text_size('x' * 20, scale, thick)[0] / 20 + 2 * margin
        if height is None or scale <= 0.4 or \
                _wrap(lines, width, scale, thick, margin)[2] <= height:
            return _text_block(lines, width, scale, thick, PANEL_BG, PANEL_FG, margin)
        scale = max(0.4, scale * 0.92)


def _panel_lines(result, names):
    lines = []
    status = result.get('status')
    measurements = result.get('measurements') or {}
    if status == 'rejected':
        lines += [('Measurements: none - the image was rejected by the quality gate '
                   '(reasons above); its landmarks are shown for inspection only.',
                   REJECTED)]
    elif measurements:
        lines.append(('Measurements (ISBI 2015 definitions)', None))
        for name, m in measurements.items():
            low, high = m.get('normal_range') or (None, None)
            cls = m.get('class')
            colour = None if cls == 1 else OUT_OF_RANGE
            lines.append((f'{name:<5}{_fmt(m.get("value")):>8} {m.get("unit", ""):<5} class {cls}'
                          f'  normal {low:g} to {high:g}', colour))
            lines.append((f'      {m.get("meaning", "")}', colour))
        if 'FMA' in measurements:
            lines.append(('FMA here = S-N to Go-Gn (the challenge\'s FMA), not '
                          'Frankfort-mandibular.', NOTE))
        lines.append(('Amber: outside the normal range. Definitions: the JSON.', NOTE))
        if any(m.get('rests_on_assumed_spacing') for m in measurements.values()):
            lines.append(('mm values rest on an ASSUMED spacing.', OUT_OF_RANGE))
    elif result.get('measurements_error'):
        lines.append((result['measurements_error'], None))
    for name, why in (result.get('measurements_withheld') or {}).items():
        lines.append((f'{name} withheld: {why}', FLAGGED))
    spacing = result.get('pixel_spacing_mm')
    if spacing:
        assumed = ' - ASSUMED, not the image\'s own' if result.get('pixel_spacing_assumed') \
            else ''
        lines.append((f'Pixel spacing {spacing[0]:g} x {spacing[1]:g} mm '
                      f'({result.get("pixel_spacing_source")}){assumed}',
                      OUT_OF_RANGE if assumed else None))
    else:
        lines.append(('Pixel spacing unknown: pixels only, no scale bar', OUT_OF_RANGE))
    lines.append(('', None))
    lines.append(('Landmarks (hollow red: on a rejected image)' if status == 'rejected' else
                  'Landmarks (yellow; orange = flagged, see JSON):', None))
    texts = label_texts(names)
    flags = [lm.get('flags') for lm in result.get('landmarks') or []]
    for k, name in enumerate(names):
        text = f'{texts[k]:<8}{name.replace("_", " ")}'
        if k < len(flags) and flags[k]:
            text += f' [{", ".join(flags[k])}]'
        lines.append((text, FLAGGED if k < len(flags) and flags[k] else None))
    if measurements and status != 'rejected':
        lines.append(('Cyan lines: the lines behind the measurements given.', LINE))
    return lines
