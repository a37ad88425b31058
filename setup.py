"""Packaging glue: ship tools/ and configs/ inside the wheel as mmceph/.mim/ so that
`mim train mmceph CFG` and `mim test mmceph CFG` work from any directory (mim looks for
<package>/.mim/tools/train.py and <package>/.mim/configs)."""
import os
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


setup(cmdclass={'build_py': BuildPyWithMim})
