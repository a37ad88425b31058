#!/usr/bin/env bash
# The end-to-end demo on embedded (generated) data: data -> train -> test -> infer.
# Run through `make demo`, which installs .venv first.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
CONFIG=configs/synthetic/td-hm_hrnetv2-w18-small_1xb8-30e_synthetic-192x160.py
WORK=work_dirs/demo
say() { printf '\n=== %s\n' "$*"; }
start=$(date +%s)

say "1/5 generating 60 synthetic cephalograms (seeded) into data/synthetic"
python -m data_converters synthetic --out data/synthetic --seed 0 --num-images 60

say "2/5 training on the CPU: mim train mmceph $CONFIG (about 2 minutes on 2 cores)"
rm -rf "$WORK"
mim train mmceph "$CONFIG" --work-dir "$WORK" --cfg-options default_hooks.logger.interval=5 \
  2>&1 | grep --line-buffered -E 'Epoch\((train|val)\)|best checkpoint|Error|error' || true
test -f "$WORK/best_MRE.pth" || { echo "training did not produce $WORK/best_MRE.pth" >&2; exit 1; }

say "3/5 testing: mim test mmceph $CONFIG --checkpoint $WORK/best_MRE.pth"
mim test mmceph "$CONFIG" --checkpoint "$WORK/best_MRE.pth" --work-dir "$WORK" 2>&1 |
  sed -n '/per-landmark radial error/,/Epoch(test)/p'

say "4/5 the trivial baseline to beat: the mean training shape"
python tools/analysis_tools/mean_shape_baseline.py data/synthetic --split test

say "5/5 inference on one test image: tools/infer.py -> demo_out/"
image=data/synthetic/$(python -c "import json;print(json.load(open('data/synthetic/annotations/test.json'))['images'][0]['file_name'])")
python tools/infer.py "$image" "$CONFIG" "$WORK/best_MRE.pth" --out-dir demo_out
ls -l demo_out
say "demo finished in $(( $(date +%s) - start )) s"
say "next: review and correct the predictions in the browser (prints the address to open)"
echo "  .venv/bin/python tools/review.py $CONFIG $WORK/best_MRE.pth data/synthetic/images --work review_demo"
