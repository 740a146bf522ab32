# Sourced by the recipes: parses --smoke, finds Python, and runs the scripts.
# A recipe sets DATASET/DATASET_DIR/STEPS for the real run; with --smoke every recipe
# trains a few steps on the built-in mnist5k instead, so the tests can run them all.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
SMOKE=0
WORK_DIR=${WORK_DIR:-/tmp/slimbench_recipes}
for arg in "$@"; do
  case "$arg" in
    --smoke) SMOKE=1 ;;
    --work_dir=*) WORK_DIR=${arg#--work_dir=} ;;
    *) echo "$(basename "$0"): unknown argument $arg (expected --smoke, --work_dir=DIR)" >&2; exit 2 ;;
  esac
done

run() { echo "+ $*" >&2; "$PYTHON" "$ROOT/$1" "${@:2}"; }

# smoke_overrides: flags appended last, so they win over the recipe's own.
smoke_setup() {
  if [ "$SMOKE" = 1 ]; then
    DATASET=mnist5k
    DATASET_DIR=$WORK_DIR/mnist5k
    [ -f "$DATASET_DIR/dataset_info.json" ] || run download_and_convert_data.py \
        --dataset_name=mnist5k --dataset_dir="$DATASET_DIR" >&2
    SMOKE_FLAGS=(--max_number_of_steps=2 --batch_size=2 --log_every_n_steps=1
                 --num_readers=1 --num_preprocessing_threads=1)
    EVAL_SMOKE_FLAGS=(--max_num_batches=1 --batch_size=2)
  else
    SMOKE_FLAGS=()
    EVAL_SMOKE_FLAGS=()
  fi
}
