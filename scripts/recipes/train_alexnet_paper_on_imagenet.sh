#!/usr/bin/env bash
# AlexNet as the 2012 paper trains it: SGD with momentum 0.9, weight decay 5e-4, batch 128
# (two clones of 64, as the paper's two GPUs), learning rate 0.01 divided by 10 whenever
# the validation accuracy stops improving (an evaluator runs beside training), about 90
# epochs, the paper's augmentation (random 227 crops of 256 images, flips, PCA lighting).
# The paper reports 40.7% top-1 / 18.2% top-5 error (single net, 10 crops) on ILSVRC-2012.
# Needs your ILSVRC2012 archives in $WORK_DIR/imagenet (see convert_imagenet.py).
source "$(dirname "$0")/common.sh"
DATASET=imagenet; DATASET_DIR=$WORK_DIR/imagenet
smoke_setup
[ "$SMOKE" = 1 ] || run download_and_convert_data.py --dataset_name=imagenet --dataset_dir="$DATASET_DIR"
TRAIN_DIR=$WORK_DIR/alexnet_paper
OFFSET=1; [ "$SMOKE" = 1 ] && OFFSET=0  # 1000 classes of the 1001-label ImageNet
if [ "$SMOKE" = 0 ]; then
  run eval_image_classifier.py --checkpoint_path="$TRAIN_DIR" --eval_dir="$TRAIN_DIR/eval" \
      --dataset_name=$DATASET --dataset_split_name=validation --dataset_dir="$DATASET_DIR" \
      --model_name=alexnet --labels_offset=$OFFSET --wait_for_checkpoints \
      --eval_interval_secs=1800 --eval_timeout_secs=7200 &
  EVALUATOR=$!
  trap 'kill $EVALUATOR 2>/dev/null || true' EXIT
fi
run train_image_classifier.py --train_dir="$TRAIN_DIR" --dataset_name=$DATASET \
    --dataset_split_name=train --dataset_dir="$DATASET_DIR" --model_name=alexnet \
    --labels_offset=$OFFSET --num_clones=2 --batch_size=64 --optimizer=momentum \
    --momentum=0.9 --weight_decay=0.0005 --learning_rate=0.01 \
    --learning_rate_decay_type=plateau --plateau_factor=10 --plateau_patience=2 \
    --plateau_metric_file="$TRAIN_DIR/eval/eval_results.csv" \
    --max_number_of_steps=900000 --save_interval_secs=1800 "${SMOKE_FLAGS[@]}"
