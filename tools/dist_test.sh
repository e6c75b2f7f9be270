#!/usr/bin/env bash
# Distributed testing with PyTorch's launcher (torchrun), like MMSeg's.
#
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options ...]
#
# Each process evaluates its share of the test set; the metric gathers the
# results on rank 0. Environment as in tools/dist_train.sh: NNODES (1),
# NODE_RANK (0), PORT (29500), MASTER_ADDR (127.0.0.1), PYTHON (python).
# CPU-only (gloo): add --cfg-options env_cfg.dist_cfg.backend=gloo.
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [test.py options ...]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)

PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$TOOLS_DIR/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
