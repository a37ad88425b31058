"""Results have one source, configs/*/metafile.yml: every table in the README, the docs
and the config READMEs is generated from it by tools/misc/results_tables.py, and --check
(run here, as make test runs it) fails naming the file when a table and its metafile
disagree, whichever of the two was edited."""
import os.path as osp
import re
import shutil
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools', 'misc', 'results_tables.py')


def run(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True,
                          timeout=120)


def copy_repo(tmp_path):
    """The files the generator reads and writes, in a scratch repository."""
    root = tmp_path / 'repo'
    shutil.copytree(osp.join(REPO, 'configs'), root / 'configs')
    shutil.copytree(osp.join(REPO, 'docs'), root / 'docs')
    shutil.copy(osp.join(REPO, 'README.md'), root / 'README.md')
    return root


def test_every_table_agrees_with_the_metafiles():
    proc = run('--check')
    assert proc.returncode == 0, proc.stderr


def test_a_tampered_table_fails_the_check_naming_the_file(tmp_path):
    root = copy_repo(tmp_path)
    readme = root / 'configs' / 'isbi2015' / 'README.md'
    text = readme.read_text()
    assert '| 1.450 | 78.8 % |' in text
    readme.write_text(text.replace('| 1.450 | 78.8 % |', '| 1.405 | 78.8 % |'))
    proc = run('--check', '--root', str(root))
    assert proc.returncode == 1
    assert 'configs/isbi2015/README.md' in proc.stderr and 'README.md:' not in proc.stdout
    # writing mode repairs it, after which the check passes again
    assert run('--root', str(root)).returncode == 0
    assert '| 1.450 | 78.8 % |' in readme.read_text()
    assert run('--check', '--root', str(root)).returncode == 0


def test_a_changed_metafile_makes_every_table_showing_it_stale(tmp_path):
    root = copy_repo(tmp_path)
    meta = root / 'configs' / 'isbi2015' / 'metafile.yml'
    text = meta.read_text()
    assert text.count('MRE (mm): 1.121') == 1      # the recommended recipe, in all four
    meta.write_text(text.replace('MRE (mm): 1.121', 'MRE (mm): 1.221'))
    proc = run('--check', '--root', str(root))
    assert proc.returncode == 1
    for stale in ('README.md', 'docs/index.md', 'docs/model_guides/results.md',
                  'configs/isbi2015/README.md'):
        assert f'{stale}: ' in proc.stderr, proc.stderr


def test_a_row_is_what_the_metafile_says(tmp_path):
    """A one-model metafile, its row written out by hand."""
    root = tmp_path / 'repo'
    (root / 'configs' / 'toy').mkdir(parents=True)
    (root / 'configs' / 'toy' / 'metafile.yml').write_text('''Models:
- Name: td-hm_x_1xb4-10e_toy-64x64 (short)
  Config: configs/toy/td-hm_x_1xb4-10e_toy-64x64.py
  Metadata:
    Training Annotation: senior
    Epochs: '10'
    Training Time (min): 7
    FLOPs (G): 1.5
  Results:
  - Dataset: Toy test (3 images), senior annotation
    Reference Annotation: senior
    Checkpoint Selection: validation split
    Metrics:
      MRE (mm): 1.2344
      SDR 2mm: 81.24
''')
    (root / 'configs' / 'toy' / 'README.md').write_text(
        'x\n<!-- mmceph-results toy -->\nold\n<!-- /mmceph-results -->\ny\n')
    assert run('--check', '--root', str(root)).returncode == 1
    assert run('--root', str(root)).returncode == 0
    assert (root / 'configs' / 'toy' / 'README.md').read_text() == '''x
<!-- mmceph-results toy -->
Reference annotation: senior.
Test split: Toy test (3 images).
Checkpoint selection, every row: validation split.

| config | trained on | epochs | training time | MRE (mm), senior | SDR 2 mm, senior | \
inference (s/image) | GFLOPs |
| --- | --- | --- | --- | --- | --- | --- | --- |
| `td-hm_x_1xb4-10e_toy-64x64.py` (short) | senior | 10 | 7 min | 1.234 | 81.2 % | — | 1.50 |
<!-- /mmceph-results -->
y
'''


def test_a_marker_naming_no_metafile_is_one_line_naming_the_file(tmp_path):
    root = copy_repo(tmp_path)
    page = root / 'docs' / 'index.md'
    marker = '\n<!-- mmceph-results nosuch -->\n<!-- /mmceph-results -->\n'
    page.write_text(page.read_text() + marker)
    proc = run('--check', '--root', str(root))
    assert proc.returncode == 2
    assert proc.stderr.count('\n') == 1 and 'docs/index.md:' in proc.stderr
    assert 'configs/nosuch/metafile.yml' in proc.stderr


def test_a_result_without_its_reference_or_selection_is_refused(tmp_path):
    """The schema is the point: a result that does not say what it was scored against, or
    how its checkpoint was chosen, is one line naming the metafile, and nothing is written."""
    for field in ('Reference Annotation', 'Checkpoint Selection'):
        root = copy_repo(tmp_path / field.split()[0])
        meta = root / 'configs' / 'isbi2015' / 'metafile.yml'
        meta.write_text(meta.read_text().replace(f'    {field}:', '    Other:', 1))
        before = (root / 'README.md').read_text()
        proc = run('--root', str(root))
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count('\n') == 1 and str(meta) in proc.stderr and field in proc.stderr
        assert (root / 'README.md').read_text() == before


def test_a_config_readme_without_its_table_is_refused(tmp_path):
    root = copy_repo(tmp_path)
    readme = root / 'configs' / 'aariz' / 'README.md'
    readme.write_text('# aariz\n\nresults typed by hand\n')
    proc = run('--check', '--root', str(root))
    assert proc.returncode == 2 and 'configs/aariz/README.md' in proc.stderr


def test_every_isbi_table_names_its_reference_and_checkpoint_selection():
    tables = []
    for doc in ('README.md', 'docs/index.md', 'docs/model_guides/results.md',
                'configs/isbi2015/README.md'):
        with open(osp.join(REPO, doc)) as f:
            tables += re.findall(r'^<!-- mmceph-results (?:recipes|isbi2015) -->\n(.*?)^<!-- /',
                                 f.read(), re.S | re.M)
    assert len(tables) == 4
    for table in tables:
        # a caption when every row shares one selection, else a column of the table
        assert 'checkpoint selection' in table.lower()
        assert 'literature protocol' in table or 'validation split' in table
        assert 'senior' in table.split('\n| ---')[0] and 'mean' in table.split('\n| ---')[0]
