#!/usr/bin/env bash
# Install everything the tests need (reusing what is present), then run them.
#   bash tools/run_tests.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
VENV=${VENV:-$(pwd)/.venv}
# The distributed tests run in their own pytest process, before the others:
# once, a full run crashed (SIGSEGV) at the start of the DDP test after the
# OpenVINO tests had loaded OpenVINO's thread pool into the same process; the
# DDP test alone and beside single OpenVINO tests passed. Cause not yet found.
"$VENV/bin/python" -m pytest tests/test_distributed "$@"
exec "$VENV/bin/python" -m pytest tests --ignore=tests/test_distributed "$@"
