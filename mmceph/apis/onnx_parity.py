"""Parity of the ONNX runtime with the PyTorch pipeline: landmarks image by image, and the
speed of each (``tools/deployment/onnx_parity.py`` prints it)."""
import os
import os.path as osp
import time

import numpy as np

from ..imaging.image_io import READABLE_EXTENSIONS, read_image


def list_images(paths):
    out = []
    for path in paths:
        if osp.isdir(path):
            out += sorted(osp.join(path, f) for f in os.listdir(path)
                          if f.lower().endswith(READABLE_EXTENSIONS))
        else:
            out.append(path)
    return out


def compare(config, checkpoint, export_dir, images, threads=2):
    """Per image: max |difference| (px) over the landmarks, and the seconds of each."""
    import torch

    from ..runtime import OnnxLandmarkPredictor
    from .inference import LandmarkPredictor
    torch.set_num_threads(threads)
    reference = LandmarkPredictor(config, checkpoint, check_orientation=False)
    runtime = OnnxLandmarkPredictor(export_dir, threads=threads, check_orientation=False)
    assert runtime.names == reference.names, 'the export is of another model'
    rows = []
    for path in images:
        pixels = read_image(path).pixels
        bbox = reference.roi_bbox(pixels.shape[1], pixels.shape[0])
        times = []
        for predictor in (reference, runtime):
            start = time.perf_counter()
            kpts, scores = predictor._landmarks(pixels, bbox)
            times.append(time.perf_counter() - start)
            if predictor is reference:
                ref_kpts, ref_scores = kpts, scores
        diff = np.linalg.norm(np.asarray(kpts) - np.asarray(ref_kpts), axis=1)
        worst = int(diff.argmax())
        rows.append(dict(image=osp.basename(path), max_px=float(diff.max()),
                         mean_px=float(diff.mean()), worst_landmark=worst + 1,   # 1-based
                         worst_landmark_name=reference.names[worst],
                         max_score_diff=float(np.abs(np.asarray(scores) - ref_scores).max()),
                         torch_s=times[0], onnx_s=times[1]))
    return rows


def summary(rows):
    n = len(rows)
    worst = max(rows, key=lambda r: r['max_px'])
    # the first image of each includes one-off warm-up: report the median as well
    return dict(images=n, max_px=worst['max_px'], worst_image=worst['image'],
                worst_landmark=worst['worst_landmark'],
                worst_landmark_name=worst['worst_landmark_name'],
                mean_px=float(np.mean([r['mean_px'] for r in rows])),
                max_score_diff=max(r['max_score_diff'] for r in rows),
                torch_s_per_image=float(np.mean([r['torch_s'] for r in rows])),
                onnx_s_per_image=float(np.mean([r['onnx_s'] for r in rows])),
                torch_s_median=float(np.median([r['torch_s'] for r in rows])),
                onnx_s_median=float(np.median([r['onnx_s'] for r in rows])))


def verdict(s, tolerance):
    """(passed, the one line that says so, where the worst landmark was, and the bound)."""
    passed = s['max_px'] <= tolerance
    return passed, (f"{'PASS' if passed else 'FAIL'}: max {s['max_px']:.4f} px (image "
                    f"{s['worst_image']}, landmark {s['worst_landmark']} "
                    f"{s['worst_landmark_name']}) {'<=' if passed else '>'} tolerance "
                    f"{tolerance:g} px over {s['images']} images")
