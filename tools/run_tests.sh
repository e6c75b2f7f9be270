#!/usr/bin/env bash
# Install everything the tests need (reusing what is present), then run them.
#   bash tools/run_tests.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
VENV=${VENV:-$(pwd)/.venv}
# Three pytest processes. The tests that load OpenVINO (tests/test_deploy)
# run in their own process, last: with OpenVINO's runtime loaded in the same
# process, later training tests crashed with SIGSEGV twice (at the DDP test
# and at the recipe-chain test), while each passed on its own. The cause is
# not yet found; until it is, OpenVINO and in-process training do not share a
# process. The distributed tests also get their own process.
"$VENV/bin/python" -m pytest tests/test_distributed "$@"
"$VENV/bin/python" -m pytest tests --ignore=tests/test_distributed --ignore=tests/test_deploy "$@"
exec "$VENV/bin/python" -m pytest tests/test_deploy "$@"
