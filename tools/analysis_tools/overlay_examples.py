"""Overlays for the README: each image as given and a mirrored copy (which the quality
gate rejects), rendered by the same ``draw_overlay`` as ``tools/infer.py``.

    # with a model (the README screenshots)
    python tools/analysis_tools/overlay_examples.py CONFIG CKPT IMG [IMG ...] \
        --out-dir docs/images --pixel-spacing 0.1
    # without a model: the layout on an annotation (ISBI txt), to check the drawing
    python tools/analysis_tools/overlay_examples.py --ground-truth ANNOTATION_DIR IMG ...

CONFIG may be an exported model folder (then no CKPT). Writes OUT/NAME.overlay.png and
OUT/NAME.mirrored.overlay.png (and their JSON), scaled to at most --max-side pixels so
they stay small enough for a repository.
"""
import argparse
import json
import os
import os.path as osp
import tempfile

import cv2
import numpy as np


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('paths', nargs='+', help='[CONFIG [CKPT]] IMG [IMG ...]')
    p.add_argument('--ground-truth', metavar='DIR', help='render the ISBI annotation '
                   'DIR/NAME.txt instead of a prediction (no model needed)')
    p.add_argument('--out-dir', default='docs/images')
    p.add_argument('--pixel-spacing', type=float, nargs='+', metavar='MM')
    p.add_argument('--max-side', type=int, default=1600)
    p.add_argument('--no-mirrored', action='store_true')
    return p.parse_args(argv)


def ground_truth_result(image_path, annotation_dir, spacing, mirrored):
    """A result dict as inference writes it, from the annotation (status as the gate
    would give: a mirrored film is rejected)."""
    from mmceph.metainfo.isbi2015 import KEYPOINTS
    from mmceph.predictor.base import coordinate_system, describe_landmarks
    stem = osp.splitext(osp.basename(image_path))[0]
    with open(osp.join(annotation_dir, f'{stem}.txt')) as f:
        kpts = np.array([[float(v) for v in line.split(',')[:2]]
                         for line in f.read().splitlines()[:19]])
    h, w = cv2.imread(image_path, cv2.IMREAD_GRAYSCALE).shape
    if mirrored:
        kpts[:, 0] = w - 1 - kpts[:, 0]
    status = 'rejected' if mirrored else 'ok'
    reasons = ['the image looks mirrored (layout example from the annotation, not a '
               'prediction)'] if mirrored else []
    result = dict(image=image_path, width=w, height=h, status=status, status_reasons=reasons,
                  coordinate_system=coordinate_system('pixels of the stored image'),
                  pixel_spacing_mm=list(spacing), pixel_spacing_source='command line',
                  pixel_spacing_assumed=False)
    result.update(describe_landmarks(KEYPOINTS, kpts, np.ones(19), spacing,
                                     clinical=not mirrored))
    return result, kpts


def main(argv=None):
    args = parse_args(argv)
    from mmceph.apis.overlay import draw_overlay
    spacing = tuple(args.pixel_spacing * (2 // len(args.pixel_spacing))) \
        if args.pixel_spacing else None
    predictor = None
    images = args.paths
    if not args.ground_truth:
        if osp.isdir(args.paths[0]):
            from mmceph.runtime import OnnxLandmarkPredictor
            predictor, images = OnnxLandmarkPredictor(args.paths[0]), args.paths[1:]
        else:
            from mmceph.apis import LandmarkPredictor
            predictor = LandmarkPredictor(args.paths[0], args.paths[1])
            images = args.paths[2:]
    os.makedirs(args.out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for path in images:
            stem = osp.basename(path)
            for mirrored in (False, True)[:1 if args.no_mirrored else 2]:
                name = f'{stem}.mirrored' if mirrored else stem
                if predictor is None:
                    result, kpts = ground_truth_result(path, args.ground_truth,
                                                       spacing or (0.1, 0.1), mirrored)
                    image = cv2.imread(path)
                    image = image[:, ::-1].copy() if mirrored else image
                else:
                    src = path
                    if mirrored:
                        src = osp.join(tmp, f'{stem}.mirrored.png')
                        cv2.imwrite(src, cv2.imread(path, cv2.IMREAD_UNCHANGED)[:, ::-1])
                    result, image, kpts = predictor.predict(src, spacing)
                overlay = draw_overlay(image, result, kpts if len(kpts) else None)
                f = args.max_side / max(overlay.shape[:2])
                if f < 1:
                    overlay = cv2.resize(overlay, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
                cv2.imwrite(osp.join(args.out_dir, f'{name}.overlay.png'), overlay)
                with open(osp.join(args.out_dir, f'{name}.landmarks.json'), 'w') as fj:
                    json.dump(result, fj, indent=1, allow_nan=False)
                print(f'{name}: {result["status"]} -> {args.out_dir}/{name}.overlay.png')


if __name__ == '__main__':
    main()
