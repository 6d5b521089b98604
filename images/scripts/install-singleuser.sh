#!/usr/bin/env bash
# Installs Quarry into a Jupyter environment: the `quarry` binary, its
# kernelspec, and the quarry-jupyterlab wheel (S3 panel, backend proxy entry
# point, token refresher).
#   install-singleuser.sh QUARRY_BINARY WHEEL_DIR [PREFIX]
# PREFIX defaults to the Python's sys.prefix (/opt/conda in the image).
# Used by images/singleuser/Dockerfile and by the tests (tests/test_images.py).
set -euo pipefail
binary="${1:?usage: install-singleuser.sh QUARRY_BINARY WHEEL_DIR [PREFIX]}"
wheels="${2:?usage: install-singleuser.sh QUARRY_BINARY WHEEL_DIR [PREFIX]}"
python="${PYTHON:-python3}"
prefix="${3:-$("$python" -c 'import sys; print(sys.prefix)')}"

install -d "$prefix/bin"
install -m 0755 "$binary" "$prefix/bin/quarry"
"$prefix/bin/quarry" --version
"$prefix/bin/quarry" install --prefix "$prefix"
# Every AWS SDK's credential source (the pod's AWS_CONFIG_FILE points here):
# keys from the same web identity exchange the kernel makes, renewed by the
# SDKs themselves. No keys are ever written here.
install -d "$prefix/etc/quarry"
cat > "$prefix/etc/quarry/aws-config" <<CONFIG
[default]
credential_process = $prefix/bin/quarry aws-credentials
CONFIG

pip_target=()
if [ "$prefix" != "$("$python" -c 'import sys; print(sys.prefix)')" ]; then
  # Another prefix (an overlay for this Python): only the wheel goes there;
  # its dependencies must already be importable.
  pip_target=(--prefix "$prefix" --ignore-installed --no-deps)
fi
# The wheel's own dependencies (jupyter-server-proxy) come from the index;
# jupyterlab is already in the base image.
"$python" -m pip install --no-cache-dir "${pip_target[@]}" "$wheels"/quarry_jupyterlab-*.whl
