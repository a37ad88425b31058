#!/usr/bin/env bash
# The end-to-end demo on embedded (generated) data: data -> train -> test -> infer ->
# ONNX export -> the torch-free runtime on the test images, with its parity to PyTorch.
# Run through `make demo`, which installs .venv first.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
CONFIG=configs/synthetic/td-hm_hrnetv2-w18-small_1xb8-30e_synthetic-192x160.py
WORK=work_dirs/demo
say() { printf '\n=== %s\n' "$*"; }
start=$(date +%s)

say "1/7 generating 60 synthetic cephalograms (seeded) into data/synthetic"
python -m data_converters synthetic --out data/synthetic --seed 0 --num-images 60

say "2/7 training on the CPU: mim train mmceph $CONFIG (about 2 minutes on 2 cores)"
rm -rf "$WORK"
mim train mmceph "$CONFIG" --work-dir "$WORK" --cfg-options default_hooks.logger.interval=5 \
  2>&1 | grep --line-buffered -E 'Epoch\((train|val)\)|best checkpoint|Error|error' || true
test -f "$WORK/best_MRE.pth" || { echo "training did not produce $WORK/best_MRE.pth" >&2; exit 1; }

say "3/7 testing: mim test mmceph $CONFIG --checkpoint $WORK/best_MRE.pth"
mim test mmceph "$CONFIG" --checkpoint "$WORK/best_MRE.pth" --work-dir "$WORK" 2>&1 |
  sed -n '/per-landmark radial error/,/Epoch(test)/p'

say "4/7 the trivial baseline to beat: the mean training shape"
python tools/analysis_tools/mean_shape_baseline.py data/synthetic --split test

say "5/7 inference on one test image: tools/infer.py -> demo_out/"
image=data/synthetic/$(python -c "import json;print(json.load(open('data/synthetic/annotations/test.json'))['images'][0]['file_name'])")
python tools/infer.py "$image" "$CONFIG" "$WORK/best_MRE.pth" --out-dir demo_out --pixel-spacing 0.1
ls -l demo_out

say "6/7 export for the torch-free runtime: tools/deployment/export_onnx.py -> work_dirs/demo_export"
rm -rf work_dirs/demo_export
python tools/deployment/export_onnx.py "$CONFIG" "$WORK/best_MRE.pth" work_dirs/demo_export

say "7/7 the ONNX runtime vs PyTorch on the test images: tools/deployment/onnx_parity.py"
mapfile -t tests < <(python -c "import json
for im in json.load(open('data/synthetic/annotations/test.json'))['images']:
    print('data/synthetic/' + im['file_name'])")
python tools/deployment/onnx_parity.py "$CONFIG" "$WORK/best_MRE.pth" work_dirs/demo_export \
  "${tests[@]}" --threads 2
say "demo finished in $(( $(date +%s) - start )) s"
say "next: review and correct the predictions in the browser (prints the address to open)"
echo "  .venv/bin/python tools/review.py $CONFIG $WORK/best_MRE.pth data/synthetic/images --work review_demo"
