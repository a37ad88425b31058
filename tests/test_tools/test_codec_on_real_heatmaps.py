"""codec_on_real_heatmaps.py on the demo model: every decoder row, a retrained run's row
and the rows against another annotation, through the real MMEngine runner."""
import glob
import os.path as osp
import re
import sys

from conftest import run

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools/analysis_tools/codec_on_real_heatmaps.py')


def table(out):
    """{row name: [numbers]} of the printed markdown table."""
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if line.startswith('| ') and not cells[0].startswith('decoder'):
            rows[cells[0]] = [float(re.sub(r'[ %+]', '', c)) for c in cells[1:]]
    return rows


def test_retrained_row_and_second_reference(demo_model, tmp_path):
    """A 'retrained' work dir whose dumped config decodes with UDPHeatmap (the demo's
    weights, copied): its row must come from *that* config, i.e. equal the
    'UDPHeatmap, own grid' row and not the trained-with row. A second reference with
    every landmark 30 mm to the right: by the triangle inequality each row's MRE
    against it lies within its own MRE of 30 mm, and no landmark is within 2 mm."""
    import json
    import shutil

    from mmengine.config import Config
    data, work, _ = demo_model
    config, = glob.glob(str(work / '*.py'))
    retrained = tmp_path / 'udp_run'
    retrained.mkdir()
    cfg = Config.fromfile(config)
    decoder = cfg.model.head.decoder
    cfg.model.head.decoder = dict(type='UDPHeatmap', input_size=decoder['input_size'],
                                  heatmap_size=decoder['heatmap_size'],
                                  sigma=decoder.get('sigma', 2))
    cfg.dump(str(retrained / osp.basename(config)))
    shutil.copy(work / 'best_MRE.pth', retrained / 'best_MRE.pth')
    ann = json.load(open(data / 'annotations/test.json'))
    spacing_x = ann['images'][0]['pixel_spacing'][0]
    for a in ann['annotations']:
        a['keypoints'] = [v + 30 / spacing_x if i % 3 == 0 else v
                          for i, v in enumerate(a['keypoints'])]
    shifted = tmp_path / 'shifted.json'
    shifted.write_text(json.dumps(ann))
    out = run([sys.executable, SCRIPT, config, str(work / 'best_MRE.pth'),
               '--retrained', f'again={retrained}', '--also-against', f'shifted={shifted}'],
              REPO)
    rows = table(out)
    assert len(rows) == 6, out[-3000:]
    trained = rows['CompensatedHeatmap (trained with)']
    udp = rows['UDPHeatmap, own grid']
    assert rows['again, retrained with it (UDPHeatmap)'][:3] == udp[:3]
    assert udp[0] != trained[0]                                # another grid: another result
    assert trained[3] == 0.0                                  # vs itself
    for name, (mre, _, _, _, shifted_mre, shifted_sdr) in rows.items():
        assert 30 - mre - 0.002 <= shifted_mre <= 30 + mre + 0.002, name   # printed to 3 dp
        assert shifted_sdr == 0.0, name


def test_a_retrained_dir_without_a_run_is_refused(tmp_path):
    proc = run([sys.executable, SCRIPT, 'cfg.py', 'ckpt.pth', '--retrained',
                f'UDP={tmp_path / "missing"}'], REPO, expect=2)
    assert 'NAME=WORK_DIR with an existing work dir' in proc
