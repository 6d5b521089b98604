#!/usr/bin/env bash
# Installs Quarry into a Jupyter environment: the quarry-jupyter wheel (the
# `quarry` binary, its kernelspec, the S3 panel's prebuilt extension, the
# backend's proxy entry point and the token refresher — see pyproject.toml),
# then the AWS config file every AWS SDK in the pod reads.
#   install-singleuser.sh WHEEL_DIR [PREFIX]
# PREFIX defaults to the Python's sys.prefix (/opt/conda in the image).
# Used by images/singleuser/Dockerfile and by the tests (tests/test_images.py).
set -euo pipefail
wheels="${1:?usage: install-singleuser.sh WHEEL_DIR [PREFIX]}"
python="${PYTHON:-python3}"
own_prefix="$("$python" -c 'import sys; print(sys.prefix)')"
prefix="${2:-$own_prefix}"

pip_target=()
if [ "$prefix" != "$own_prefix" ]; then
  # Another prefix (an overlay for this Python): only the wheel goes there;
  # its dependencies must already be importable.
  pip_target=(--prefix "$prefix" --ignore-installed --no-deps)
fi
# The wheel's own dependencies (jupyter-server-proxy) come from the index;
# jupyterlab is already in the base image.
"$python" -m pip install --no-cache-dir "${pip_target[@]}" "$wheels"/quarry_jupyter-*.whl
"$prefix/bin/quarry" --version

# Every AWS SDK's credential source (the pod's AWS_CONFIG_FILE points here):
# keys from the same web identity exchange the kernel makes, renewed by the
# SDKs themselves. No keys are ever written here.
install -d "$prefix/etc/quarry"
cat > "$prefix/etc/quarry/aws-config" <<CONFIG
[default]
credential_process = $prefix/bin/quarry aws-credentials
CONFIG
