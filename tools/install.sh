#!/usr/bin/env bash
# Install csnet-mmseg and its pinned stack into a virtual environment.
#
#   bash tools/install.sh            # uses ./.venv (created if missing)
#   VENV=/path/to/venv bash tools/install.sh
#
# Order matters: torch first, then setuptools<82 (mmcv's setup.py imports
# pkg_resources), then mmcv 2.1.0 built from source with its compiled ops
# (--no-build-isolation, so it compiles against our torch; about 20-40 minutes
# on 2 cores the first time, then pip's wheel cache makes it seconds), then
# the rest, then this package in editable mode. Re-running it when everything
# is present takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-$ROOT/.venv}
PYTHON_BIN=${PYTHON_BIN:-python3.11}
command -v "$PYTHON_BIN" >/dev/null 2>&1 || PYTHON_BIN=python3

say() { printf '[install %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtual environment $VENV ($($PYTHON_BIN --version))"
  "$PYTHON_BIN" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

# Fast path: everything pinned is already there.
if "$PY" - <<'PYEOF' 2>/dev/null
import importlib.metadata as md, sys
want = {}
for line in open('requirements.txt'):
    line = line.split('#')[0].strip()
    if '==' in line:
        name, ver = line.split('==')
        want[name.strip()] = ver.strip()
for extra in ('pytest', 'csnet-mmseg'):
    md.version(extra)
for name, ver in want.items():
    have = md.version(name).split('+')[0]
    if have != ver:
        sys.exit(1)
import mmcv.ops, mmseg, csnet_mmseg  # noqa: F401  (compiled ops load)
PYEOF
then
  say "all pinned packages present in $VENV: nothing to do"
  exit 0
fi

say "step 1/5: torch 2.13.0 (CPU build from the local wheel when available)"
"${PIP[@]}" install -q "torch==2.13.0"

say "step 2/5: build tools (setuptools<82 for mmcv's pkg_resources, wheel, ninja)"
"${PIP[@]}" install -q "setuptools<82" wheel ninja
# OpenCV before mmcv, so mmcv's opencv requirement is already met by the pin.
"${PIP[@]}" install -q "opencv-python==4.11.0.86" "opencv-python-headless==4.11.0.86" "numpy>=1.26,<2.5"

if "$PY" -c "import importlib.metadata as m, sys; sys.exit(m.version('mmcv') != '2.1.0')" 2>/dev/null \
   && "$PY" -c "import mmcv.ops" 2>/dev/null; then
  say "step 3/5: mmcv 2.1.0 with compiled ops already installed"
else
  say "step 3/5: mmcv 2.1.0 with compiled ops (MMCV_WITH_OPS=1). Without a cached"
  say "          wheel this compiles 77 C++ files: about 20-40 minutes on 2 cores."
  say "          Progress lines [n/77] follow; the full log is in /tmp/mmcv-build.log"
  export MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)}
  set +o pipefail
  "${PIP[@]}" install -v --no-build-isolation "mmcv==2.1.0" 2>&1 \
    | tee /tmp/mmcv-build.log \
    | grep --line-buffered -oE '^ *\[[0-9]+/[0-9]+\]|Using cached|Successfully (built|installed).*|error:.*|ERROR:.*' \
    | while read -r line; do say "  mmcv: $line"; done
  set -o pipefail
  "$PY" -c "import mmcv.ops" || { say "mmcv build failed; see /tmp/mmcv-build.log"; exit 1; }
fi

say "step 4/5: mmengine, mmsegmentation, pysodmetrics and the rest (requirements.txt)"
"${PIP[@]}" install -q -r requirements.txt -r requirements-tests.txt

say "step 5/5: csnet-mmseg (editable)"
"${PIP[@]}" install -q --no-build-isolation --no-deps -e .
"$PY" -c "import csnet_mmseg, mmseg, mmcv, torch; print('csnet-mmseg', csnet_mmseg.__version__, '| mmseg', mmseg.__version__, '| mmcv', mmcv.__version__, '| torch', torch.__version__)"
say "done: activate with 'source $VENV/bin/activate'"
