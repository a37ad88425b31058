"""The codec on real heatmaps: one trained model's Test1 heatmaps decoded several ways.

The synthetic round trip (benchmark_codec.py) says CompensatedHeatmap beats MMPose's
codecs by 31-62 % on imperfect heatmaps. This asks what a trained model's real heatmaps
say. The same checkpoint is evaluated (MMEngine's runner, the config's test split) with
its head's decoder replaced by:

- CompensatedHeatmap: the codec the model was trained with (area-aligned grid);
- MSRAHeatmap(unbiased=True) [DARK] and UDPHeatmap, each decoding on its *own* grid
  (pixel i at input i*s, resp. (input-1)/(heatmap-1) scaling): what you get by swapping
  the decoder of a model trained on another grid -- biased by the grid difference;
- the same two decoders with their result moved onto the model's grid (DARK's and UDP's
  sub-pixel refinement, the model's grid): the decoding *algorithm* compared on equal
  terms. A fully fair grid comparison retrains the model with each codec (stage 1 of the
  recipe again, 19+ CPU-minutes each), see README.

    python tools/analysis_tools/codec_on_real_heatmaps.py CONFIG CHECKPOINT
"""
import argparse
import json
import os
import tempfile

import numpy as np


def grid_corrected(base):
    """A codec class decoding with ``base``'s algorithm, its result put on the
    area-aligned grid of CompensatedHeatmap (heatmap pixel i at input s*i + (s-1)/2)."""

    class GridCorrected(base):
        def decode(self, encoded):
            keypoints, scores = super().decode(encoded)
            K, H, W = encoded.shape
            in_w, in_h = self.input_size
            own = np.array([W / in_w, H / in_h]) if base.__name__ == 'MSRAHeatmap' else \
                np.array([(W - 1) / (in_w - 1), (H - 1) / (in_h - 1)])
            on_heatmap = keypoints * own                     # back to heatmap pixels
            stride = np.array([in_w / W, in_h / H])
            return (on_heatmap + 0.5) * stride - 0.5, scores

    GridCorrected.__name__ = f'GridCorrected{base.__name__}'
    return GridCorrected


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    args = p.parse_args(argv)
    from mmengine.config import Config
    from mmengine.runner import Runner
    from mmpose.codecs import MSRAHeatmap, UDPHeatmap
    from mmpose.registry import KEYPOINT_CODECS

    import mmceph.registration  # noqa: F401
    for base in (MSRAHeatmap, UDPHeatmap):
        KEYPOINT_CODECS.register_module(module=grid_corrected(base), force=True)
    base_cfg = Config.fromfile(args.config)
    codec = base_cfg.model.head.decoder
    sizes = dict(input_size=codec['input_size'], heatmap_size=codec['heatmap_size'],
                 sigma=codec.get('sigma', 2))
    variants = [
        ('CompensatedHeatmap (trained with)', dict(codec)),
        ('MSRAHeatmap(unbiased) [DARK], own grid', dict(type='MSRAHeatmap', unbiased=True,
                                                        **sizes)),
        ('UDPHeatmap, own grid', dict(type='UDPHeatmap', **sizes)),
        ('DARK refinement, model grid', dict(type='GridCorrectedMSRAHeatmap', unbiased=True,
                                             **sizes)),
        ('UDP refinement, model grid', dict(type='GridCorrectedUDPHeatmap', **sizes)),
    ]
    rows = []
    for name, decoder in variants:
        cfg = Config.fromfile(args.config)
        cfg.model.head.decoder = decoder
        cfg.load_from = args.checkpoint
        cfg.work_dir = tempfile.mkdtemp(prefix='codec_real_')
        cfg.test_dataloader.num_workers = min(2, os.cpu_count())
        cfg.default_hooks.pop('visualization', None)
        cfg.test_evaluator['clinical'] = False
        metrics = Runner.from_cfg(cfg).test()
        rows.append((name, metrics))
    ref = rows[0][1]['MRE']
    from mmceph.formats.coco import reference_of
    ds = base_cfg.test_dataloader.dataset
    with open(os.path.join(ds.data_root, ds.ann_file)) as f:
        reference = reference_of(json.load(f)) or 'not recorded'
    print(f'\n{args.checkpoint} on {ds.ann_file} (reference annotation: {reference})')
    print('| decoder | test MRE (mm) | SDR 2 mm | SDR 2.5 mm | vs CompensatedHeatmap |')
    print('|---|---|---|---|---|')
    for name, m in rows:
        print(f"| {name} | {m['MRE']:.3f} | {100 * m['SDR_2.0mm']:.1f} % | "
              f"{100 * m['SDR_2.5mm']:.1f} % | {100 * (m['MRE'] / ref - 1):+.1f} % |")
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
