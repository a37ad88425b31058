"""tools/compose_cascade.py: a trained refiner on top of another global model, or a refusal."""
import hashlib
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

import mmceph.registration  # noqa: F401
from mmceph.apis.checkpoint import load_fitting_checkpoint
from mmceph.utils.cli import guarded_main

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ISBI = osp.join(REPO, 'configs', 'isbi2015')
LITE0_CASCADE = osp.join(ISBI, 'td-hm_lite0-fpn-cascade_1xb4-60e_isbi2015-576x448.py')
LITE0 = osp.join(ISBI, 'td-hm_lite0-fpn_1xb4-40e_isbi2015-576x448.py')
S2D_CASCADE = osp.join(ISBI, 'td-hm_s2d-hrnetv2-w18-cascade_1xb4-60e_isbi2015-576x448.py')

spec = importlib.util.spec_from_file_location('compose_cascade',
                                              osp.join(REPO, 'tools', 'compose_cascade.py'))
compose = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compose)


def saved(config, path, seed, num_keypoints=19):
    """A checkpoint of config's model with seeded random weights; returns its state dict."""
    init_default_scope('mmpose')
    torch.manual_seed(seed)
    model = MODELS.build(Config.fromfile(config).model)
    state = {k: torch.randn_like(v) if v.is_floating_point() else v
             for k, v in model.state_dict().items()}
    torch.save(dict(state_dict=state, meta=dict(dataset_meta=dict(num_keypoints=num_keypoints))),
               path)
    return state


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp('compose')
    paths = dict(lite0=root / 'lite0.pth', s2d_cascade=root / 's2d_cascade.pth')
    states = dict(lite0=saved(LITE0, paths['lite0'], 0),
                  s2d_cascade=saved(S2D_CASCADE, paths['s2d_cascade'], 1))
    return root, paths, states


def run(*argv):
    return guarded_main(compose.main, [str(a) for a in argv])


def test_global_weights_come_from_one_checkpoint_and_the_refiner_from_the_other(checkpoints):
    root, paths, states = checkpoints
    out = root / 'composed.pth'
    assert run(LITE0_CASCADE, '--global', paths['lite0'], '--refiner', paths['s2d_cascade'],
               '--out', out) == 0
    ckpt = torch.load(out, map_location='cpu', weights_only=False)
    state = ckpt['state_dict']
    for key in ('backbone.stem.conv.weight', 'head.final_layer.weight'):
        assert torch.equal(state[key], states['lite0'][key])
    refiner_keys = [k for k in state if k.startswith('refiner.')]
    assert refiner_keys and all(torch.equal(state[k], states['s2d_cascade'][k])
                                for k in refiner_keys)
    # the S2D cascade's own global model (an HRNet) is not carried over
    assert not any(k.startswith('backbone.stage') for k in state)
    sources = ckpt['meta']['composed_from']
    assert sources['refiner']['sha256'] == hashlib.sha256(
        paths['s2d_cascade'].read_bytes()).hexdigest()
    assert sources['global_model']['path'] == str(paths['lite0'])
    init_default_scope('mmpose')
    model = MODELS.build(Config.fromfile(LITE0_CASCADE).model)
    load_fitting_checkpoint(model, str(out), 19)          # loads strictly


@pytest.mark.parametrize('case,message', [
    ('wrong global', 'does not fit td-hm_lite0-fpn-cascade'),
    ('no refiner', 'has no refiner.* weights'),
    ('out is input', '--out must not overwrite an input checkpoint'),
    ('landmarks', 'trained for 38 landmarks, but the config describes 19'),
    ('not a cascade', 'not a LandmarkCascade config'),
])
def test_mismatches_are_refused_in_one_line_and_nothing_is_written(checkpoints, tmp_path,
                                                                   capsys, case, message):
    _, paths, _ = checkpoints
    config, glob_, refiner = LITE0_CASCADE, paths['lite0'], paths['s2d_cascade']
    out = tmp_path / 'out.pth'
    if case == 'wrong global':
        glob_ = paths['s2d_cascade']           # an HRNet global for a Lite0 config
    elif case == 'no refiner':
        refiner = paths['lite0']
    elif case == 'out is input':
        out = paths['lite0']
    elif case == 'landmarks':
        glob_ = tmp_path / 'other.pth'
        saved(LITE0, glob_, 2, num_keypoints=38)
    elif case == 'not a cascade':
        config = LITE0
    before = paths['lite0'].read_bytes()
    assert run(config, '--global', glob_, '--refiner', refiner, '--out', out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert paths['lite0'].read_bytes() == before
    assert not (tmp_path / 'out.pth').exists()
