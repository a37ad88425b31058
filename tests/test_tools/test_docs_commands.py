"""Every command in the docs runs as written (issue 25, item 3): the ```bash blocks of
README.md, configs/*/README.md and every page of the docs site (docs/**/*.md) are
parsed; each `python SCRIPT`, `python -m
MODULE`, `mim run mmceph TOOL`, `make TARGET` and `bash SCRIPT` must name something that
exists, each distinct Python entry point's `--help` must exit 0, every `configs/*.py`
named must exist, and the README must activate .venv before its first bare `python` or
`mim`. Placeholders (CONFIG, CKPT, ...) are fine: only --help runs."""
import glob
import os
import os.path as osp
import re
import shlex
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOCS = ['README.md'] + sorted(glob.glob('configs/*/README.md', root_dir=REPO)) + sorted(
    glob.glob('docs/**/*.md', root_dir=REPO, recursive=True))
ACTIVATE = 'source .venv/bin/activate'
# shell words and system tools the docs may use as they are
SHELL = {'ln', 'pip', 'source', 'for', 'done', 'set', 'export', 'cd', 'ls', 'mkdir'}
# the venv's own command-line tools, named by the docs as they are (the docs site's mkdocs)
VENV_TOOLS = {'mkdocs'}
MIM_TOOLS = {'train': 'tools/train.py', 'test': 'tools/test.py'}


def commands(doc):
    """``[(line, words)]`` of the doc's bash blocks: continuations joined, comments and
    leading ``VAR=value`` words dropped, ``$VAR`` of earlier assignments expanded."""
    with open(osp.join(REPO, doc)) as f:
        text = f.read()
    out = []
    for block in re.findall(r'```bash\n(.*?)```', text, re.S):
        assigned = {}
        for line in re.sub(r'\\\n\s*', ' ', block).splitlines():
            line = re.sub(r'(^|\s)#.*', '', line).strip()
            if not line:
                continue
            m = re.fullmatch(r'([A-Z][A-Z0-9_]*)=("[^"]*"|\S*)', line)
            if m:                                       # S=configs/... in the block
                assigned[m.group(1)] = ' '.join(shlex.split(m.group(2)))
                continue
            for name, value in assigned.items():
                line = re.sub(r'\$' + name + r'\b', value, line)
            words = shlex.split(line.split(';')[0].replace('$(', '').replace(')"', '"'))
            while words and re.fullmatch(r'[A-Z_]+=\S*', words[0]):
                words = words[1:]
            if words:
                out.append((line, words))
    return out


def entry_point(words):
    """('script', path) / ('module', name) / ('mim', tool) / ('make', target) /
    ('bash', path) / ('shell', word) of one command; AssertionError when unknown."""
    head = words[0]
    if head in ('python', '.venv/bin/python'):
        if words[1] == '-m':
            return 'module', words[2]
        return 'script', words[1]
    if head == 'mim':
        assert words[2] == 'mmceph', words
        return 'mim', words[3] if words[1] == 'run' else MIM_TOOLS[words[1]]
    if head in ('make', 'bash'):
        return head, words[1]
    if head == '.venv/bin/ruff':
        return 'shell', head
    if head in VENV_TOOLS:
        return 'venv', head
    assert head in SHELL, f'unknown command {head!r}: {" ".join(words)}'
    return 'shell', head


def all_commands():
    return [(doc, line, words) for doc in DOCS for line, words in commands(doc)]


def test_the_docs_have_commands_and_the_readme_activates_the_venv_first():
    found = all_commands()
    assert len(found) > 50 and {d for d, _, _ in found} >= {'README.md'}
    readme = [words for doc, _, words in found if doc == 'README.md']
    first_bare = next(i for i, w in enumerate(readme) if w[0] in ('python', 'mim'))
    assert any(w[:2] == ['source', '.venv/bin/activate'] for w in readme[:first_bare])


def test_every_named_file_exists():
    for doc, line, words in all_commands():
        kind, target = entry_point(words)
        if kind in ('script', 'bash'):
            assert osp.isfile(osp.join(REPO, target)), f'{doc}: {line}'
        if kind == 'mim' and target.endswith('.py'):
            assert osp.isfile(osp.join(REPO, target)), f'{doc}: {line}'
        if kind == 'mim' and not target.endswith('.py'):
            assert osp.isfile(osp.join(REPO, 'tools', target + '.py')), f'{doc}: {line}'
        if kind == 'venv':
            assert osp.isfile(osp.join(osp.dirname(sys.executable), target)), f'{doc}: {line}'
        if kind == 'make':
            with open(osp.join(REPO, 'Makefile')) as f:
                assert re.search(rf'^{target}:', f.read(), re.M), f'{doc}: {line}'
        for word in words:
            if re.fullmatch(r'(\S*=)?configs/[^:]+\.py(:\S*)?', word):
                path = re.sub(r'^\S*=|:\S*$', '', word)
                assert osp.isfile(osp.join(REPO, path)), f'{doc}: {path} in {line}'


def help_commands():
    """One ``--help`` command per distinct Python entry point of the docs."""
    seen = {}
    for _, _, words in all_commands():
        kind, target = entry_point(words)
        if kind == 'script':
            seen.setdefault(target, [sys.executable, target, '--help'])
        elif kind == 'module':
            seen.setdefault(target, [sys.executable, '-m', target, '--help'])
        elif kind == 'venv':
            seen.setdefault(target, [osp.join(osp.dirname(sys.executable), target), '--help'])
        elif kind == 'mim':
            tool = target if target.endswith('.py') else f'tools/{target}.py'
            seen.setdefault(tool, [sys.executable, tool, '--help'])
    return sorted(seen.items())


@pytest.mark.parametrize('name, cmd', help_commands(), ids=[n for n, _ in help_commands()])
def test_every_entry_point_answers_help(name, cmd):
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f'{name}: {proc.stderr[-2000:]}'
    assert 'usage' in proc.stdout.lower(), proc.stdout[-500:]
    assert 'pkg_resources' not in proc.stderr, proc.stderr[-500:]
