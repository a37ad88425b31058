"""tools/mutation_score.py scores only the modules mutmut ran in the session: a module
whose mutants are all "not checked" is named as not run, and its listed equivalent
mutants are not reported as killed or gone (they were not checked at all)."""
from conftest import tool_main

# the listing `mutmut results --all true` prints, for two modules: `a` run, `b` not run
RESULTS = """\
    pkg.a.x_f__mutmut_1: killed
    pkg.a.x_f__mutmut_2: timeout
    pkg.a.x_f__mutmut_3: survived
    pkg.a.x_f__mutmut_4: survived
    pkg.a.x_f__mutmut_5: killed
    pkg.a.x_g__mutmut_1: no tests
    pkg.a.xǁCǁm__mutmut_1: killed
    pkg.a.x_h__mutmut_1: not checked
    pkg.b.x_f__mutmut_1: not checked
    pkg.b.x_f__mutmut_2: not checked
"""
EQUIVALENT = """\
# Mutation testing
- `pkg.a.x_f__mutmut_4`: equivalent, survives as it should.
- `pkg.a.x_f__mutmut_5`: listed, but a test kills it now.
- `pkg.a.x_f__mutmut_9`: listed, but the code changed and it is gone.
- `pkg.a.x_h__mutmut_1`: listed, in a function this run's globs left out.
- `pkg.b.x_f__mutmut_2`: listed, in a module not run.
- `pkg.c.x_f__mutmut_1`: listed, in a module mutmut no longer knows.
"""


def test_only_modules_that_were_run_are_scored_and_checked(tmp_path):
    (tmp_path / 'results.txt').write_text(RESULTS, encoding='utf-8')
    (tmp_path / 'mutation.md').write_text(EQUIVALENT)
    run = tool_main('mutation_score.py', '--results', tmp_path / 'results.txt',
                    '--equivalent', tmp_path / 'mutation.md')
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    # a: 4 killed (killed, timeout, the method's), 2 survived (one "no tests"), 1 equivalent
    assert '| pkg.a | 4 | 2 | 1 | 66.7 % |' in lines
    assert '| all run | 4 | 2 | 1 | 66.7 % |' in lines
    assert not any(line.startswith('| pkg.b') or line.startswith('| pkg.c') for line in lines)
    assert '  pkg.a.x_f__mutmut_3: survived' in lines and '  pkg.a.x_g__mutmut_1: no tests' in lines
    assert ('not run in this session (no score; their equivalent mutants not checked): '
            'pkg.b, pkg.c') in lines
    assert ('listed as equivalent but now killed or gone: pkg.a.x_f__mutmut_5, '
            'pkg.a.x_f__mutmut_9') in lines


def test_a_complete_run_names_no_module_as_not_run(tmp_path):
    (tmp_path / 'results.txt').write_text('    pkg.a.x_f__mutmut_1: killed\n', encoding='utf-8')
    (tmp_path / 'mutation.md').write_text('- `pkg.a.x_f__mutmut_2`: gone.\n')
    run = tool_main('mutation_score.py', '--results', tmp_path / 'results.txt',
                    '--equivalent', tmp_path / 'mutation.md')
    assert '| pkg.a | 1 | 0 | 0 | 100.0 % |' in run.stdout.splitlines()
    assert 'not run' not in run.stdout and 'survivors' not in run.stdout
    assert run.stdout.splitlines()[-1] == 'listed as equivalent but now killed or gone: ' \
                                       'pkg.a.x_f__mutmut_2'
