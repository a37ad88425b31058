"""The documentation site builds with warnings as errors (mkdocs.yml: strict, every internal
link and anchor validated), and that check has teeth: a page with a dead link or a dead
anchor fails the same configuration. (Never build with `-q`: mkdocs 1.6.1 then stops
counting warnings, and --strict passes a dead link.)"""
import os
import os.path as osp
import re
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# mkdocs-material prints a notice about MkDocs 2.0 on every build; it is not a warning of ours
ENV = dict(os.environ, NO_MKDOCS_2_WARNING='1')


def build(config, site):
    return subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '--strict',
                           '-f', str(config), '-d', str(site)], env=ENV,
                          cwd=osp.dirname(str(site)),   # not the repository: the config's
                          capture_output=True, text=True, timeout=300)  # paths resolve alone


def test_the_docs_site_builds_without_a_warning(tmp_path):
    proc = build(osp.join(REPO, 'mkdocs.yml'), tmp_path / 'site')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'WARNING' not in proc.stderr, proc.stderr[-3000:]
    # the pages the README links to exist in the built site, the naming rule included
    for page in ('index.html', 'get_started/your_radiograph.html', 'model_guides/results.html',
                 'research/index.html', 'guarantees.html'):
        assert (tmp_path / 'site' / page).is_file(), page
    naming = (tmp_path / 'site' / 'model_guides' / 'config_naming.html').read_text()
    assert 'td-hm-cascade_lite0-fpn-ref-lite0-fpn_1xb4-20e_isbi2015-576x448' in naming


def _site_with(tmp_path, page_text):
    """The repository's mkdocs.yml (INHERIT) over a two-page docs folder."""
    docs = tmp_path / 'docs'
    docs.mkdir(parents=True)
    (docs / 'index.md').write_text('# Home\n\n## Known heading\n\nSee [the page](page.md).\n')
    (docs / 'page.md').write_text(page_text)
    config = tmp_path / 'mkdocs.yml'
    config.write_text(f'INHERIT: {osp.join(REPO, "mkdocs.yml")}\ndocs_dir: {docs}\n'
                      'nav:\n  - index.md\n  - page.md\n')
    return build(config, tmp_path / 'site')


def test_a_dead_link_or_anchor_fails_the_build(tmp_path):
    ok = _site_with(tmp_path / 'ok', '# Page\n\n[home](index.md#known-heading)\n')
    assert ok.returncode == 0, ok.stderr[-2000:]
    dead_page = _site_with(tmp_path / 'page', '# Page\n\n[gone](missing.md)\n')
    assert dead_page.returncode != 0 and 'missing.md' in dead_page.stderr
    dead_anchor = _site_with(tmp_path / 'anchor', '# Page\n\n[home](index.md#no-such-heading)\n')
    assert dead_anchor.returncode != 0 and 'no-such-heading' in dead_anchor.stderr


def test_every_research_note_is_dated_and_keeps_its_commands():
    """A measurement log without the commands that produced it cannot be reproduced; the
    commands themselves are checked by test_docs_commands.py (each names a real tool)."""
    research = osp.join(REPO, 'docs', 'research')
    notes = sorted(n for n in os.listdir(research) if n != 'index.md')
    assert len(notes) >= 8
    with open(osp.join(REPO, 'mkdocs.yml')) as f:
        nav = f.read()
    with open(osp.join(research, 'index.md')) as f:
        index = f.read()
    for note in notes:
        assert re.fullmatch(r'\d{4}-\d{2}-\d{2}-[a-z0-9-]+\.md', note), note
        with open(osp.join(research, note)) as f:
            assert '```bash\n' in f.read(), f'{note} has no commands'
        assert f'research/{note}' in nav and f'({note})' in index, note
