"""What tools/infer.py promises a clinic (README "Guarantees"), each on generated inputs:
inputs never touched, early one-line refusals, checkpoints that must fit, complete
images only, strict JSON, the quality gate, folder exit codes, no tracebacks."""
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from conftest import BIN, CONFIG, REPO, data_options, tool_main
from PIL import Image

INFER = osp.join(REPO, 'tools', 'infer.py')


def infer(*args):
    """tools/infer.py run in this process (conftest.tool_main): exit status and output
    as a process gives them; the real process is run by ``infer_process``."""
    return tool_main('infer.py', *args)


def infer_process(*args, cwd=REPO, timeout=600):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'])
    return subprocess.run([sys.executable, INFER, *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def strict_json(path):
    """Parse refusing NaN/Infinity, as strict parsers (JavaScript, Go, ...) do."""
    def refuse(name):
        raise ValueError(f'{path}: non-standard JSON constant {name}')
    with open(path) as f:
        return json.loads(f.read(), parse_constant=refuse)


def one_line_error(proc):
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()
             and 'pkg_resources' not in ln and 'from pkg_resources' not in ln]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    assert lines and lines[-1].startswith('error: '), proc.stderr[-3000:]
    return lines[-1]


def digest(folder):
    return {p: hashlib.sha256(open(osp.join(folder, p), 'rb').read()).hexdigest()
            for p in sorted(os.listdir(folder)) if osp.isfile(osp.join(folder, p))}


@pytest.fixture(scope='module')
def model(demo_model):
    data, work, _ = demo_model
    images = sorted((data / 'images').glob('*.png'))
    return dict(data=data, ckpt=work / 'best_MRE.pth', image=images[-1], images=images)


@pytest.fixture(scope='module')
def predictor(model):
    from mmceph.apis import LandmarkPredictor
    return LandmarkPredictor(CONFIG, str(model['ckpt']))


# ------------------------------------------------------------- 1. inputs never touched
def test_out_dir_equal_to_the_input_folder_touches_no_input(model, tmp_path):
    grey = cv2.imread(str(model['image']), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(tmp_path / 'x.png'), grey)
    cv2.imwrite(str(tmp_path / 'x.jpg'), grey)          # the same stem, another format
    before = digest(tmp_path)
    proc = infer(tmp_path, CONFIG, model['ckpt'], '--out-dir', tmp_path, '--pixel-spacing', '0.1')
    assert proc.returncode == 0, proc.stderr[-2000:]
    after = digest(tmp_path)
    assert {k: after[k] for k in before} == before           # no input changed
    for name in ('x.png', 'x.jpg'):                          # nothing collided
        assert strict_json(tmp_path / f'{name}.landmarks.json')['image'].endswith(name)
        assert (tmp_path / f'{name}.overlay.png').is_file()
    # a second run does not take the first run's outputs as inputs
    proc = infer(tmp_path, CONFIG, model['ckpt'], '--out-dir', tmp_path, '--pixel-spacing', '0.1')
    assert proc.returncode == 0 and '2 image(s) written' in proc.stdout, proc.stdout
    assert not list(tmp_path.glob('*.overlay.png.*'))


def test_out_dir_inside_the_input_folder_with_recursive(model, tmp_path):
    grey = cv2.imread(str(model['image']), cv2.IMREAD_GRAYSCALE)
    (tmp_path / 'sub').mkdir()
    cv2.imwrite(str(tmp_path / 'a.png'), grey)
    cv2.imwrite(str(tmp_path / 'sub' / 'a.png'), grey)       # same name, other folder
    before = {p: digest(p) for p in (tmp_path, tmp_path / 'sub')}
    proc = infer(tmp_path, CONFIG, model['ckpt'], '--out-dir', tmp_path / 'out', '--recursive',
                 '--pixel-spacing', '0.1')
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert all(digest(p) == d for p, d in before.items())
    assert (tmp_path / 'out' / 'a.png.landmarks.json').is_file()
    assert (tmp_path / 'out' / 'sub' / 'a.png.landmarks.json').is_file()
    rows = (tmp_path / 'out' / 'mmceph_landmarks.csv').read_text().splitlines()
    assert len(rows) == 1 + 2 * 19 and any(r.startswith('sub/a.png,') for r in rows)
    # the out-dir inside the input folder is not searched on a rerun
    proc = infer(tmp_path, CONFIG, model['ckpt'], '--out-dir', tmp_path / 'out', '--recursive')
    assert '2 image(s) written' in proc.stdout, proc.stdout


# ------------------------------------------------------ 2. fail before the model loads
@pytest.fixture
def refusal_inputs(tmp_path):
    """A readable image and a file that passes the cheap checkpoint checks (a torch zip
    with an empty state dict): each case below breaks exactly one thing, and what is
    refused must be refused before anything would load it."""
    image = tmp_path / 'x.png'
    cv2.imwrite(str(image), np.full((200, 160), 128, np.uint8))
    ckpt = tmp_path / 'fits_the_cheap_checks.pth'
    torch.save({'state_dict': {}}, ckpt)
    return image, ckpt


REFUSALS = ['no config', 'no checkpoint', 'empty checkpoint', 'text checkpoint',
            'out-dir under a file', 'bad device', 'absent cuda', 'no input']


def refusal_case(case, tmp_path, image, ckpt):
    cfg, out, extra = CONFIG, tmp_path / 'out', []
    if case == 'no config':
        cfg = tmp_path / 'missing.py'
    elif case == 'no checkpoint':
        ckpt = tmp_path / 'missing.pth'
    elif case == 'empty checkpoint':
        ckpt = tmp_path / 'empty.pth'
        ckpt.write_bytes(b'')
    elif case == 'text checkpoint':
        ckpt = tmp_path / 'notes.pth'
        ckpt.write_text('not weights')
    elif case == 'out-dir under a file':
        (tmp_path / 'file').write_text('x')
        out = tmp_path / 'file' / 'out'
    elif case == 'bad device':
        extra = ['--device', 'tpu:0']
    elif case == 'absent cuda':
        extra = ['--device', f'cuda:{torch.cuda.device_count()}']
    elif case == 'no input':
        image = tmp_path / 'missing.png'
    culprit = {'no config': 'missing.py', 'no checkpoint': 'missing.pth',
               'empty checkpoint': 'empty.pth', 'text checkpoint': 'notes.pth',
               'out-dir under a file': 'out', 'bad device': 'tpu:0', 'absent cuda': 'cuda:',
               'no input': 'missing.png'}[case]
    return [str(a) for a in (image, cfg, ckpt, '--out-dir', out, *extra)], out, culprit


@pytest.mark.parametrize('case', REFUSALS)
def test_refused_before_the_model_loads(refusal_inputs, tmp_path, capsys, case):
    """In-process: the tool's command line refuses with exit status 2 and one line naming
    the culprit, and never reaches the output folder (created only after every check, just before
    the model is built)."""
    from run_tool import run_tool
    argv, out, culprit = refusal_case(case, tmp_path, *refusal_inputs)
    assert run_tool('tools/infer.py', argv) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith('error: ') and culprit in err, err
    assert not out.exists() or case == 'out-dir under a file'


def test_refused_before_the_model_loads_as_a_real_process(refusal_inputs, tmp_path):
    """The same refusal through the command line a clinic runs: exit status, no
    traceback, and the model never loaded (MMEngine logs 'Loads checkpoint' when it does)."""
    argv, out, culprit = refusal_case('text checkpoint', tmp_path, *refusal_inputs)
    proc = infer_process(*argv)
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert culprit in line, line
    assert 'Loads checkpoint' not in proc.stdout + proc.stderr
    assert not out.exists()


def test_own_output_folder_is_never_an_input(tmp_path):
    """An image file that is not named like an output (so the output-name filter cannot
    hide it) inside --out-dir under the input folder: only the out-dir exclusion keeps
    it out of a recursive listing."""
    from mmceph.apis.batch_inference import list_inputs
    grey = np.full((200, 160), 128, np.uint8)
    for rel in ('a.png', 'sub/b.png', 'out/stray.png', 'out/deeper/c.png'):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / rel), grey)
    found = list_inputs(str(tmp_path), True, str(tmp_path / 'out'))
    assert [rel for _, rel in found] == ['a.png', osp.join('sub', 'b.png')]
    # reached through a symbolic link, the out-dir is still recognised
    os.symlink(tmp_path / 'out', tmp_path / 'link')
    found = list_inputs(str(tmp_path), True, str(tmp_path / 'link'))
    assert [rel for _, rel in found] == ['a.png', osp.join('sub', 'b.png')]
    # without --recursive no sub-folder is read; the out-dir equal to the input is fine
    found = list_inputs(str(tmp_path), False, str(tmp_path))
    assert [rel for _, rel in found] == ['a.png']


# ------------------------------------------------------- 3. a checkpoint must fit its config
def _variant(model, tmp_path, change):
    ckpt = torch.load(model['ckpt'], map_location='cpu', weights_only=False)
    change(ckpt)
    path = tmp_path / 'variant.pth'
    torch.save(ckpt, path)
    return path


def _drop_head(ckpt):
    for k in [k for k in ckpt['state_dict'] if k.startswith('head.final_layer')]:
        del ckpt['state_dict'][k]


def _extra(ckpt):
    ckpt['state_dict']['head.extra.weight'] = torch.zeros(3)


def _landmarks26(ckpt):
    ckpt['meta']['dataset_meta']['num_keypoints'] = 26


def _reshaped(ckpt):
    w = ckpt['state_dict']['head.final_layer.weight']
    ckpt['state_dict']['head.final_layer.weight'] = torch.zeros((26, ) + tuple(w.shape[1:]))
    ckpt['meta'].pop('dataset_meta', None)


def _random(ckpt):
    ckpt.clear()
    ckpt['state_dict'] = {'conv.weight': torch.randn(4, 3, 3, 3)}


@pytest.mark.parametrize('change, expected', [
    (_drop_head, r'missing from the checkpoint \(e\.g\. head\.final_layer'),
    (_extra, r'not in the model \(e\.g\. head\.extra\.weight'),
    (_landmarks26, 'trained for 26 landmarks, but the config describes 19'),
    (_reshaped, r'another shape \(head\.final_layer\.weight: torch\.Size\(\[26'),
    (_random, 'missing from the checkpoint')])
def test_a_checkpoint_that_does_not_fit_is_refused(model, tmp_path, change, expected):
    from mmceph.apis import LandmarkPredictor
    from mmceph.apis.checkpoint import CheckpointError
    path = _variant(model, tmp_path, change)
    with pytest.raises(CheckpointError, match=expected):
        LandmarkPredictor(CONFIG, str(path))


def test_cli_refuses_a_misfit_with_nothing_written(model, tmp_path):
    path = _variant(model, tmp_path, _drop_head)
    proc = infer(model['image'], CONFIG, path, '--out-dir', tmp_path / 'out')
    assert proc.returncode == 2 and 'does not fit the config' in one_line_error(proc)
    assert not (tmp_path / 'out').exists()


def test_garbage_checkpoint_is_one_line(model, tmp_path):
    path = tmp_path / 'garbage.pth'
    path.write_bytes(b'\x80\x04' + os.urandom(300))            # looks like a pickle, is not
    proc = infer(model['image'], CONFIG, path, '--out-dir', tmp_path / 'out')
    assert proc.returncode == 2 and 'garbage.pth' in one_line_error(proc)


# ---------------------------------------------------------------------------- 4. images
def test_truncated_jpeg_is_refused_not_half_decoded(model, tmp_path):
    from mmceph.imaging.image_io import ImageReadError, read_image
    grey = cv2.imread(str(model['image']), cv2.IMREAD_GRAYSCALE)
    data = cv2.imencode('.jpg', grey)[1].tobytes()
    path = tmp_path / 'cut.jpg'
    path.write_bytes(data[:len(data) // 2])
    assert cv2.imread(str(path)) is not None         # what OpenCV would have used
    with pytest.raises(ImageReadError, match='cut.jpg'):
        read_image(path)


def test_exif_orientation_is_applied_and_stated(model, tmp_path, predictor):
    from mmceph.imaging.image_io import read_image
    grey = cv2.imread(str(model['image']), cv2.IMREAD_GRAYSCALE)
    upright = Image.fromarray(grey)
    stored = upright.transpose(Image.Transpose.ROTATE_90)      # stored turned left ...
    exif = Image.Exif()
    exif[0x0112] = 6                                           # ... shown turned right
    stored.save(tmp_path / 'exif.jpg', exif=exif, quality=98)
    upright.save(tmp_path / 'plain.jpg', quality=98)
    loaded = read_image(tmp_path / 'exif.jpg')
    assert loaded.exif_orientation == 6 and loaded.pixels.shape[:2] == grey.shape
    a, _, _ = predictor.predict(tmp_path / 'exif.jpg')
    b, _, _ = predictor.predict(tmp_path / 'plain.jpg')
    assert 'EXIF orientation 6' in a['coordinate_frame'] and b['exif_orientation'] == 1
    for p, q in zip(a['landmarks'], b['landmarks']):
        assert p['x_px'] == pytest.approx(q['x_px'], abs=1.0)
        assert p['y_px'] == pytest.approx(q['y_px'], abs=1.0)


def test_too_small_image_is_rejected(predictor, model, tmp_path):
    grey = cv2.imread(str(model['image']), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(tmp_path / 'thumb.png'), cv2.resize(grey, (64, 80)))
    result, _, _ = predictor.predict(tmp_path / 'thumb.png')
    assert result['status'] == 'rejected' and 'at least 128' in result['status_reasons'][0]
    assert 'measurements' not in result and result['landmarks'] == []


def test_pixel_limit_is_checked_before_decoding(tmp_path):
    from mmceph.imaging.image_io import ImageReadError, read_image
    big = np.zeros((2000, 3000), np.uint8)
    data = cv2.imencode('.png', big)[1].tobytes()
    (tmp_path / 'bomb.png').write_bytes(data[:200])      # header only: no pixels to decode
    with pytest.raises(ImageReadError, match=r'bomb\.png: 3000x2000 = 6\.0 million pixels.*'
                                             r'--max-pixels'):
        read_image(tmp_path / 'bomb.png', max_pixels=5_000_000)
    (tmp_path / 'ok.png').write_bytes(data)
    assert read_image(tmp_path / 'ok.png', max_pixels=6_000_000).pixels.shape == (2000, 3000)


def test_cli_max_pixels_flag(model, tmp_path):
    proc = infer(model['image'], CONFIG, model['ckpt'], '--out-dir', tmp_path / 'o',
                 '--max-pixels', '1000')
    assert proc.returncode == 1 and 'raise it with --max-pixels' in proc.stderr


def test_multi_frame_files_say_which_frame(predictor, model, tmp_path):
    grey = cv2.imread(str(model['image']), cv2.IMREAD_GRAYSCALE)
    frames = [Image.fromarray(grey), Image.fromarray(255 - grey)]
    frames[0].save(tmp_path / 'pages.tif', save_all=True, append_images=frames[1:])
    result, _, _ = predictor.predict(tmp_path / 'pages.tif')
    assert result['frame'] == {'used': 0, 'count': 2}
    single, _, _ = predictor.predict(model['image'])
    assert result['landmarks'][0]['x_px'] == pytest.approx(single['landmarks'][0]['x_px'],
                                                            abs=0.01)


def test_8_and_16_bit_copies_give_the_same_landmarks(model, tmp_path, predictor):
    from mmpose.apis import MMPoseInferencer
    grey = cv2.imread(str(model['image']), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(tmp_path / 'eight.png'), grey)
    rng = np.random.default_rng(0)          # real low bits, as a 16-bit detector has them
    sixteen = grey.astype(np.uint16) * 257 + rng.integers(0, 128, grey.shape).astype(np.uint16)
    cv2.imwrite(str(tmp_path / 'sixteen.png'), sixteen)
    assert cv2.imread(str(tmp_path / 'sixteen.png'), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    a, _, _ = predictor.predict(tmp_path / 'eight.png')
    b, _, _ = predictor.predict(tmp_path / 'sixteen.png')
    for p, q in zip(a['landmarks'], b['landmarks']):
        assert abs(p['x_px'] - q['x_px']) <= 0.1 and abs(p['y_px'] - q['y_px']) <= 0.1
    # MMPose's own inferencer reads the 16-bit file with the same mapping
    inferencer = MMPoseInferencer(pose2d=CONFIG, pose2d_weights=str(model['ckpt']), device='cpu')
    pred = next(inferencer(str(tmp_path / 'sixteen.png'), return_vis=False))['predictions'][0][0]
    for (x, y), q in zip(pred['keypoints'], b['landmarks']):
        assert abs(x - q['x_px']) <= 0.1 and abs(y - q['y_px']) <= 0.1


# --------------------------------------------------------------------- 5. spacing, JSON
def test_dicom_spacing_bounds_and_rescue(model, tmp_path):
    from dicom_files import write_dicom
    grey = cv2.imread(str(model['image']), cv2.IMREAD_GRAYSCALE)
    (tmp_path / 'in').mkdir()
    # 50 mm per pixel: a broken header
    write_dicom(tmp_path / 'in' / 'wild.dcm', grey.astype(np.uint16) * 16, (50, 50))
    proc = infer(tmp_path / 'in' / 'wild.dcm', CONFIG, model['ckpt'], '--out-dir', tmp_path / 'a')
    assert proc.returncode == 1
    assert 'PixelSpacing' in proc.stderr and '--pixel-spacing' in proc.stderr
    assert not list((tmp_path / 'a').glob('*.json'))
    proc = infer(tmp_path / 'in' / 'wild.dcm', CONFIG, model['ckpt'], '--out-dir', tmp_path / 'b',
                 '--pixel-spacing', '0.1')
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = strict_json(tmp_path / 'b' / 'wild.dcm.landmarks.json')
    assert result['pixel_spacing_mm'] == [0.1, 0.1]
    assert result['pixel_spacing_source'] == 'command line'


def test_pixel_spacing_option_has_the_dicom_bounds(model, tmp_path):
    proc = infer(model['image'], CONFIG, model['ckpt'], '--out-dir', tmp_path, '--pixel-spacing',
                 '50')
    assert proc.returncode == 2 and 'between 0.01 and 5' in proc.stderr


def test_every_json_is_strict_even_for_degenerate_values():
    from mmceph.apis.inference import describe_landmarks
    from mmceph.metainfo.isbi2015 import KEYPOINTS
    kpts = np.full((19, 2), np.nan)
    out = describe_landmarks(KEYPOINTS, kpts, np.full(19, np.nan), (0.1, 0.1))
    text = json.dumps(out, allow_nan=False)            # raises on NaN/Infinity
    assert json.loads(text)['landmarks'][0]['x_px'] is None


# ------------------------------------------------------------------- 6. the quality gate
@pytest.mark.parametrize('kind', ['blank', 'noise', 'mirrored', 'upside down', 'portrait'])
def test_images_the_model_cannot_judge_get_no_measurements(predictor, model, tmp_path, kind):
    import matplotlib.cbook as cbook
    grey = cv2.imread(str(model['image']))
    h, w = grey.shape[:2]
    image = {'blank': np.full_like(grey, 90),
             'noise': np.random.default_rng(1).integers(0, 256, grey.shape, dtype=np.uint8),
             'mirrored': grey[:, ::-1], 'upside down': grey[::-1, ::-1],
             'portrait': cv2.resize(cv2.imread(str(cbook.get_sample_data(
                 'grace_hopper.jpg', asfileobj=False))), (w, h))}[kind]
    cv2.imwrite(str(tmp_path / 'x.png'), np.ascontiguousarray(image))
    result, _, _ = predictor.predict(tmp_path / 'x.png')
    assert result['status'] == 'rejected', result['status_reasons']
    assert 'measurements' not in result and result['status_reasons']
    if kind in ('mirrored', 'upside down'):
        assert f'looks {kind}' in ' '.join(result['status_reasons'])


def test_the_real_image_passes(predictor, model):
    result, _, _ = predictor.predict(model['image'], (0.1, 0.1))
    assert result['status'] == 'ok' and len(result['measurements']) == 8
    assert all(0 <= lm['confidence'] <= 1 and lm['flags'] == [] for lm in result['landmarks'])


def test_gate_flags_landmarks_and_withholds_their_measurements():
    from data_converters.synthetic import MEAN_SHAPE
    from mmceph.apis.inference import describe_landmarks
    from mmceph.metainfo.isbi2015 import KEYPOINTS
    from mmceph.predictor.quality import LOW_CONFIDENCE, assess
    kpts = MEAN_SHAPE * [1935, 2400]
    scores = np.full(19, 0.9)
    scores[10] = LOW_CONFIDENCE / 2                      # lower incisal incision: MW
    kpts[7] = (3000, 2000)                               # menton outside: ODI, FHI
    report = assess(kpts, scores, 1935, 2400)
    assert report.status == 'review'
    assert report.flags[10] == ['low_confidence'] and report.flags[7] == ['outside_image']
    out = describe_landmarks(KEYPOINTS, kpts, scores, (0.1, 0.1), report.flags)
    assert set(out['measurements_withheld']) == {'MW', 'ODI', 'FHI'}
    assert set(out['measurements']) == {'ANB', 'SNB', 'SNA', 'APDI', 'FMA'}
    scores[:8] = 0.05                                     # most landmarks unsure: rejected
    assert assess(kpts, scores, 1935, 2400).status == 'rejected'


# --------------------------------------------------------------------------- 7. folders
def test_folder_exit_codes_and_csvs(model, tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    (empty / 'notes.txt').write_text('x')
    proc = infer(empty, CONFIG, model['ckpt'], '--out-dir', tmp_path / 'o0')
    assert proc.returncode == 2 and 'no supported image' in one_line_error(proc)
    assert not (tmp_path / 'o0').exists()
    mixed = tmp_path / 'mixed'
    mixed.mkdir()
    grey = cv2.imread(str(model['image']), cv2.IMREAD_GRAYSCALE)
    cv2.imwrite(str(mixed / 'good.png'), grey)
    cv2.imwrite(str(mixed / 'blank.png'), np.zeros_like(grey))
    proc = infer(mixed, CONFIG, model['ckpt'], '--out-dir', tmp_path / 'o1', '--pixel-spacing',
                 '0.1')
    assert proc.returncode == 3, proc.stdout + proc.stderr[-2000:]   # one rejected
    rows = (tmp_path / 'o1' / 'mmceph_landmarks.csv').read_text().splitlines()
    assert len(rows) == 1 + 19 and all(r.startswith('good.png,ok,') for r in rows[1:])
    assert strict_json(tmp_path / 'o1' / 'blank.png.landmarks.json')['status'] == 'rejected'
    (mixed / 'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n broken')
    proc = infer(mixed, CONFIG, model['ckpt'], '--out-dir', tmp_path / 'o2')
    assert proc.returncode == 1 and 'broken.png' in proc.stderr


# ----------------------------------------------------------------- 8. no tracebacks in tools
def _tool(script, *args):
    """In-process (conftest.tool_main): `mim test` below and test_interrupted_training
    run tools/test.py and tools/train.py as real processes."""
    return tool_main(script, *args)


def test_train_with_a_missing_config_or_data_root(tmp_path):
    proc = _tool('train.py', tmp_path / 'nope.py')
    assert proc.returncode == 2 and 'nope.py' in one_line_error(proc)
    proc = _tool('train.py', CONFIG, '--work-dir', tmp_path / 'w', '--cfg-options',
                 *data_options(tmp_path / 'no_such_data'))
    line = one_line_error(proc)
    assert proc.returncode == 2 and 'no_such_data' in line and 'not found' in line
    # --debug: the error is not caught, so the interpreter prints its traceback
    with pytest.raises(FileNotFoundError, match='no_such_data'):
        _tool('train.py', CONFIG, '--work-dir', tmp_path / 'w', '--debug', '--cfg-options',
              *data_options(tmp_path / 'no_such_data'))


def test_test_with_a_missing_or_misfit_checkpoint(model, tmp_path):
    proc = _tool('test.py', CONFIG, tmp_path / 'none.pth')
    assert proc.returncode == 2 and 'none.pth' in one_line_error(proc)
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ['PATH'])
    proc = subprocess.run(['mim', 'test', 'mmceph', CONFIG,
                           '--checkpoint', str(tmp_path / 'x.pth')],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and 'error: ' in proc.stderr
    assert 'x.pth: checkpoint not found' in proc.stderr
    # mim 0.3.9 itself answers any failed script with a traceback of its own
    # (CalledProcessError in mim/commands/test.py); none comes from our script
    ours = proc.stderr.split('Traceback')[0]
    assert 'x.pth: checkpoint not found' in ours
    assert 'tools/test.py", line' not in proc.stderr
    path = _variant(model, tmp_path, _drop_head)
    proc = _tool('test.py', CONFIG, path, '--work-dir', tmp_path / 'w', '--cfg-options',
                 *data_options(model['data']))
    assert proc.returncode == 2 and 'does not fit the config' in one_line_error(proc)
