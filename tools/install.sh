#!/usr/bin/env bash
# Install mmceph and its pinned stack (requirements.txt) into .venv, idempotently.
#
# Why a script and not a plain `pip install -r`: mmpose must go in without its chumpy
# dependency, xtcocotools must compile against the installed numpy, and mmcv 2.1.0 has no
# PyPI wheel, so it comes from PIP_FIND_LINKS when a wheel is there, otherwise it is built
# from the sdist once (10-20 min on 2 cores) and cached in $MMCEPH_WHEEL_CACHE.
# Re-running on a ready .venv only reinstalls mmceph itself (seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${MMCEPH_VENV:-$ROOT/.venv}
PY=${PYTHON:-python3.11}
CACHE=${MMCEPH_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmceph/wheels}
mkdir -p "$CACHE"
export PIP_FIND_LINKS="${PIP_FIND_LINKS:+$PIP_FIND_LINKS }$CACHE"
export PIP_DISABLE_PIP_VERSION_CHECK=1
# Every pip call is constrained by our pins, so no dependency (torch pulls setuptools) drifts.
CONSTRAINTS=$(mktemp)
sed 's/[[:space:]]*#.*//' requirements.txt > "$CONSTRAINTS"
build=""
trap 'rm -rf "$CONSTRAINTS" ${build:+"$build"}' EXIT
step() { printf '\n[mmceph install] %s\n' "$*"; }

pin() { grep -E "^$1==" requirements.txt | sed 's/[[:space:]]*#.*//' | head -n1; }
rest_pins() {  # every pin except the ones installed specially
  sed 's/[[:space:]]*#.*//; /^$/d' requirements.txt |
    grep -vE '^(torch|torchvision|mmcv|mmpose|xtcocotools)=='
}

STAMP=$VENV/.mmceph-deps.sha
want=$( (cat requirements.txt tools/install.sh; echo "$PY") | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  step "dependencies already installed in $VENV (requirements.txt unchanged)"
else
  if [ ! -x "$VENV/bin/python" ]; then
    step "creating $VENV with $PY"
    "$PY" -m venv "$VENV"
  fi
  PIP="$VENV/bin/python -m pip --no-input"
  # --no-warn-conflicts: pip would print a red "ERROR: ... mmpose requires chumpy" after
  # successful steps (mmpose goes in without chumpy on purpose); `pip check` after step 6
  # fails the install on any other broken dependency instead.
  PIPI="$PIP install --no-warn-conflicts -c $CONSTRAINTS"
  step "1/6 build tools and numpy"
  $PIPI -q "pip>=24" $(rest_pins | grep -E '^(setuptools|wheel|ninja|cython|numpy)')
  step "2/6 torch + torchvision (large download on first install)"
  $PIPI -q --progress-bar on "$(pin torch)" "$(pin torchvision)"
  step "3/6 mmcv (full, with compiled ops)"
  if $PIPI -q --no-deps --only-binary mmcv "$(pin mmcv)" 2>/dev/null; then
    echo "mmcv installed from a prebuilt wheel (PIP_FIND_LINKS: $PIP_FIND_LINKS)"
  else
    echo "no prebuilt mmcv wheel for this torch: building from source into $CACHE"
    echo "(10-20 minutes on 2 cores; one line per compiled file follows so you can see it progress)"
    build=$(mktemp -d)
    $PIP download -q --no-deps --no-binary :all: --no-build-isolation "$(pin mmcv)" -d "$build"
    tar xzf "$build"/mmcv-*.tar.gz -C "$build"
    # torch >= 2.10 headers need C++20; mmcv 2.1.0 hard-codes C++14/17.
    sed -i 's/-std=c++1[47]/-std=c++20/g' "$build"/mmcv-*/setup.py
    # progress: one line per compiled file ("[12/77] compiling nms.cpp"), plus errors
    if ! MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=$(nproc) \
        $PIP wheel -v --no-deps --no-build-isolation -w "$CACHE" "$build"/mmcv-*/ 2>&1 |
        sed -nEu 's/.*(\[[0-9]+\/[0-9]+\]).* -c ([^ ]*\/)?([^ /]+\.(cpp|cu)) .*/  \1 compiling \3/p
                  /[Ee]rror/p; /^ *[Bb]uilding /p'; then
      echo "[mmceph install] building mmcv failed (compiler errors above)" >&2
      exit 1
    fi
    $PIPI -q --no-deps --only-binary mmcv "$(pin mmcv)"
  fi
  step "4/6 OpenMMLab stack and mmpose's runtime dependencies"
  $PIPI -q $(rest_pins)
  step "5/6 mmpose without chumpy"
  $PIPI -q --no-deps "$(pin mmpose)"
  step "6/6 xtcocotools compiled against the installed numpy"
  $PIPI -q --no-build-isolation --no-binary xtcocotools "$(pin xtcocotools)"
  broken=$($PIP check 2>&1 | grep -vE '^mmpose [^ ]+ requires chumpy, which is not installed' |
           grep -v '^No broken requirements' || true)
  if [ -n "$broken" ]; then
    printf '[mmceph install] broken dependencies:\n%s\n' "$broken" >&2
    exit 1
  fi
  echo "$want" > "$STAMP"
fi

# mmceph itself: a regular (non-editable) install, so mim finds mmceph/.mim/{tools,configs}.
step "installing mmceph (regular install, ships .mim/ for mim)"
rm -rf build mmceph.egg-info
"$VENV/bin/python" -m pip install -q --no-deps --no-build-isolation --force-reinstall .
rm -rf build mmceph.egg-info
# `mim` itself imports pkg_resources, whose deprecation notice would open every `mim train`
# like a failure; a .pth line (run at interpreter start-up) filters that one message in this
# venv. Our own tools filter it in mmceph/utils/cli.py for any other environment.
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "import warnings; warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)" \
  > "$site/mmceph_quiet_pkg_resources.pth"
step "ready: $VENV"
