"""What the runtime tests and the review tests share: the clinic's runtime-only package
pins and the exportable demo cascade config."""
import copy
import glob
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def opencv_here():
    """The OpenCV wheel version this environment imports. The clinic's venv gets the same
    OpenCV (headless): resampling and blurring differ between OpenCV releases (4.11 vs 5.0
    moved a landmark of the demo cascade by 0.07 px), and the runtime's promise is equality
    with the PyTorch path given the same libraries."""
    import importlib.metadata as md

    import cv2
    for dist in ('opencv-python', 'opencv-python-headless', 'opencv-contrib-python'):
        try:
            version = md.version(dist)
        except md.PackageNotFoundError:
            continue
        if version.startswith(cv2.__version__ + '.'):
            return version
    return '4.11.0.86'


# what the clinic's venv gets (+ tqdm, the progress bar of tools/infer.py)
RUNTIME_PACKAGES = ('onnxruntime==1.32.0', 'numpy==2.3.5',
                    f'opencv-python-headless=={opencv_here()}', 'pillow==11.2.1',
                    'tqdm==4.67.1')


def config_path(pattern):
    found = sorted(glob.glob(osp.join(REPO, 'configs', pattern)))
    assert found, pattern
    return found[0]


REFINE_ONLY = [0, 5, 11, 12, 13, 14, 15, 16, 17, 18]


def cascade_config(tmp):
    """The demo config with a LandmarkCascade model (demo global model + tiny refiner)."""
    from mmengine.config import Config
    cfg = Config.fromfile(config_path('synthetic/*.py'))
    meta_keys = Config.fromfile(config_path('isbi2015/*cascade_*.py')).meta_keys
    glob_codec = dict(type='CompensatedHeatmap', input_size=cfg.codec['input_size'],
                      heatmap_size=cfg.codec['heatmap_size'], sigma=2.0)
    model = copy.deepcopy(cfg.model.to_dict())
    model['head']['decoder'] = glob_codec
    refiner = {k: copy.deepcopy(model[k]) for k in ('type', 'backbone', 'neck', 'head')}
    # the same fully convolutional network on 64x64 patches: 7.5x cheaper than 160x192
    refiner['head']['decoder'] = dict(type='CompensatedHeatmap', input_size=(64, 64),
                                      heatmap_size=(16, 16), sigma=2.0)
    cfg.model = dict(model, type='LandmarkCascade', refiner=refiner, patch_fraction=0.6,
                     refine_steps=2, test_shifts=[(0, 0), (0.05, -0.05)],
                     refine_only=REFINE_ONLY)   # the runtime must refine the same subset
    pipeline = cfg.test_dataloader.dataset.pipeline
    pipeline.insert(1, dict(type='KeepFullImage'))
    pipeline[-1] = dict(type='PackPoseInputs', meta_keys=meta_keys)
    path = str(tmp / 'cascade.py')
    cfg.dump(path)
    return path
