"""The mutation score per module from mutmut's results (``make mutation`` prints it).

score = killed / (mutants tested - equivalent), where the equivalent mutants are listed,
each with why no test can tell it from the original, in docs/mutation.md (lines
``- `NAME`: why``). Mutants a test run timed out on count as killed (the mutant changed
behaviour: it hung); mutants no selected test reaches ("no tests") count as survivors.

    python tools/mutation_score.py          # after `mutmut run` in the repository root
"""
import collections
import os.path as osp
import re
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
KILLED = {'killed', 'timeout'}
EQUIVALENT_LIST = osp.join(REPO, 'docs', 'mutation.md')


def equivalent_mutants(path=EQUIVALENT_LIST):
    with open(path) as f:
        return set(re.findall(r'^- `([^`]+)`:', f.read(), re.M))


def module_of(name):
    return re.split(r'\.x(?:_|ǁ)', name, maxsplit=1)[0]


def main(argv=None):
    mutmut = osp.join(osp.dirname(sys.executable), 'mutmut')
    out = subprocess.run([mutmut, 'results', '--all', 'true'], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout
    results = dict(re.findall(r'^\s+(\S+): (.+)$', out, re.M))
    equivalent = equivalent_mutants()
    stale = sorted(n for n in equivalent if results.get(n) not in (None, 'survived'))
    counts = collections.defaultdict(collections.Counter)
    for name, status in results.items():
        if status == 'not checked':
            continue
        kind = 'killed' if status in KILLED else (
            'equivalent' if name in equivalent else 'survived')
        counts[module_of(name)][kind] += 1
    print('| module | killed | survived | equivalent | score |')
    print('|---|---|---|---|---|')
    total = collections.Counter()
    for module in sorted(counts):
        c = counts[module]
        total.update(c)
        score = c['killed'] / max(1, c['killed'] + c['survived'])
        print(f"| {module} | {c['killed']} | {c['survived']} | {c['equivalent']} | "
              f'{100 * score:.1f} % |')
    score = total['killed'] / max(1, total['killed'] + total['survived'])
    print(f"| all | {total['killed']} | {total['survived']} | {total['equivalent']} | "
          f'{100 * score:.1f} % |')
    survivors = sorted(n for n, s in results.items()
                       if s not in KILLED | {'not checked'} and n not in equivalent)
    if survivors:
        print('\nsurvivors (kill with a test, or list in docs/mutation.md with why):')
        print('\n'.join(f'  {n}: {results[n]}' for n in survivors))
    if stale:
        print('\nlisted as equivalent but now killed or gone: ' + ', '.join(stale))
    return 0


if __name__ == '__main__':
    sys.exit(main())
