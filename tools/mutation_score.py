"""The mutation score per module from mutmut's results (``make mutation`` prints it).

score = killed / (mutants tested - equivalent), where the equivalent mutants are listed,
each with why no test can tell it from the original, in docs/mutation.md (lines
``- `NAME`: why``). Mutants a test run timed out on count as killed (the mutant changed
behaviour: it hung); mutants no selected test reaches ("no tests") count as survivors.

Only the modules mutmut ran in this session (``mutmut run GLOB...`` after ``rm -rf
mutants``) are scored; the others are named as not run, and their equivalent mutants
are not checked (a module's listed mutant is "now killed or gone" only when its module
was run and the mutant was killed, or no longer exists).

    python tools/mutation_score.py          # after `mutmut run` in the repository root
    python tools/mutation_score.py --results saved.txt   # `mutmut results --all true` saved
"""
import argparse
import collections
import os.path as osp
import re
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
KILLED = {'killed', 'timeout'}
NOT_RUN = 'not checked'
EQUIVALENT_LIST = osp.join(REPO, 'docs', 'mutation.md')


def equivalent_mutants(path=EQUIVALENT_LIST):
    with open(path) as f:
        return set(re.findall(r'^- `([^`]+)`:', f.read(), re.M))


def module_of(name):
    return re.split(r'\.x(?:_|ǁ)', name, maxsplit=1)[0]


def parse_results(text):
    """``{mutant: status}`` from the listing of ``mutmut results --all true``."""
    return dict(re.findall(r'^\s+(\S+): (.+?)\s*$', text, re.M))


def report(results, equivalent):
    """The score table of the modules that were run, the survivors, the modules not run,
    and the listed equivalent mutants of run modules that a test now kills or that are gone."""
    run = {module_of(n) for n, s in results.items() if s != NOT_RUN}
    not_run = sorted({module_of(n) for n in (*results, *equivalent)} - run)
    counts = collections.defaultdict(collections.Counter)
    for name, status in results.items():
        if status == NOT_RUN:
            continue
        kind = 'killed' if status in KILLED else (
            'equivalent' if name in equivalent else 'survived')
        counts[module_of(name)][kind] += 1
    lines = ['| module | killed | survived | equivalent | score |', '|---|---|---|---|---|']
    total = collections.Counter()
    for module in sorted(counts):
        c = counts[module]
        total.update(c)
        score = c['killed'] / max(1, c['killed'] + c['survived'])
        lines.append(f"| {module} | {c['killed']} | {c['survived']} | {c['equivalent']} | "
                     f'{100 * score:.1f} % |')
    score = total['killed'] / max(1, total['killed'] + total['survived'])
    lines.append(f"| all run | {total['killed']} | {total['survived']} | "
                 f"{total['equivalent']} | {100 * score:.1f} % |")
    survivors = sorted(n for n, s in results.items()
                       if s not in KILLED | {NOT_RUN} and n not in equivalent)
    if survivors:
        lines.append('\nsurvivors (kill with a test, or list in docs/mutation.md with why):')
        lines += [f'  {n}: {results[n]}' for n in survivors]
    if not_run:
        lines.append('\nnot run in this session (no score; their equivalent mutants not '
                     'checked): ' + ', '.join(not_run))
    # a listed mutant of a run module: killed now, or gone (the code changed); one left
    # "not checked" (a function the run's globs left out) says nothing
    stale = sorted(n for n in equivalent
                   if module_of(n) in run and (results.get(n) in KILLED or n not in results))
    if stale:
        lines.append('\nlisted as equivalent but now killed or gone: ' + ', '.join(stale))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--results', help="a saved listing of `mutmut results --all true` "
                        '(default: ask mutmut in the repository root)')
    parser.add_argument('--equivalent', default=EQUIVALENT_LIST,
                        help='the list of equivalent mutants (default: docs/mutation.md)')
    args = parser.parse_args(argv)
    if args.results:
        with open(args.results) as f:
            text = f.read()
    else:
        mutmut = osp.join(osp.dirname(sys.executable), 'mutmut')
        text = subprocess.run([mutmut, 'results', '--all', 'true'], cwd=REPO,
                              capture_output=True, text=True, check=True).stdout
    print(report(parse_results(text), equivalent_mutants(args.equivalent)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
