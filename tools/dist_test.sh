#!/usr/bin/env bash
# Distributed evaluation: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args]
set -euo pipefail
CONFIG=$1; CHECKPOINT=$2; GPUS=$3; shift 3
PORT=${PORT:-29500}
exec python -m torch.distributed.run --nproc_per_node="$GPUS" --master_port="$PORT" \
  "$(dirname "$0")/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
