#!/usr/bin/env bash
# Creates ./.venv with slimbench installed from this checkout (editable: the commands
# slimbench-train, slimbench-eval, ... run the code here) and the test tools. Set
# SLIMBENCH_GPU=1 for TensorFlow's GPU build instead of tensorflow-cpu.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || { echo "setup_env.sh: $python not found; install Python 3.11 or set PYTHON=" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "${SLIMBENCH_GPU:-0}" = 1 ]; then
  # tensorflow-cpu and tensorflow both write the `tensorflow` package: install the GPU
  # build, then slimbench's other dependencies as pyproject.toml declares them.
  .venv/bin/python -m pip install --quiet "tensorflow[and-cuda]==2.21.0"
  mapfile -t others < <(.venv/bin/python -c '
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
for requirement in project["dependencies"] + project["optional-dependencies"]["test"]:
  if not requirement.startswith("tensorflow-cpu"):
    print(requirement)')
  .venv/bin/python -m pip install --quiet "${others[@]}"
  .venv/bin/python -m pip install --quiet --no-deps -e .
else
  .venv/bin/python -m pip install --quiet -e ".[test]"
fi
echo "slimbench environment ready in .venv (commands: .venv/bin/slimbench-*)"
