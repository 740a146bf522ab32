#!/usr/bin/env bash
# LeNet on MNIST (TF-Slim's recipe): plain SGD at 0.01, 20,000 steps of 50.
# Expected: about 99% test accuracy.
source "$(dirname "$0")/common.sh"
DATASET=mnist; DATASET_DIR=$WORK_DIR/mnist
smoke_setup
[ "$SMOKE" = 1 ] || run download_and_convert_data.py --dataset_name=mnist --dataset_dir="$DATASET_DIR"
run train_image_classifier.py --train_dir="$WORK_DIR/lenet" --dataset_name=$DATASET \
    --dataset_split_name=train --dataset_dir="$DATASET_DIR" --model_name=lenet \
    --preprocessing_name=lenet --max_number_of_steps=20000 --batch_size=50 \
    --learning_rate=0.01 --save_interval_secs=60 --save_summaries_secs=60 \
    --log_every_n_steps=100 --optimizer=sgd --learning_rate_decay_type=fixed \
    --weight_decay=0 "${SMOKE_FLAGS[@]}"
run eval_image_classifier.py --checkpoint_path="$WORK_DIR/lenet" \
    --eval_dir="$WORK_DIR/lenet/eval" --dataset_name=$DATASET --dataset_split_name=test \
    --dataset_dir="$DATASET_DIR" --model_name=lenet "${EVAL_SMOKE_FLAGS[@]}"
