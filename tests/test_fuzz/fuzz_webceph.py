"""Fuzz helpers for the WebCeph2k CSV reader: strategies and fixture tree."""
import csv
import io
import os
import os.path as osp

import numpy as np
from fuzz_common import MUTATIONS, WEIRD_TEXT, coordinate, mutate_bytes, png_bytes
from hypothesis import strategies as st

# --------------------------------------------------------------------------- WebCeph2k CSV
WEBCEPH_IMAGES = {'a.png': (64, 80), 'sub/b.png': (80, 64)}


def webceph_names():
    from data_converters.landmarks import load
    return load('webceph2k').CSV_NAMES


@st.composite
def webceph_valid(draw, names):
    """``(header, rows, expected)``: a well-formed CSV as a header and rows of cells;
    ``expected`` lists ``(file_name, spacing, points with NaN = missing)`` per data row."""
    header = ['img_path', 'pixels'] + [f'{n}_{c}' for n in names for c in 'vxy']
    extra = draw(st.lists(st.sampled_from(['notes', 'Unnamed: 0', 'id', 'age']), unique=True,
                          max_size=2))
    rows, expected = [], []
    for _ in range(draw(st.integers(1, 3))):
        rel = draw(st.sampled_from(sorted(WEBCEPH_IMAGES)))
        w, h = WEBCEPH_IMAGES[rel]
        spacing = draw(st.sampled_from([0.1, 0.125, 0.08]))
        cells = {'img_path': draw(st.sampled_from([rel, rel.replace('/', '\\'),
                                                   rel.replace('.png', '.jpg')
                                                   if rel == 'a.png' else rel])),
                 'pixels': draw(st.sampled_from([repr(spacing), f' {spacing} ', f'{spacing:.3e}']))}
        points = np.full((len(names), 2), np.nan)
        for k, n in enumerate(names):
            how = draw(st.sampled_from(['visible'] * 6 + ['v0', 'v0_empty', 'y0']))
            if not rows and k == 0:
                how = 'visible'             # the ROI prior needs a labelled training point
            x, xt = draw(coordinate(w))
            y, yt = draw(coordinate(h))
            if how == 'visible' and y <= 0:
                y, yt = 1.0, '1'
            if how == 'visible':
                cells.update({f'{n}_v': draw(st.sampled_from(['1', '1.0', ' 1'])),
                              f'{n}_x': xt, f'{n}_y': yt})
                points[k] = x, y
            elif how == 'v0':
                cells.update({f'{n}_v': '0', f'{n}_x': xt, f'{n}_y': yt})
            elif how == 'v0_empty':
                cells.update({f'{n}_v': draw(st.sampled_from(['0', '0.0'])), f'{n}_x': '',
                              f'{n}_y': ''})
            else:
                cells.update({f'{n}_v': '1', f'{n}_x': xt,
                              f'{n}_y': draw(st.sampled_from(['0', '-1', '-12.5', '0.0']))})
        for e in extra:
            cells[e] = draw(st.sampled_from(['', 'a, b', 'x"y', 'line\nbreak', '42']))
        rows.append(cells)
        expected.append((rel, spacing, points))
    columns = header + extra
    if draw(st.booleans()):
        columns = draw(st.permutations(columns))
    return columns, rows, expected


def header_spelling(draw, name):
    return draw(st.sampled_from([name, name.upper(), name.lower(), f' {name}', f'{name} ']))


def write_csv(draw, columns, rows, spell=True):
    """CSV text for ``rows`` (dicts) in ``columns`` order, with random but valid quoting,
    line endings, blank lines and BOM."""
    buf = io.StringIO()
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    ending = draw(st.sampled_from(['\r\n', '\n']))
    writer = csv.writer(buf, quoting=quoting, lineterminator=ending)
    writer.writerow([header_spelling(draw, c) if spell else c for c in columns])
    for cells in rows:
        if draw(st.integers(0, 6)) == 0:
            buf.write(ending)                          # a blank line between rows
        writer.writerow([cells.get(c, '') for c in columns])
    text = buf.getvalue()
    if draw(st.integers(0, 4)) == 0:
        text = '\ufeff' + text
    return text.encode('utf-8')


@st.composite
def webceph_csv(draw, names):
    """``(bytes, expected)``: expected as in :func:`webceph_valid` for an unmutated file,
    ``None`` for a mutated (possibly malformed) one."""
    columns, rows, expected = draw(webceph_valid(names))
    MUTATIONS.clear()
    n_mutations = draw(st.integers(0, 3))
    if n_mutations == 0:
        return write_csv(draw, columns, rows), expected
    columns = list(columns)
    raw_rows = None                                 # set when rows become lists of cells
    for _ in range(n_mutations):
        kind = draw(st.sampled_from(['drop_column', 'rename_column', 'duplicate_column',
                                     'empty_cell', 'weird_cell', 'spacing', 'visibility',
                                     'img_path', 'short_row', 'long_row', 'all_missing',
                                     'no_rows', 'quote', 'huge_field', 'bytes']))
        MUTATIONS.append(kind)
        cell_col = draw(st.sampled_from(columns)) if columns else None
        r = draw(st.integers(0, len(rows) - 1)) if rows else None
        if kind == 'drop_column' and columns:
            columns.remove(cell_col)
        elif kind == 'rename_column' and columns:
            columns[columns.index(cell_col)] = draw(st.sampled_from(
                [cell_col + 's', cell_col.replace('_', ' '), cell_col[:-1], '']))
        elif kind == 'duplicate_column' and columns:
            columns.append(cell_col)
        elif kind in ('empty_cell', 'weird_cell') and rows:
            rows[r][cell_col] = '' if kind == 'empty_cell' else draw(WEIRD_TEXT)
        elif kind == 'spacing' and rows:
            rows[r]['pixels'] = draw(st.sampled_from(['0', '-0.1', '', 'abc', 'nan', 'inf',
                                                      '1e-320', '1e300', '0.1mm', '0,1']))
        elif kind == 'visibility' and rows:
            n = draw(st.sampled_from(names))
            rows[r][f'{n}_v'] = draw(st.sampled_from(['2', '-1', '0.5', '3', 'yes', '', 'nan',
                                                      '1e-9', '-0']))
        elif kind == 'img_path' and rows:
            rows[r]['img_path'] = draw(st.sampled_from(
                ['missing.png', '', '/etc/hostname', '../a.png', 'sub', 'a', 'A.PNG', 'a.png\x00',
                 'sub/../a.png', './a.png', 'x' * 300 + '.png', 'a.txt', ' a.png ']))
        elif kind == 'all_missing' and rows:
            for n in names:
                rows[r][f'{n}_v'] = '0'
        elif kind == 'no_rows':
            rows = []
        elif kind == 'quote' and rows:
            rows[r][cell_col] = draw(st.sampled_from(['"', 'a"b', '"unterminated', '\r', '\n']))
        elif kind in ('short_row', 'long_row', 'huge_field') and rows:
            raw_rows = raw_rows or {}
            raw_rows[r] = kind
        elif kind == 'bytes':
            pass
    text = write_csv(draw, columns, rows)
    if raw_rows:
        lines = text.decode('utf-8').split('\n')
        for r, kind in raw_rows.items():
            k = min(r + 1, len(lines) - 1)
            if kind == 'short_row':
                lines[k] = lines[k].rsplit(',', draw(st.integers(1, 5)))[0]
            elif kind == 'long_row':
                lines[k] = lines[k].rstrip('\r') + ',extra,' + '\r' * lines[k].endswith('\r')
            else:
                lines[k] = 'x' * 140000 + ',' + lines[k]
        text = '\n'.join(lines).encode('utf-8')
    if draw(st.integers(0, 3)) == 0 or kind == 'bytes':
        text = mutate_bytes(draw, text)
        MUTATIONS.append('bytes')
    return text, None


def make_webceph_tree(root):
    os.makedirs(osp.join(root, 'img', 'sub'))
    for i, (rel, (w, h)) in enumerate(sorted(WEBCEPH_IMAGES.items())):
        with open(osp.join(root, 'img', rel), 'wb') as f:
            f.write(png_bytes(w, h, seed=10 + i))
