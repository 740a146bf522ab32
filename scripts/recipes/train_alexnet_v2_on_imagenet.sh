#!/usr/bin/env bash
# TF-Slim's alexnet_v2 on ImageNet: momentum SGD at 0.01, exponential decay 0.94 every 2
# epochs, weight decay 5e-4, batch 128, 1000 classes (labels_offset 1). TF-Slim published
# no checkpoint for it; expect roughly the "one weird trick" paper's 42-43% top-1 error.
source "$(dirname "$0")/common.sh"
DATASET=imagenet; DATASET_DIR=$WORK_DIR/imagenet
smoke_setup
[ "$SMOKE" = 1 ] || run download_and_convert_data.py --dataset_name=imagenet --dataset_dir="$DATASET_DIR"
OFFSET=1; [ "$SMOKE" = 1 ] && OFFSET=0
run train_image_classifier.py --train_dir="$WORK_DIR/alexnet_v2" --dataset_name=$DATASET \
    --dataset_split_name=train --dataset_dir="$DATASET_DIR" --model_name=alexnet_v2 \
    --labels_offset=$OFFSET --batch_size=128 --optimizer=momentum --learning_rate=0.01 \
    --learning_rate_decay_type=exponential --learning_rate_decay_factor=0.94 \
    --num_epochs_per_decay=2 --weight_decay=0.0005 --max_number_of_steps=900000 \
    "${SMOKE_FLAGS[@]}"
