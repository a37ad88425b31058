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
  terms;
- with ``--retrained NAME=WORK_DIR``: the same recipe retrained with another codec (its
  targets on that codec's grid, decoded by it): WORK_DIR's own config and best_MRE.pth.
  The fully fair comparison of codecs, grid included (README: 48 epochs, ~35 min each).

Every row is scored against the config's test annotation and, with ``--also-against
NAME=ANN.json``, against other annotations of the same images (e.g. the mean of both
ISBI annotators).

    python tools/analysis_tools/codec_on_real_heatmaps.py CONFIG CHECKPOINT \\
        --retrained UDPHeatmap=work_dirs/isbi_s2d-48e-UDP \\
        --also-against mean=data/isbi2015_mean/annotations/test1.json
"""
import argparse
import glob
import os.path as osp
import sys

import numpy as np

from mmceph.utils.cli import named_pairs


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


def retrained_model(work_dir):
    """(config, checkpoint) a training run left in ``work_dir``: the config MMEngine dumped
    there (with the codec it was trained with) and best_MRE.pth."""
    from mmengine.config import Config
    configs = glob.glob(osp.join(work_dir, '*.py'))
    checkpoint = osp.join(work_dir, 'best_MRE.pth')
    if len(configs) != 1 or not osp.isfile(checkpoint):
        sys.exit(f'{work_dir}: expected one dumped config (*.py) and best_MRE.pth, found '
                 f'{len(configs)} config(s) and {"a" if osp.isfile(checkpoint) else "no"} '
                 'best_MRE.pth')
    return Config.fromfile(configs[0]), checkpoint


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--retrained', nargs='+', default=[], metavar='NAME=WORK_DIR',
                   help='the recipe retrained with another codec: its work dir (dumped config '
                        'and best_MRE.pth), shown as NAME')
    p.add_argument('--also-against', nargs='+', default=[], metavar='NAME=ANN.json',
                   help='score every row against other annotations of the same images too, '
                        'e.g. mean=data/isbi2015_mean/annotations/test1.json')
    args = p.parse_args(argv)
    retrained = named_pairs(p, args.retrained, 'NAME=WORK_DIR with an existing work dir',
                            osp.isdir)
    also = named_pairs(p, args.also_against, 'NAME=ANN.json with an existing annotation file',
                       osp.isfile)
    from mmengine.config import Config
    from mmpose.codecs import MSRAHeatmap, UDPHeatmap
    from mmpose.registry import KEYPOINT_CODECS

    import mmceph.registration  # noqa: F401
    from mmceph.evaluation.rescore import scores_against
    for base in (MSRAHeatmap, UDPHeatmap):
        KEYPOINT_CODECS.register_module(module=grid_corrected(base), force=True)
    base_cfg = Config.fromfile(args.config)
    codec = base_cfg.model.head.decoder
    sizes = dict(input_size=codec['input_size'], heatmap_size=codec['heatmap_size'],
                 sigma=codec.get('sigma', 2))
    variants = [
        (f"{codec['type']} (trained with)", dict(codec)),
        ('MSRAHeatmap(unbiased) [DARK], own grid', dict(type='MSRAHeatmap', unbiased=True,
                                                        **sizes)),
        ('UDPHeatmap, own grid', dict(type='UDPHeatmap', **sizes)),
        ('DARK refinement, model grid', dict(type='GridCorrectedMSRAHeatmap', unbiased=True,
                                             **sizes)),
        ('UDP refinement, model grid', dict(type='GridCorrectedUDPHeatmap', **sizes)),
    ]
    runs = []
    for name, decoder in variants:
        cfg = Config.fromfile(args.config)
        cfg.model.head.decoder = decoder
        runs.append((name, cfg, args.checkpoint))
    for name, work_dir in retrained:
        cfg, checkpoint = retrained_model(work_dir)
        runs.append((f"{name}, retrained with it ({cfg.model.head.decoder['type']})",
                     cfg, checkpoint))
    rows = [(name, scores_against(cfg, checkpoint, also)) for name, cfg, checkpoint in runs]
    reference, (ref, _) = next(iter(rows[0][1].items()))
    print(f'\n{args.checkpoint} on {base_cfg.test_dataloader.dataset.ann_file} '
          f'(reference annotation: {reference})')
    head = [f'decoder | test MRE (mm, {reference}) | SDR 2 mm | SDR 2.5 mm | '
            f'vs {codec["type"]}'] + [f'MRE (mm, {n}) | SDR 2 mm ({n})' for n, _ in also]
    print('| ' + ' | '.join(head) + ' |')
    print('|' + '---|' * (5 + 2 * len(also)))
    for name, scores in rows:
        (mre, sdr), *others = scores.values()
        cells = [name, f'{mre:.3f}', f'{100 * sdr[0]:.1f} %', f'{100 * sdr[1]:.1f} %',
                 f'{100 * (mre / ref - 1):+.1f} %']
        for other_mre, other_sdr in others:
            cells += [f'{other_mre:.3f}', f'{100 * other_sdr[0]:.1f} %']
        print('| ' + ' | '.join(cells) + ' |')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
