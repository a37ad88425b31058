#!/usr/bin/env bash
# One step from an ISBI 2015 download to the recommended trained, tested and exported model.
#
#   make isbi-model ISBI=/path/to/ISBI2015          (or: bash tools/isbi_model.sh /path/to/ISBI2015)
#
# No trained weights are published for mmceph, so a real model means training one. This is
# the recipe the README recommends (docs/accuracy_protocol.md: why): the ImageNet-pretrained
# EfficientNet-Lite0 global model (40 epochs) and a Lite0 refiner on the cascade's patches
# (20 epochs), both learning from a randomly drawn annotator per sample and epoch (label
# noise as regularisation; GLOBAL_TARGET / REFINER_TARGET = senior|junior|mean|random
# change it). Steps: convert (senior, junior, mean) -> train and select stage 1 -> train
# and select stage 2 -> test on Test1 against senior, junior and mean -> export for the
# torch-free runtime (ONNX) -> print the command that analyses your own radiograph.
#
# Why a shell script: each step is a tool a user also runs alone (printed before it runs).
# Training runs on the CPU (about 90 minutes on 2 cores); a GPU is used when present.
# Both stages go through tools/analysis_tools/isbi_protocol.py: the checkpoint is chosen on
# the validation split (val.json: 20 fixed training images the converter carves out),
# never on Test1, and Test1 is scored once, from that checkpoint (its table is the
# recipe's row in the docs).
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; }
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  usage
  echo "ISBI2015: the folder holding RawImage/ and AnnotationsByMD/ (both annotators)."
  echo "WORK (2nd argument, default work_dirs/isbi_recommended): where models and the export go."
  [ $# -ge 1 ] && exit 0 || exit 2
fi
ROOT=$(cd "$1" 2>/dev/null && pwd -P) || { echo "isbi_model.sh: no such folder: $1" >&2; exit 2; }
for need in RawImage/TrainingData RawImage/Test1Data AnnotationsByMD/400_senior \
            AnnotationsByMD/400_junior; do
  [ -d "$ROOT/$need" ] || { echo "isbi_model.sh: $ROOT/$need not found (an ISBI 2015 release has it)" >&2; exit 2; }
done
WORK=${2:-work_dirs/isbi_recommended}
# A shorter schedule for a quick end-to-end check (not the recipe's accuracy):
# GLOBAL_EPOCHS=N / REFINER_EPOCHS=N shorten stage 1 / stage 2 (cosine schedule rescaled).
GLOBAL_TARGET=${GLOBAL_TARGET:-random}
REFINER_TARGET=${REFINER_TARGET:-random}
export PATH="$PWD/.venv/bin:$PATH"
C=configs/isbi2015
GLOBAL_CFG=$C/td-hm_lite0-fpn_1xb4-40e_isbi2015-576x448.py
CASCADE_CFG=$C/td-hm-cascade_lite0-fpn-ref-lite0-fpn_1xb4-20e_isbi2015-576x448.py
start=$(date +%s)
say() { printf '\n=== [%s, %d min] %s\n' "$(date +%H:%M)" $(( ($(date +%s) - start) / 60 )) "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "1/6 converting ISBI 2015 (senior, junior and mean annotations)"
for who in senior junior mean; do
  out=data/isbi2015; [ "$who" = senior ] || out=data/isbi2015_$who
  run python -m data_converters isbi2015 --root "$ROOT" --annotator $who --out $out
  ln -sfn "$ROOT" $out/raw
done

say "2/6 training the Lite0 global model (stage 1, target: $GLOBAL_TARGET), selected on val.json"
run python tools/analysis_tools/isbi_protocol.py $GLOBAL_CFG --work-dir "$WORK/lite0-fpn" \
  --name "Lite0 global ($GLOBAL_TARGET)" --target $GLOBAL_TARGET ${GLOBAL_EPOCHS:+--epochs $GLOBAL_EPOCHS}
best_global=$WORK/lite0-fpn/best_MRE.pth   # mmceph's hook keeps this stable name

say "3-4/6 training the Lite0 refiner over it (stage 2, target: $REFINER_TARGET), selected on val.json; the cascade tested on Test1 once (senior, junior, mean)"
run python tools/analysis_tools/isbi_protocol.py $CASCADE_CFG --work-dir "$WORK/lite0-cascade" \
  --name "Lite0 + Lite0 refiner ($GLOBAL_TARGET / $REFINER_TARGET)" --target $REFINER_TARGET \
  ${REFINER_EPOCHS:+--epochs $REFINER_EPOCHS} --cfg-options load_from="$best_global"
CKPT=$WORK/lite0-cascade/best_MRE.pth
cp "$WORK/lite0-cascade/protocol_table.md" "$WORK/test1_table.md"

say "5/6 exporting for the torch-free runtime (ONNX)"
rm -rf "$WORK/export"
run python tools/deployment/export_onnx.py "$WORK/lite0-cascade/recipe.py" "$CKPT" "$WORK/export"

say "6/6 done in $(( ($(date +%s) - start) / 60 )) min. Test1 row: $WORK/test1_table.md. Analyse your own radiograph with:"
echo "  python tools/infer.py YOUR_IMAGE.dcm $WORK/export --out-dir my_results"
echo "  (or with PyTorch: python tools/infer.py YOUR_IMAGE.dcm $WORK/lite0-cascade/recipe.py $CKPT --out-dir my_results)"
