"""Does a landmark's confidence mean something? Measure it, and test the quality gate.

Part 1 (``--dump``): from a metric dump of a labelled test set (``tools/test.py CONFIG
CKPT --dump PREFIX``), the radial error of landmarks grouped by confidence: the least
confident 10 % against the rest, error by confidence band, and what each candidate
threshold would flag (how many landmarks, their mean error, and how many of the
landmarks beyond 4 mm it catches).

Part 2 (``--images``): the gate on images a model cannot judge, made from each given
radiograph: the radiograph itself, mirrored, upside down, inverted, blank, uniform noise,
and a photograph of a person (matplotlib's sample portrait) -- median confidence and the
status ``LandmarkPredictor`` gives each.

Example (ISBI Test1, senior reference):
    python tools/test.py CONFIG CKPT --dump work_dirs/x/test1
    python tools/analysis_tools/confidence_vs_error.py --dump work_dirs/x/test1.predictions.json \\
        --config CONFIG --checkpoint CKPT --images data/isbi2015/raw/RawImage/Test1Data/15[1-5].jpg
"""
import argparse
import os.path as osp
import sys
import tempfile

import numpy as np

from mmceph.formats.predictions import error_matrix, load_predictions


def confidence_table(dump):
    doc = load_predictions(dump)
    errors = error_matrix(doc)
    scores = np.clip(np.array([img['scores'] for img in doc['images']], float), 0.0, 1.0)
    labelled = ~np.isnan(errors)
    s, e = scores[labelled], errors[labelled]
    unit = doc.get('unit', 'mm')
    cut = np.quantile(s, 0.1)
    low = s <= cut
    print(f'{len(s)} landmarks of {len(doc["images"])} images; errors in {unit}; '
          f'reference: {doc.get("reference", "as in the annotation file")}')
    print(f'Spearman rank correlation confidence vs error: {_spearman(s, e):+.3f}')
    print(f'least confident 10 % (confidence <= {cut:.3f}): mean error {e[low].mean():.3f}, '
          f'the rest {e[~low].mean():.3f} ({e[low].mean() / e[~low].mean():.2f}x)')
    print('\n| confidence | landmarks | mean error | median error | > 4 mm |')
    print('|---|---|---|---|---|')
    edges = [0, 0.2, 0.4, 0.6, 0.8, 1.0001]
    for a, b in zip(edges[:-1], edges[1:]):
        m = (s >= a) & (s < b)
        if m.any():
            print(f'| {a:.1f}-{min(b, 1):.1f} | {m.sum()} | {e[m].mean():.3f} | '
                  f'{np.median(e[m]):.3f} | {100 * (e[m] > 4).mean():.1f} % |')
    print('\n| flag below | flagged | their mean error | unflagged mean error | '
          'of errors > 4 mm caught |')
    print('|---|---|---|---|---|')
    big = e > 4
    for t in (0.2, 0.3, 0.4, 0.45, 0.5, 0.6, 0.7):
        m = s < t
        low = e[m].mean() if m.any() else float('nan')
        print(f'| {t:.2f} | {100 * m.mean():.1f} % | {low:.3f} | '
              f'{e[~m].mean():.3f} | {100 * (m & big).sum() / max(big.sum(), 1):.1f} % |')
    per_image = [np.median(np.clip(img['scores'], 0, 1)) for img in doc['images']]
    print(f'\nmedian landmark confidence per image: min {np.min(per_image):.3f}, '
          f'5th percentile {np.percentile(per_image, 5):.3f}, median {np.median(per_image):.3f}')
    from mmceph.predictor.quality import IMAGE_CONFIDENCE, LOW_CONFIDENCE
    m = s < LOW_CONFIDENCE
    print(f'chosen thresholds (mmceph/predictor/quality.py): a landmark is flagged below '
          f'{LOW_CONFIDENCE} ({m.sum()} of {len(s)} here, mean error '
          f'{e[m].mean() if m.any() else float("nan"):.3f} against {e[~m].mean():.3f}); '
          'an image is '
          f'rejected when its median is below {IMAGE_CONFIDENCE} '
          f'({sum(v < IMAGE_CONFIDENCE for v in per_image)} of {len(per_image)} here)')


def _spearman(a, b):
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def variants(image):
    """Images a cephalometric model cannot judge, made from one radiograph (uint8 BGR)."""
    import cv2
    import matplotlib.cbook as cbook
    rng = np.random.default_rng(0)
    h, w = image.shape[:2]
    portrait = cv2.imread(str(cbook.get_sample_data('grace_hopper.jpg', asfileobj=False)))
    return {
        'radiograph': image, 'mirrored': image[:, ::-1], 'upside down': image[::-1, ::-1],
        'inverted': 255 - image, 'blank': np.full_like(image, 128),
        'noise': rng.integers(0, 256, image.shape, dtype=np.uint8),
        'portrait photo': cv2.resize(portrait, (w, h)),
    }


def gate_table(config, checkpoint, images):
    import cv2

    from mmceph.apis import LandmarkPredictor
    predictor = LandmarkPredictor(config, checkpoint)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in images:
            for name, img in variants(cv2.imread(path)).items():
                out = osp.join(tmp, 'v.png')
                cv2.imwrite(out, np.ascontiguousarray(img))
                result, _, _ = predictor.predict(out)
                conf = [lm['confidence'] for lm in result['landmarks']] or [0.0]
                rows.setdefault(name, []).append((float(np.median(conf)), result['status']))
    ok = [v[0] for v in rows['radiograph']]
    worst = max(v[0] for name, vals in rows.items() if name != 'radiograph' for v in vals)
    print(f'\nquality gate on {len(images)} radiograph(s) and what was made of them:')
    print('| image | median landmark confidence: mean (min-max) over images | status |')
    print('|---|---|---|')
    for name, vals in rows.items():
        statuses = ', '.join(f'{s} {sum(v[1] == s for v in vals)}' for s in
                             ('ok', 'review', 'rejected') if any(v[1] == s for v in vals))
        c = [v[0] for v in vals]
        print(f'| {name} | {np.mean(c):.3f} ({min(c):.3f}-{max(c):.3f}) | {statuses} |')
    print(f'lowest radiograph {min(ok):.3f}, highest of the rest {worst:.3f}')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--dump', help='PREFIX.predictions.json of tools/test.py --dump')
    p.add_argument('--config')
    p.add_argument('--checkpoint')
    p.add_argument('--images', nargs='+', default=[], help='radiographs for part 2')
    args = p.parse_args(argv)
    if args.dump:
        confidence_table(args.dump)
    if args.images:
        if not (args.config and args.checkpoint):
            p.error('--images needs --config and --checkpoint')
        gate_table(args.config, args.checkpoint, args.images)
    return 0


if __name__ == '__main__':
    sys.exit(main())
