"""Packaging glue: ship tools/ and configs/ inside the wheel as mmceph/.mim/ so that
`mim train mmceph CFG` and `mim test mmceph CFG` work from any directory (mim looks for
<package>/.mim/tools/train.py and <package>/.mim/configs); and the extras, whose pins come
from requirements.txt, the project's one list of pins."""
import os
import re
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithMim(build_py):
    def run(self):
        super().run()
        mim = os.path.join(self.build_lib, 'mmceph', '.mim')
        for name in ('tools', 'configs'):
            dst = os.path.join(mim, name)
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(name, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        shutil.copy('model-index.yml', os.path.join(mim, 'model-index.yml'))


# the torch-free ONNX runtime (mmceph.runtime, tools/infer.py on an exported folder):
#   pip install ".[runtime]"   (install_requires is empty, so no torch/MMPose comes with it)
RUNTIME = ('onnxruntime', 'numpy', 'opencv-python-headless', 'pillow', 'tqdm')
# tools/deployment/export_onnx.py (inside the full MMPose environment)
EXPORT = ('onnx', 'onnxruntime')


REQUIREMENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'requirements.txt')


def pins(path=REQUIREMENTS):
    """``{lower-case name: 'name==version'}`` of the exact pins in requirements.txt."""
    found = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#;]+)', line)
            if m:
                found[m.group(1).lower()] = f'{m.group(1)}=={m.group(2)}'
    return found


def extras():
    have = pins()
    missing = [n for n in RUNTIME + EXPORT if n not in have]
    if missing:
        raise SystemExit(f'requirements.txt: no exact pin (==) for {", ".join(missing)}')
    return dict(runtime=[have[n] for n in RUNTIME], export=[have[n] for n in EXPORT])


if __name__ == '__main__':
    setup(cmdclass={'build_py': BuildPyWithMim}, extras_require=extras())
