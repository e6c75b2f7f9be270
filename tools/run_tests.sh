#!/usr/bin/env bash
# Install everything the tests need (reusing what is present), then run them.
#   bash tools/run_tests.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
VENV=${VENV:-$(pwd)/.venv}
exec "$VENV/bin/python" -m pytest tests "$@"
