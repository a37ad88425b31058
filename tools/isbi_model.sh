#!/usr/bin/env bash
# One step from an ISBI 2015 download to the recommended trained, tested and exported model.
#
#   make isbi-model ISBI=/path/to/ISBI2015          (or: bash tools/isbi_model.sh /path/to/ISBI2015)
#
# No trained weights are published for mmceph, so a real model means training one. This is
# the recipe the README recommends: the ImageNet-pretrained EfficientNet-Lite0 global model
# (40 epochs, senior annotation) and a Lite0 refiner on the cascade's patches trained on the
# mean of both annotators (20 epochs) -- the recipe that generalised best to radiographs
# outside the shared data. Steps: convert (senior and mean) -> train stage 1 -> train
# stage 2 -> test on Test1 against senior, junior and mean -> export for the torch-free
# runtime (ONNX) -> print the command that analyses your own radiograph.
#
# Why a shell script: each step is a tool a user also runs alone (printed before it runs).
# Training runs on the CPU (about 90 minutes on 2 cores); a GPU is used when present.
# Checkpoints are chosen on the validation split (val.json: 20 fixed training images that
# the converter carves out, see docs/accuracy_protocol.md), never on Test1: Test1 is
# scored once, from the checkpoint the validation split chose. The refiner, trained on the
# mean of both annotators, is also selected against the mean (its validation reference).
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
epochs() {  # --cfg-options that set N epochs (nothing when N is empty)
  [ -z "$1" ] && return 0
  echo "train_cfg.max_epochs=$1 param_scheduler.1.end=$1 param_scheduler.1.T_max=$1"
}
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

say "2/6 training the Lite0 global model (stage 1, senior annotation)"
if [ -f "$WORK/lite0-fpn/best_MRE.pth" ]; then
  echo "$WORK/lite0-fpn/best_MRE.pth exists: kept (delete it to train again)"
else
  run python tools/train.py $GLOBAL_CFG --work-dir "$WORK/lite0-fpn" \
    ${GLOBAL_EPOCHS:+--cfg-options $(epochs "$GLOBAL_EPOCHS")}
fi
best_global=$WORK/lite0-fpn/best_MRE.pth   # mmceph's hook keeps this stable name

say "3/6 training the Lite0 refiner over it (stage 2, mean of both annotators)"
if [ -f "$WORK/lite0-cascade-mean/best_MRE.pth" ]; then
  echo "$WORK/lite0-cascade-mean/best_MRE.pth exists: kept (delete it to train again)"
else
  run python tools/train.py $CASCADE_CFG --work-dir "$WORK/lite0-cascade-mean" \
    --cfg-options load_from="$best_global" train_dataloader.dataset.data_root=data/isbi2015_mean/ \
    val_dataloader.dataset.data_root=data/isbi2015_mean/ $(epochs "${REFINER_EPOCHS:-}")
fi
CKPT=$WORK/lite0-cascade-mean/best_MRE.pth

say "4/6 testing on Test1 against the senior, junior and mean annotations"
run python tools/analysis_tools/compare_methods.py \
  "Lite0 + Lite0 refiner (mean-trained)=$CASCADE_CFG:$WORK/lite0-cascade-mean" \
  --also-against mean=data/isbi2015_mean/annotations/test1.json \
  junior=data/isbi2015_junior/annotations/test1.json | tee "$WORK/test1_table.md"

say "5/6 exporting for the torch-free runtime (ONNX)"
rm -rf "$WORK/export"
run python tools/deployment/export_onnx.py $CASCADE_CFG "$CKPT" "$WORK/export"

say "6/6 done in $(( ($(date +%s) - start) / 60 )) min. Analyse your own radiograph with:"
echo "  python tools/infer.py YOUR_IMAGE.dcm $WORK/export --out-dir my_results"
echo "  (or with PyTorch: python tools/infer.py YOUR_IMAGE.dcm $CASCADE_CFG $CKPT --out-dir my_results)"
