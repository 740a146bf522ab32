#!/usr/bin/env bash
# The benchmark runner's comparison on Fashion-MNIST: 70,000 real 28x28 images, offline
# from Debian's dataset-fashion-mnist (else downloaded), momentum and Adam, two seeds each.
# Usage: compare_on_fashion_mnist.sh [MODELS] [--smoke] [--work_dir=DIR]
#   MODELS: comma-separated registered nets. The default five span the families; these
#   also build on 32x32 grayscale: mobilenet_v1_050/075, mobilenet_v2*, mobilenet_v3_*,
#   mobilenet_edgetpu*, inception_v2, resnet_v1_*/resnet_v2_* (alexnet*, overfeat, vgg_*,
#   inception_v1/v3/v4 and inception_resnet_v2 need larger images, nasnet and pnasnet
#   three channels).
# The main job's input and settings (32x32 through the lenet preprocessing, batch 32),
# one epoch (1,875 steps) with the learning rate decayed to its floor along half a cosine
# (so the final evaluation is not taken wherever a constant rate's noise left the weights),
# and two evaluations of the 10,000 test images per run: 52 minutes on 2 idle cores (AMD
# EPYC), half of it resnet_v1_50. The table is $WORK_DIR/compare_on_fashion_mnist/results.md
# (summary.csv: means and 95% intervals over the seeds).
MODELS=lenet,cifarnet,mobilenet_v1_025,mobilenet_v1,resnet_v1_50
MODELS_GIVEN=0
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then MODELS=$1; MODELS_GIVEN=1; shift; fi
source "$(dirname "$0")/common.sh"
SOURCE_DIR=${FASHION_MNIST_SOURCE_DIR:-/usr/share/datasets/fashion-mnist}
DATASET=fashion_mnist; DATASET_DIR=$WORK_DIR/fashion_mnist
STEPS=1875; POINTS=2; BATCH=32; TRAIN_IMAGES=60000  # one epoch
# --num_epochs_per_decay is the cosine's length: the whole run, in epochs.
DECAY_EPOCHS=$(awk -v s=$STEPS -v b=$BATCH -v n=$TRAIN_IMAGES 'BEGIN { print s * b / n }')
RUN_FLAGS=(--batch_sizes=$BATCH --target_accuracy=0.85 --learning_rate_decay_type=cosine
           --num_epochs_per_decay="$DECAY_EPOCHS")
if [ "$SMOKE" = 1 ]; then
  STEPS=4; POINTS=2
  [ "$MODELS_GIVEN" = 1 ] || MODELS=lenet
  smoke_setup
  # Later flags win: two runs (the seeds) keep the smoke test short.
  RUN_FLAGS=("${RUN_FLAGS[@]}" --batch_sizes=2 --optimizers=adam)
else
  SOURCE_FLAGS=()
  if [ -d "$SOURCE_DIR" ]; then SOURCE_FLAGS=(--source_dir="$SOURCE_DIR"); fi
  run download_and_convert_data.py --dataset_name=fashion_mnist \
      --dataset_dir="$DATASET_DIR" "${SOURCE_FLAGS[@]}"
fi
run benchmark_models.py --study=train --dataset_name=$DATASET --dataset_dir="$DATASET_DIR" \
    --models=$MODELS --optimizers=momentum,adam --seeds=0,1 \
    --max_number_of_steps=$STEPS --eval_points=$POINTS \
    --output_dir="$WORK_DIR/compare_on_fashion_mnist" "${RUN_FLAGS[@]}"
echo "compare_on_fashion_mnist.sh: ${SECONDS}s wall time" >&2
