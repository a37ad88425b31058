"""A tool's command line run in this process: ``tools/X.py ARGS`` exactly as a user types
it (argparse, one-line errors, exit status), without a subprocess start per case and
without importing the tool as a module (a tool is argparse plus calls into mmceph)."""
import os.path as osp
import runpy
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def run_tool(tool, argv):
    """Exit status of ``python tool *argv`` (``tool`` relative to the repository)."""
    saved = sys.argv
    sys.argv = [osp.join(REPO, tool), *map(str, argv)]
    try:
        runpy.run_path(sys.argv[0], run_name='__main__')
    except SystemExit as done:
        code = done.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)              # sys.exit('message'), as Python does
        return 1
    finally:
        sys.argv = saved
    return 0
