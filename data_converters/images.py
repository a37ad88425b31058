"""Image-file helpers shared by the converters: find an image whatever its extension
(ISBI is released as BMP and mirrored as JPEG/PNG) and read its size from the header,
refusing unreadable or truncated files without decoding a whole radiograph; report
byte-identical images that sit in more than one split (the same radiograph trained on
and tested)."""
import os
import os.path as osp
import sys
from collections import defaultdict

from PIL import Image

from mmceph.formats.images import RASTER_EXTENSIONS as IMAGE_EXTENSIONS  # converters: no DICOM

from .errors import ConversionError
from .writer.dataset import drop_duplicates, duplicate_groups


def list_images(folder):
    """Map stem -> file name for the image files in ``folder`` (hidden files and other
    extensions are ignored). Two images with one stem (``001.bmp`` and ``001.jpg``) are
    an error: picking one would be a silent choice."""
    found = {}
    for name in sorted(os.listdir(folder)):
        stem, ext = osp.splitext(name)
        if name.startswith('.') or ext.lower() not in IMAGE_EXTENSIONS:
            continue
        if stem in found:
            raise ConversionError(osp.join(folder, name),
                                  f'two images with the stem {stem!r}: {found[stem]} and {name}')
        found[stem] = name
    return found


def find_image(path):
    """``path`` if it exists, else the one image with the same stem and another image
    extension in the same folder (a mirror that re-encoded the files)."""
    if osp.isfile(path):
        return path
    folder, stem = osp.dirname(path), osp.splitext(osp.basename(path))[0]
    if not osp.isdir(folder):
        raise ConversionError(path, f'image not found (no folder {folder})')
    hits = [n for n in sorted(os.listdir(folder))
            if osp.splitext(n)[0] == stem and osp.splitext(n)[1].lower() in IMAGE_EXTENSIONS]
    if len(hits) != 1:
        raise ConversionError(path, 'image not found' + (
            f'; several with its stem: {", ".join(hits)}' if hits else
            ' (nor any image with the same stem)'))
    return osp.join(folder, hits[0])


def image_size(path):
    """Return ``(width, height)`` of a readable, complete image.

    The size comes from the header. Completeness is checked cheaply: a JPEG must end
    with its end-of-image marker (the scan data cannot contain it, so a truncated file
    lacks it), a PNG's chunks are CRC-checked by ``verify()``, other formats (raw BMP,
    TIFF) are decoded, which for uncompressed data is little more than reading it.
    """
    try:
        with Image.open(path) as img:
            size = img.size
            if img.format == 'JPEG':
                with open(path, 'rb') as f:
                    f.seek(max(0, osp.getsize(path) - 4096))
                    if b'\xff\xd9' not in f.read():
                        raise OSError('truncated JPEG (no end-of-image marker)')
            elif img.format == 'PNG':
                img.verify()
            else:
                img.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ConversionError(path, f'unreadable or truncated image: {err}') from None
    if min(size) < 1:
        raise ConversionError(path, f'empty image ({size[0]}x{size[1]})')
    return size


def repeated_rows(splits):
    """Images listed more than once within one split (the same img_path on two CSV rows):
    ``[(split, [records])]``, in first-seen order."""
    found = []
    for split, records in splits.items():
        by_name = defaultdict(list)
        for rec in records:
            by_name[rec.file_name].append(rec)
        found += [(split, group) for group in by_name.values() if len(group) > 1]
    return found


def describe_rows(group):
    """'a.csv: rows 3, 7' (rows grouped by input file) for one repeated image."""
    by_file = defaultdict(list)
    for rec in group:
        by_file[rec.origin or '?'].append(rec.row)
    return '; '.join(f'{f}: rows ' + ', '.join(str(r) for r in rows) if rows[0] is not None
                     else f'{f} ({len(rows)} times)' for f, rows in by_file.items())


def check_repeated_rows(splits, dedupe):
    """An image listed twice in one split weighs double in training and scoring. Report
    each (one line on stderr naming the file and its rows); --dedupe keeps the first row.
    Not an error: two rows of one image are a fact of some releases, and which row is
    right is the user's call."""
    found = repeated_rows(splits)
    for split, group in found:
        print(f'warning: {describe_rows(group)}: image {group[0].file_name} listed '
              f'{len(group)} times in the {split} split', file=sys.stderr)
    if not found:
        return splits
    if not dedupe:
        print('  (use --dedupe to keep only the first row)', file=sys.stderr)
        return splits
    drop = {id(r) for _, group in found for r in group[1:]}
    print(f'--dedupe: keeping the first row of {len(found)} repeated images', file=sys.stderr)
    return {s: [r for r in recs if id(r) not in drop] for s, recs in splits.items()}


def warn_duplicates(splits, image_root, dedupe):
    """Report (and with --dedupe thin out) images listed twice within a split; warn about
    byte-identical images in several splits and drop later copies if asked."""
    splits = check_repeated_rows(splits, dedupe)
    groups = duplicate_groups(splits, image_root)
    for group in groups:
        print('warning: byte-identical images in more than one split: '
              + ', '.join(f'{f} ({s})' for s, f in group), file=sys.stderr)
    if groups and dedupe:
        print(f'--dedupe: keeping the first copy of {len(groups)} duplicated images',
              file=sys.stderr)
        return drop_duplicates(splits, groups)
    if groups:
        print('  (use --dedupe to keep only the first copy)', file=sys.stderr)
    return splits


def add_dedupe_arg(parser):
    parser.add_argument('--dedupe', action='store_true',
                        help='byte-identical images found in several splits are always reported '
                             '(on stderr); with --dedupe only the first copy is kept, in split '
                             'order (train first, then val, then test). An image listed twice '
                             'within one split is reported (one line naming the file and rows); '
                             'with --dedupe only its first row is kept')
