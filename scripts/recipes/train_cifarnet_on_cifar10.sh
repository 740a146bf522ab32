#!/usr/bin/env bash
# CifarNet on CIFAR-10 (TF-Slim's recipe): SGD at 0.1, divided by 10 every 200 epochs,
# weight decay 0.004, 100,000 steps of 128. Expected: about 85% test accuracy.
source "$(dirname "$0")/common.sh"
DATASET=cifar10; DATASET_DIR=$WORK_DIR/cifar10
smoke_setup
[ "$SMOKE" = 1 ] || run download_and_convert_data.py --dataset_name=cifar10 --dataset_dir="$DATASET_DIR"
run train_image_classifier.py --train_dir="$WORK_DIR/cifarnet" --dataset_name=$DATASET \
    --dataset_split_name=train --dataset_dir="$DATASET_DIR" --model_name=cifarnet \
    --preprocessing_name=cifarnet --max_number_of_steps=100000 --batch_size=128 \
    --save_interval_secs=120 --save_summaries_secs=120 --log_every_n_steps=100 \
    --optimizer=sgd --learning_rate=0.1 --learning_rate_decay_factor=0.1 \
    --num_epochs_per_decay=200 --weight_decay=0.004 "${SMOKE_FLAGS[@]}"
run eval_image_classifier.py --checkpoint_path="$WORK_DIR/cifarnet" \
    --eval_dir="$WORK_DIR/cifarnet/eval" --dataset_name=$DATASET --dataset_split_name=test \
    --dataset_dir="$DATASET_DIR" --model_name=cifarnet "${EVAL_SMOKE_FLAGS[@]}"
