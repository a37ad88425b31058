"""Fuzz helpers for the ISBI 2015 txt annotation reader: strategies, reference parser,
fixture tree."""
import math
import os
import os.path as osp
import re

import numpy as np
from fuzz_common import WEIRD_TEXT, coordinate, mutate_bytes, png_bytes
from hypothesis import strategies as st

# --------------------------------------------------------------------------- ISBI txt
ISBI_SIZE = (64, 80)               # width, height of the fixture images
ISBI_LINE_ENDINGS = ['\n', '\n', '\r\n', '\r']
ISBI_SEPARATORS = [',', ',', ', ', ' ,', ' , ', ' ', '\t', ',\t', '  ']
BLANKS = ['', ' ', '\t', '  \t']
_NUM = r'[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?'
_POINT_RE = re.compile(rf'[ \t]*({_NUM})(?:[ \t]*,[ \t]*|[ \t]+)({_NUM})[ \t]*', re.ASCII)
_CLASS_RE = re.compile(r'[ \t]*([+-]?\d{1,9})[ \t]*', re.ASCII)


@st.composite
def isbi_valid(draw):
    """``(lines, points, classes)``: a well-formed annotation, written in any of the ways
    the reader accepts (separators, whitespace, number styles)."""
    w, h = ISBI_SIZE
    lines, points = [], []
    for _ in range(19):
        x, xt = draw(coordinate(w))
        y, yt = draw(coordinate(h))
        sep = draw(st.sampled_from(ISBI_SEPARATORS))
        lead, trail = draw(st.sampled_from(BLANKS)), draw(st.sampled_from(BLANKS))
        lines.append(f'{lead}{xt}{sep}{yt}{trail}')
        points.append((x, y))
    classes = draw(st.lists(st.integers(1, 4), min_size=8, max_size=8))
    for c in classes:
        lines.append(draw(st.sampled_from(BLANKS)) + draw(st.sampled_from([str(c), f'+{c}']))
                     + draw(st.sampled_from(BLANKS)))
    return lines, points, classes


def join_lines(draw, lines):
    """Join with per-line endings, optional trailing blank lines and BOM; UTF-8 bytes."""
    text = ''
    for i, line in enumerate(lines):
        text += line
        if i < len(lines) - 1 or draw(st.booleans()):
            text += draw(st.sampled_from(ISBI_LINE_ENDINGS))
    for _ in range(draw(st.integers(0, 2))):
        text += draw(st.sampled_from(BLANKS)) + draw(st.sampled_from(ISBI_LINE_ENDINGS))
    bom = '\ufeff' if draw(st.integers(0, 9)) == 0 else ''
    return (bom + text).encode('utf-8')


@st.composite
def isbi_txt(draw):
    """``(bytes, expected)``: ``expected`` is ``(points, classes)`` for an unmutated valid
    file and ``None`` for a possibly malformed one (the reference parser decides)."""
    lines, points, classes = draw(isbi_valid())
    n_mutations = draw(st.integers(0, 3))
    if n_mutations == 0:
        return join_lines(draw, lines), (points, classes)
    for _ in range(n_mutations):
        kind = draw(st.sampled_from(['delete', 'insert', 'duplicate', 'token', 'separator',
                                     'class', 'append', 'outside', 'whitespace', 'bytes']))
        i = draw(st.integers(0, len(lines) - 1)) if lines else 0
        if kind == 'delete' and lines:
            del lines[i]
        elif kind == 'insert':
            lines.insert(i, draw(st.one_of(st.sampled_from(BLANKS), st.text(max_size=10),
                                           st.just('12,34'))))
        elif kind == 'duplicate' and lines:
            lines.insert(i, lines[i])
        elif kind == 'token' and lines:
            parts = re.split(r'([,\s]+)', lines[i])
            j = draw(st.integers(0, len(parts) - 1))
            parts[j] = draw(WEIRD_TEXT)
            lines[i] = ''.join(parts)
        elif kind == 'separator' and lines:
            lines[i] = re.sub(r'[,\s]+', draw(st.sampled_from([';', ',,', ' ,, ', '', '/', '\x0b',
                                                                 '\u3000', '\u2028'])),
                              lines[i].strip(), count=1)
        elif kind == 'class':
            k = draw(st.integers(19, 26))
            if k < len(lines):
                lines[k] = draw(st.one_of(WEIRD_TEXT, st.sampled_from(['1.5', '2.0', '1 2',
                                                                        '1,2', '99999999999'])))
        elif kind == 'append':
            lines.append(draw(st.one_of(st.text(min_size=1, max_size=10), st.just('1'))))
        elif kind == 'outside' and lines:
            k = draw(st.integers(0, min(18, len(lines) - 1)))
            x = draw(st.sampled_from(['63.5', '63.6', '64', '-0.5', '-0.6', '-1', '1e6', '100']))
            lines[k] = draw(st.sampled_from([f'{x},10', f'10,{x}']))
        elif kind == 'whitespace' and lines:
            lines[i] = draw(st.sampled_from(['\t', '  ', '\x0c', '\u00a0', '\u200b'])) + lines[i]
    data = join_lines(draw, lines)
    if draw(st.integers(0, 3)) == 0:
        data = mutate_bytes(draw, data)
    return data, None


def reference_isbi(data, width=ISBI_SIZE[0], height=ISBI_SIZE[1]):
    """The documented ISBI txt format, read independently of the converter.

    UTF-8 (optional BOM), any line ending; after trailing whitespace is dropped exactly 19
    lines "x,y" / "x y" (ASCII decimal numbers, finite, inside the image: -0.5 <= x <=
    w - 0.5) then 8 integer class lines. Returns ``(points, classes)`` or ``None``.
    """
    try:
        text = data.decode('utf-8-sig')
    except UnicodeDecodeError:
        return None
    text = text.replace('\r\n', '\n').replace('\r', '\n')
    lines = text.rstrip().split('\n')
    if len(lines) != 27:
        return None
    points = []
    for line in lines[:19]:
        m = _POINT_RE.fullmatch(line)
        if not m:
            return None
        x, y = float(m.group(1)), float(m.group(2))
        if not (math.isfinite(x) and math.isfinite(y)):
            return None
        if not (-0.5 <= x <= width - 0.5 and -0.5 <= y <= height - 0.5):
            return None
        points.append((x, y))
    classes = []
    for line in lines[19:]:
        m = _CLASS_RE.fullmatch(line)
        if not m:
            return None
        classes.append(int(m.group(1)))
    return points, classes


def make_isbi_tree(root):
    """001/002 in TrainingData, 003 in Test1Data (64x80 PNGs) with valid senior txts."""
    w, h = ISBI_SIZE
    rng = np.random.default_rng(1)
    for folder, stems in (('TrainingData', ['001', '002']), ('Test1Data', ['003'])):
        os.makedirs(osp.join(root, 'RawImage', folder), exist_ok=True)
        for stem in stems:
            with open(osp.join(root, 'RawImage', folder, f'{stem}.png'), 'wb') as f:
                f.write(png_bytes(w, h, seed=int(stem)))
    ann = osp.join(root, 'AnnotationsByMD', '400_senior')
    os.makedirs(ann, exist_ok=True)
    for stem in ('001', '002', '003'):
        pts = rng.integers(1, min(w, h) - 1, (19, 2))
        with open(osp.join(ann, f'{stem}.txt'), 'w') as f:
            f.write('\n'.join([f'{x},{y}' for x, y in pts] + ['1'] * 8) + '\n')
