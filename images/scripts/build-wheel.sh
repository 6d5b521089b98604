#!/usr/bin/env bash
# Builds the quarry-jupyterlab wheel (prebuilt JupyterLab extension +
# jupyter-server-proxy entry point + token refresher) into OUT_DIR.
# Needs node/npm and a Python with jupyterlab and hatchling.
# Used by images/singleuser/Dockerfile and by the tests (tests/test_images.py).
set -euo pipefail
out="${1:?usage: build-wheel.sh OUT_DIR}"
here="$(cd "$(dirname "$0")/../.." && pwd)"
python="${PYTHON:-python3}"
cd "$here/labextension"
npm ci --prefer-offline --no-audit --no-fund
npm run build
"$python" -m pip wheel --no-deps --no-build-isolation --wheel-dir "$out" .
ls "$out"/quarry_jupyterlab-*.whl
