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


def test_retrained_row_and_second_reference(demo_model):
    """The demo run passed as its own 'retrained' run decodes exactly as the trained-with
    row; scored against the test annotation again, every row repeats its first MRE."""
    data, work, _ = demo_model
    config, = glob.glob(str(work / '*.py'))
    out = run([sys.executable, SCRIPT, config, str(work / 'best_MRE.pth'),
               '--retrained', f'again={work}',
               '--also-against', f'same={data}/annotations/test.json'], REPO)
    rows = table(out)
    assert len(rows) == 6, out[-3000:]
    trained = rows['CompensatedHeatmap (trained with)']
    assert rows['again, retrained with it (CompensatedHeatmap)'][:4] == trained[:4]
    assert trained[3] == 0.0                                  # vs itself
    for name, numbers in rows.items():
        assert numbers[4] == numbers[0], name                 # same annotation, same MRE
    assert rows['UDPHeatmap, own grid'][0] != trained[0]      # another grid: another result


def test_a_retrained_dir_without_a_run_is_refused(tmp_path):
    proc = run([sys.executable, SCRIPT, 'cfg.py', 'ckpt.pth', '--retrained',
                f'UDP={tmp_path / "missing"}'], REPO, expect=2)
    assert 'NAME=WORK_DIR with an existing work dir' in proc
