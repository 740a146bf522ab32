#!/usr/bin/env bash
# The paper's AlexNet on CIFAR-10 as commonly run: Adam at 5e-5, batch 64, 18 epochs
# (14,062 steps), images upscaled to 227. Reported: about 65.5% test accuracy.
source "$(dirname "$0")/common.sh"
DATASET=cifar10; DATASET_DIR=$WORK_DIR/cifar10
smoke_setup
[ "$SMOKE" = 1 ] || run download_and_convert_data.py --dataset_name=cifar10 --dataset_dir="$DATASET_DIR"
run train_image_classifier.py --train_dir="$WORK_DIR/alexnet_cifar10" --dataset_name=$DATASET \
    --dataset_split_name=train --dataset_dir="$DATASET_DIR" --model_name=alexnet \
    --optimizer=adam --learning_rate=5e-5 --opt_epsilon=1e-8 --learning_rate_decay_type=fixed \
    --batch_size=64 --max_number_of_steps=14062 --weight_decay=0.0005 \
    --log_every_n_steps=100 "${SMOKE_FLAGS[@]}"
run eval_image_classifier.py --checkpoint_path="$WORK_DIR/alexnet_cifar10" \
    --eval_dir="$WORK_DIR/alexnet_cifar10/eval" --dataset_name=$DATASET \
    --dataset_split_name=test --dataset_dir="$DATASET_DIR" --model_name=alexnet \
    "${EVAL_SMOKE_FLAGS[@]}"
