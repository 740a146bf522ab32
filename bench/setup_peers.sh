#!/usr/bin/env bash
# Installs the optional peers of bench/compare_peers.py into ./.venv (made by
# scripts/setup_env.sh): PyTorch and torchvision, CPU builds, and timm. Neither the tests nor
# slimbench itself import them. Set PYTHON= to install into another environment.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
[ -x "$python" ] || { echo "setup_peers.sh: $python not found; run scripts/setup_env.sh first or set PYTHON=" >&2; exit 1; }
torch_version=2.14.1
torchvision_version=0.29.1
timm_version=1.0.31
# PyTorch's own index has the CPU builds (a few hundred MB). Where it cannot be reached,
# PyPI's build of the same release is installed instead: it carries CUDA libraries (several
# GB) but runs the same CPU kernels.
if ! "$python" -m pip install --quiet --extra-index-url https://download.pytorch.org/whl/cpu \
    "torch==$torch_version+cpu" "torchvision==$torchvision_version+cpu"; then
  echo "setup_peers.sh: PyTorch's CPU builds could not be installed; installing PyPI's torch==$torch_version" >&2
  "$python" -m pip install --quiet "torch==$torch_version" "torchvision==$torchvision_version"
fi
"$python" -m pip install --quiet "timm==$timm_version"
"$python" -c 'import timm, torch, torchvision; print(f"peers ready: torch {torch.__version__}, torchvision {torchvision.__version__}, timm {timm.__version__}")'
