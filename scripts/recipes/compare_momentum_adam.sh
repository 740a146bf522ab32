#!/usr/bin/env bash
# Momentum vs Adam on one net, through the benchmark runner (table, plots, HParams).
# Usage: compare_momentum_adam.sh [MODEL] [--smoke]   (MODEL defaults to cifarnet)
MODEL=cifarnet
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then MODEL=$1; shift; fi
source "$(dirname "$0")/common.sh"
STEPS=2000; POINTS=8; DATA_FLAGS=()
if [ "$SMOKE" = 1 ]; then
  STEPS=4; POINTS=2
  smoke_setup
  DATA_FLAGS=(--dataset_dir="$DATASET_DIR" --batch_sizes=2 --seeds=0)
fi
run benchmark_models.py --study=train --models=$MODEL --optimizers=momentum,adam \
    --max_number_of_steps=$STEPS --eval_points=$POINTS \
    --output_dir="$WORK_DIR/compare_momentum_adam_$MODEL" "${DATA_FLAGS[@]}"
