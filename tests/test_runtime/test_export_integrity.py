"""The demo model carried to the end (issue 25, items 1 and 7): it exports as trained, the
export records each network's SHA-256, and a damaged folder -- a truncated, altered or
missing ``.onnx`` -- is refused by tools/infer.py in one line naming the file, before
ONNX Runtime reads it, with no output folder left behind. A folder run that cannot write
one image's outputs writes the others and exits 1; a run that writes nothing leaves no
folder."""
import errno
import hashlib
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest
from conftest import CONFIG, REPO, cached_build, source_key, tool_main

INFER = osp.join(REPO, 'tools', 'infer.py')
EXPORT = osp.join(REPO, 'tools', 'deployment', 'export_onnx.py')
ENV = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')


def tool(*args, timeout=600):
    """A real process (the exporter); tools/infer.py runs in-process (conftest.tool_main):
    test_onnx_runtime runs it on an export as a real process."""
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=ENV, cwd=REPO)


def one_line_error(proc):
    """The last stderr line, which must be the tool's ``error: ...`` with no traceback."""
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith('error: '), proc.stderr[-3000:]
    return lines[-1]


@pytest.fixture(scope='module')
def export(demo_model):
    """The demo recipe's own checkpoint exported as it is (no config changes), by the
    real exporter process; cached (conftest.cached_build) by the demo model and the
    exporter's sources. Tests must not write into it (they damage copies)."""
    data, work, _ = demo_model
    key = source_key(('tools/deployment/export_onnx.py', 'mmceph'), str(work), sys.version)

    def build(folder):
        (folder / 'export').mkdir()
        proc = tool(EXPORT, CONFIG, work / 'best_MRE.pth', folder / 'export' / 'exported')
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = cached_build('demo-export', key, build) / 'export' / 'exported'
    with open(data / 'annotations' / 'test.json') as f:
        images = [data / im['file_name'] for im in json.load(f)['images']]
    return out, images


def test_the_demo_model_exports_with_each_file_hashed(export):
    out, _ = export
    meta = json.loads((out / 'mmceph_export.json').read_text())
    assert meta['cascade'] is None and meta['global']['file'] == 'global.onnx'
    # computed independently of the exporter's helper
    digest = hashlib.sha256((out / 'global.onnx').read_bytes()).hexdigest()
    assert meta['files_sha256'] == {'global.onnx': digest}
    # assembled beside the folder and moved into place: no staging folder is left
    assert [p.name for p in out.parent.iterdir()] == ['exported']
    assert sorted(p.name for p in out.iterdir()) == ['global.onnx', 'mmceph_export.json']


def damage(folder, how):
    path = folder / 'global.onnx'
    data = bytearray(path.read_bytes())
    if how == 'missing':
        path.unlink()
    elif how == 'truncated':
        path.write_bytes(data[:len(data) // 2])
    else:                                   # one byte of the weights changed, size kept
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))


@pytest.mark.parametrize('how', ['truncated', 'altered', 'missing'])
def test_a_damaged_export_is_refused_in_one_line_naming_the_file(export, tmp_path, how):
    out, images = export
    copy = tmp_path / 'copy'
    shutil.copytree(out, copy)
    damage(copy, how)
    proc = tool_main('infer.py', images[0], copy, '--out-dir', tmp_path / 'o')
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert str(copy / 'global.onnx') in line
    assert ('missing' if how == 'missing' else 'SHA-256') in line
    assert not (tmp_path / 'o').exists()


def test_an_export_without_hashes_still_refuses_a_truncated_file_in_one_line(export, tmp_path):
    """Folders exported before hashes were recorded: ONNX Runtime's own refusal, in one
    line naming the file."""
    out, images = export
    copy = tmp_path / 'copy'
    shutil.copytree(out, copy)
    meta = json.loads((copy / 'mmceph_export.json').read_text())
    del meta['files_sha256']
    (copy / 'mmceph_export.json').write_text(json.dumps(meta))
    damage(copy, 'truncated')
    proc = tool_main('infer.py', images[0], copy, '--out-dir', tmp_path / 'o')
    assert proc.returncode == 2
    assert f'{copy / "global.onnx"}: ONNX Runtime cannot load it' in one_line_error(proc)


def test_the_intact_copy_predicts(export, tmp_path):
    """The control for the damage cases: the same copy, undamaged, is accepted."""
    out, images = export
    shutil.copytree(out, tmp_path / 'copy')
    proc = tool_main('infer.py', images[0], tmp_path / 'copy', '--out-dir', tmp_path / 'o')
    assert proc.returncode in (0, 3), proc.stderr[-3000:]
    assert (tmp_path / 'o' / f'{images[0].name}.landmarks.json').is_file()


def test_an_export_that_fails_leaves_no_folder(demo_model, tmp_path):
    """The stock MSRAHeatmap decoder is refused (with the reason) and nothing is written."""
    from mmengine.config import Config
    _, work, _ = demo_model
    cfg = Config.fromfile(CONFIG)
    cfg.model.head.decoder = dict(type='MSRAHeatmap', input_size=cfg.codec['input_size'],
                                  heatmap_size=cfg.codec['heatmap_size'], sigma=2)
    cfg.dump(str(tmp_path / 'msra.py'))
    (tmp_path / 'parent').mkdir()
    proc = tool(EXPORT, tmp_path / 'msra.py', work / 'best_MRE.pth', tmp_path / 'parent' / 'x')
    assert proc.returncode == 2
    assert 'decoder MSRAHeatmap' in one_line_error(proc)
    assert list((tmp_path / 'parent').iterdir()) == []


def test_a_folder_run_writes_what_it_can_and_exits_1(export, tmp_path):
    out, images = export
    inputs = tmp_path / 'in'
    inputs.mkdir()
    for im in images[:2]:
        shutil.copy(im, inputs)
    first, second = sorted(p.name for p in inputs.iterdir())
    o = tmp_path / 'o'
    (o / f'{second}.overlay.png').mkdir(parents=True)    # a folder in the way of one output
    proc = tool_main('infer.py', inputs, out, '--out-dir', o)
    assert proc.returncode == 1, proc.stdout + proc.stderr[-3000:]
    assert (o / f'{first}.landmarks.json').is_file() and (o / f'{first}.overlay.png').is_file()
    assert not (o / f'{second}.landmarks.json').exists()     # not half-written
    assert f'{o / second}.overlay.png' in proc.stderr          # the path in the way ...
    assert '.part' not in proc.stderr                          # ... not our temporary file
    assert '1 image(s) written' in proc.stdout


def test_a_run_that_writes_nothing_leaves_no_folder(export, tmp_path):
    out, _ = export
    (tmp_path / 'in').mkdir()
    (tmp_path / 'in' / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n broken')
    proc = tool_main('infer.py', tmp_path / 'in', out, '--out-dir', tmp_path / 'o')
    assert proc.returncode == 1 and 'broken.png' in proc.stderr
    assert not (tmp_path / 'o').exists()
    (tmp_path / 'kept').mkdir()                                 # a folder the user made stays
    proc = tool_main('infer.py', tmp_path / 'in', out, '--out-dir', tmp_path / 'kept')
    assert proc.returncode == 1 and (tmp_path / 'kept').is_dir()


def test_write_atomic_names_the_path_in_the_way(tmp_path):
    from mmceph.utils.atomic import write_atomic
    (tmp_path / 'x.json').mkdir()
    with pytest.raises(OSError) as info:
        write_atomic(tmp_path / 'x.json', '{}')
    assert info.value.filename == str(tmp_path / 'x.json')
    assert info.value.errno in (errno.EISDIR, errno.EEXIST, errno.ENOTEMPTY)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['x.json']   # no .part left


def test_write_atomic_names_a_folder_it_cannot_write(tmp_path):
    from mmceph.utils.atomic import write_atomic
    if os.geteuid() == 0:
        pytest.skip('root writes into read-only folders')
    (tmp_path / 'ro').mkdir()
    os.chmod(tmp_path / 'ro', 0o500)
    try:
        with pytest.raises(PermissionError) as info:
            write_atomic(tmp_path / 'ro' / 'x.json', '{}')
    finally:
        os.chmod(tmp_path / 'ro', 0o700)
    assert info.value.filename == str(tmp_path / 'ro')


@pytest.mark.parametrize('version', [0, 3])
def test_an_export_of_an_unknown_format_version_is_refused_in_one_line(export, tmp_path,
                                                                       version):
    """Format 2 added per-landmark patch sides: a runtime must refuse a folder it cannot
    read in full rather than predict with part of it (versions 1 and 2 are read)."""
    out, images = export
    copy = tmp_path / 'copy'
    shutil.copytree(out, copy)
    meta = json.loads((copy / 'mmceph_export.json').read_text())
    assert meta['format_version'] == 1
    meta['format_version'] = version
    (copy / 'mmceph_export.json').write_text(json.dumps(meta))
    proc = tool_main('infer.py', images[0], copy, '--out-dir', tmp_path / 'o')
    assert proc.returncode == 2
    assert (f'{copy / "mmceph_export.json"}: format_version {version}, this mmceph reads '
            '1 and 2') in one_line_error(proc)
    assert not (tmp_path / 'o').exists()
