#!/usr/bin/env bash
# Distributed training on one machine: bash tools/dist_train.sh CONFIG GPUS [train.py args]
# (torchrun starts one process per GPU; MMEngine's pytorch launcher does the rest).
set -euo pipefail
CONFIG=$1; GPUS=$2; shift 2
PORT=${PORT:-29500}
exec python -m torch.distributed.run --nproc_per_node="$GPUS" --master_port="$PORT" \
  "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "$@"
