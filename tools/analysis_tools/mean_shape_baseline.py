"""The trivial baseline a model must beat: predict the mean training shape.

The mean is taken in ROI-normalised coordinates (landmark position relative to the
image's bbox, i.e. the ROI prior), so it transfers across image sizes exactly as the
model's crop does. Prints MRE/SDR on the chosen split with the same statistics as
CephalometricMetric.

    python tools/analysis_tools/mean_shape_baseline.py data/synthetic --split test
"""
import argparse
import json
import os.path as osp

import numpy as np

from mmceph.evaluation.landmark_errors import radial_errors, summarise


def load_split(root, split):
    with open(osp.join(root, 'annotations', f'{split}.json')) as f:
        coco = json.load(f)
    images = {im['id']: im for im in coco['images']}
    kpts, boxes, spacing = [], [], []
    for ann in coco['annotations']:
        k = np.array(ann['keypoints'], float).reshape(-1, 3)
        kpts.append(k)
        boxes.append(ann['bbox'])
        spacing.append(images[ann['image_id']].get('pixel_spacing') or [1.0, 1.0])
    return np.stack(kpts), np.array(boxes, float), np.array(spacing, float)


def normalise(xy, boxes):
    return (xy - boxes[:, None, :2]) / boxes[:, None, 2:]


def mean_shape_errors(root, split='test', train_split='train'):
    train, train_boxes, _ = load_split(root, train_split)
    norm = normalise(train[..., :2], train_boxes)
    norm[train[..., 2] == 0] = np.nan               # missing landmarks do not vote
    mean = np.nanmean(norm, axis=0)                 # (K, 2)
    test, boxes, spacing = load_split(root, split)
    pred = boxes[:, None, :2] + mean[None] * boxes[:, None, 2:]
    return radial_errors(pred, test[..., :2], test[..., 2], spacing)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('root', help='converted dataset folder (with annotations/)')
    p.add_argument('--split', default='test', help='split to evaluate (default: %(default)s)')
    p.add_argument('--train-split', default='train', help='split the mean comes from')
    p.add_argument('--radii', type=float, nargs='+', default=[2.0, 2.5, 3.0, 4.0])
    args = p.parse_args(argv)
    s = summarise(mean_shape_errors(args.root, args.split, args.train_split), args.radii)['overall']
    print(f'mean-shape baseline on {args.split} ({s["n"]} landmarks): MRE {s["MRE"]:.3f} mm '
          f'(SD {s["SD"]:.3f}); '
          + ', '.join(f'SDR {r:g} mm {100 * s["SDR"][r]:.1f}%' for r in args.radii))
    return s


if __name__ == '__main__':
    main()
