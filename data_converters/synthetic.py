"""Deterministic synthetic lateral cephalograms, so the demo and the tests run anywhere.

Each image is drawn procedurally: a cranium, the sella turcica, orbit and ear rod, maxilla,
mandible and incisors as bright "bone" over a darker soft-tissue profile, then blurred and
given X-ray-like grain. The 19 landmarks (ISBI names and order) sit on drawn features (the
sella's centre, polygon corners, incisor tips...), so a model can learn them. Anatomy varies
between images through a global pose (scale, rotation, shift), maxillary and mandibular
protrusion and vertical facial height modes, and small per-landmark jitter.
"""
import argparse
import os
import os.path as osp
import shutil
import tempfile

import cv2
import numpy as np
from tqdm import tqdm

from mmceph.formats.spacing import SPACING_RANGE_MM, check_spacing_mm

from .landmarks import names_and_skeleton
from .writer.coco import ImageRecord
from .writer.dataset import add_output_args, write_dataset

# Mean ISBI 2015 shape (senior annotations, 300 images) in normalised image coordinates.
MEAN_SHAPE = np.array([
    [0.418, 0.435], [0.719, 0.406], [0.657, 0.512], [0.312, 0.510], [0.720, 0.640],
    [0.704, 0.769], [0.696, 0.830], [0.667, 0.854], [0.687, 0.846], [0.380, 0.725],
    [0.735, 0.709], [0.744, 0.712], [0.806, 0.678], [0.794, 0.755], [0.775, 0.626],
    [0.738, 0.857], [0.501, 0.597], [0.723, 0.604], [0.347, 0.552]])
MANDIBLE = [5, 6, 7, 8, 10, 13, 15]         # B, Pog, Me, Gn, lower incisor, lower lip, soft Pog
MAXILLA = [4, 11, 12, 14, 17]               # A, upper incisor, upper lip, subnasale, ANS
LOWER_FACE = [4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17]
SPLITS = {'train': 0.6, 'val': 0.2, 'test': 0.2}


def sample_shape(rng, width, height):
    """Landmarks (19, 2) in pixels, with anatomical variation around the mean shape."""
    p = MEAN_SHAPE.copy()
    p[MANDIBLE, 0] += rng.normal(0, 0.025)          # mandibular pro/retrusion
    p[MAXILLA, 0] += rng.normal(0, 0.015)           # maxillary pro/retrusion
    p[LOWER_FACE, 1] += rng.normal(0, 0.02) * (p[LOWER_FACE, 1] - 0.5) / 0.35   # face height
    p += rng.normal(0, 0.004, p.shape)              # individual jitter
    angle, scale = np.deg2rad(rng.normal(0, 3)), rng.uniform(0.92, 1.05)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = np.array([0.55, 0.62])
    p = (p - centre) @ rot.T * scale + centre + rng.normal(0, 0.015, 2)
    return p * [width, height]


def _smooth_curve(points, n=60):
    """A smooth open curve through the points (Catmull-Rom), as int32 for OpenCV."""
    pts = np.asarray(points, float)
    pts = np.vstack([pts[0], pts, pts[-1]])
    out = []
    for i in range(1, len(pts) - 2):
        p0, p1, p2, p3 = pts[i - 1:i + 3]
        for t in np.linspace(0, 1, n // (len(pts) - 3), endpoint=False):
            out.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                              + (3 * p1 - p0 - 3 * p2 + p3) * t ** 3))
    out.append(pts[-2])
    return np.round(np.array(out)).astype(np.int32)


def draw_cephalogram(kp, width, height, rng):
    """Render one grey-scale image (uint8) whose features sit on the landmarks ``kp``."""
    S, N, Or, Po, A, B, Pog, Me, Gn, Go, LIi, UIi, UL, LL, Sn, sPog, PNS, ANS, Ar = kp
    u = width / 100.0                                 # drawing unit
    img = np.full((height, width), 25, np.float32)
    # soft tissue: everything behind the facial profile is a grey mass
    profile = [N + [4 * u, -2 * u], (N + ANS) / 2 + [9 * u, 0], Sn + [1.5 * u, 0], UL, LL,
               sPog, Me + [2 * u, 3 * u], Me + [-6 * u, 12 * u]]
    face = np.vstack([[[0, 0]], [[N[0] + 4 * u, 0]], _smooth_curve(profile),
                      [[Me[0] - 12 * u, height]], [[0, height]]])
    cv2.fillPoly(img, [face.astype(np.int32)], 70)
    # cranium and skull base
    cv2.ellipse(img, tuple(np.int32((S + N) / 2 + [0, -12 * u])), (int(31 * u), int(27 * u)),
                0, 160, 380, 150, int(2.5 * u))
    cv2.polylines(img, [_smooth_curve([N, S + [0, 2 * u], Ar, Po + [0, 4 * u]])], False, 120,
                  int(u))
    # sella turcica: a cup whose centre is S
    cv2.ellipse(img, tuple(np.int32(S)), (int(3 * u), int(2.5 * u)), 0, 0, 180, 210,
                max(1, int(0.8 * u)))
    cv2.ellipse(img, tuple(np.int32(Or + [-3 * u, -4 * u])), (int(5 * u), int(4.5 * u)),
                0, 0, 360, 140, max(1, int(0.7 * u)))   # orbit rim, lowest point near Or
    cv2.circle(img, tuple(np.int32(Po + [0, 2 * u])), int(2 * u), 230,  # ear rod
               max(1, int(0.7 * u)))
    # maxilla and mandible as bone polygons with corners at the landmarks
    maxilla = np.int32([PNS, ANS, A, UIi + [-2 * u, -1 * u], PNS + [4 * u, 4 * u]])
    cv2.fillPoly(img, [maxilla], 165)
    mandible = np.int32([Ar, Go, Me, Gn, Pog, B, LIi + [-2 * u, 1 * u], Go + [8 * u, -6 * u],
                         Ar + [3 * u, 2 * u]])
    cv2.fillPoly(img, [mandible], 175)
    cv2.polylines(img, [mandible], True, 215, max(1, int(0.6 * u)))
    # incisors: bright elongated teeth ending at the incisal points
    cv2.line(img, tuple(np.int32(UIi)), tuple(np.int32(UIi + [-3 * u, -9 * u])), 240, int(1.6 * u))
    cv2.line(img, tuple(np.int32(LIi)), tuple(np.int32(LIi + [-3.5 * u, 8 * u])), 235, int(1.6 * u))
    cv2.line(img, tuple(np.int32(PNS)), tuple(np.int32(ANS)), 200, max(1, int(0.6 * u)))
    # X-ray look: blur, uneven exposure, grain
    img = cv2.GaussianBlur(img, (0, 0), 0.6 * u)
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    img *= 0.85 + 0.3 * (xx * rng.uniform(-0.5, 0.5) + yy * rng.uniform(-0.5, 0.5) + 0.5)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def generate(out, num_images=60, width=384, height=480, seed=0, spacing=0.1):
    """Write images to OUT/images and return {split: [ImageRecord]}."""
    rng = np.random.default_rng(seed)
    counts = {s: int(round(f * num_images)) for s, f in SPLITS.items()}
    counts['train'] = num_images - counts['val'] - counts['test']
    tmp = tempfile.mkdtemp(prefix='.images-', dir=out)
    splits, i = {s: [] for s in SPLITS}, 0
    try:
        with tqdm(total=num_images, desc='synthetic cephalograms', unit='img') as bar:
            for split, n in counts.items():
                for _ in range(n):
                    i += 1
                    kp = sample_shape(rng, width, height)
                    image = draw_cephalogram(kp, width, height, rng)
                    name = f'{i:04d}.png'
                    cv2.imwrite(osp.join(tmp, name), image)
                    rec = ImageRecord(f'images/{name}', width, height, kp, (spacing, spacing),
                                      'synthetic')
                    rec.check_inside(osp.join(out, rec.file_name))
                    splits[split].append(rec)
                    bar.update()
        final = osp.join(out, 'images')
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return splits


def run(args):
    os.makedirs(args.out, exist_ok=True)
    splits = generate(args.out, args.num_images, args.width, args.height, args.seed, args.spacing)
    names, skeleton = names_and_skeleton('isbi2015')
    write_dataset(splits, args.out, names, skeleton, args.roi, args.roi_margin, 'synthetic')


def spacing_arg(text):
    """argparse type of --spacing: mmceph's plausible range, as every reader checks it."""
    try:
        return check_spacing_mm(float(text), '--spacing')
    except ValueError:
        lo, hi = SPACING_RANGE_MM
        raise argparse.ArgumentTypeError(f'expected mm per pixel between {lo:g} and {hi:g}, '
                                         f'got {text!r}') from None


def add_parser(sub):
    p = sub.add_parser('synthetic', help='generate a small synthetic cephalogram dataset',
                       description=__doc__)
    add_output_args(p)
    p.add_argument('--num-images', type=int, default=60,
                   help='images in all (default: %(default)s)')
    p.add_argument('--width', type=int, default=384,
                   help='image width in px (default: %(default)s)')
    p.add_argument('--height', type=int, default=480,
                   help='image height in px (default: %(default)s)')
    p.add_argument('--seed', type=int, default=0,
                   help='random seed; same seed, same data (default: %(default)s)')
    p.add_argument('--spacing', type=spacing_arg, default=0.1,
                   help='pixel spacing in mm (default: %(default)s)')
    p.set_defaults(func=run)
