#!/usr/bin/env bash
# Distributed training with PyTorch's launcher (torchrun), like MMSeg's.
#
#   bash tools/dist_train.sh CONFIG GPUS [train.py options ...]
#
# GPUS is the number of processes on this machine (one per GPU). Several
# machines: run it on every machine with the same NNODES, MASTER_ADDR and
# PORT, and NODE_RANK=0..NNODES-1:
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 \
#       bash tools/dist_train.sh configs/csnet_duts.py 8
# The total batch is GPUS x NNODES x train_dataloader.batch_size.
# Environment: NNODES (1), NODE_RANK (0), PORT (29500), MASTER_ADDR
# (127.0.0.1), PYTHON (python). CPU-only (gloo), e.g. for CI:
#   bash tools/dist_train.sh CONFIG 2 --cfg-options env_cfg.dist_cfg.backend=gloo
# See docs/robustness.md.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [train.py options ...]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
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
    "$TOOLS_DIR/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
