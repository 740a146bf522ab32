#!/usr/bin/env bash
# Fine-tunes a published TF-Slim checkpoint on Flowers, as TF-Slim's recipes do: first the
# new logits only (1,000 steps, RMSProp 0.01), then all layers (500 steps, 0.0001).
# Usage: finetune_on_flowers.sh MODEL [--smoke]   with MODEL inception_v3 or resnet_v1_50.
# Expected (TF-Slim's figures for inception_v3): about 80% after the first stage, about
# 90% after the second. Put the published checkpoint at $WORK_DIR/checkpoints/MODEL.ckpt
# (from TF-Slim's model table; nothing is downloaded here).
MODEL=${1:?usage: finetune_on_flowers.sh inception_v3|resnet_v1_50 [--smoke]}
shift
source "$(dirname "$0")/common.sh"
case "$MODEL" in
  inception_v3) SCOPES=InceptionV3/Logits,InceptionV3/AuxLogits; SMOKE_SIZE=107 ;;
  resnet_v1_50) SCOPES=resnet_v1_50/logits; SMOKE_SIZE=64 ;;
  *) echo "finetune_on_flowers.sh: MODEL must be inception_v3 or resnet_v1_50" >&2; exit 2 ;;
esac
DATASET=flowers; DATASET_DIR=$WORK_DIR/flowers
CHECKPOINT=$WORK_DIR/checkpoints/$MODEL.ckpt
smoke_setup
SIZE_FLAGS=()
if [ "$SMOKE" = 1 ]; then
  # No published checkpoint offline: a stand-in trained for one step has the same body
  # variables, and its 10-class logits are excluded below like the real 1001-class ones.
  SIZE_FLAGS=(--train_image_size=$SMOKE_SIZE)
  run train_image_classifier.py --train_dir="$WORK_DIR/$MODEL-standin" --model_name=$MODEL \
      --dataset_name=$DATASET --dataset_dir="$DATASET_DIR" "${SIZE_FLAGS[@]}" \
      "${SMOKE_FLAGS[@]}" --max_number_of_steps=1
  CHECKPOINT=$WORK_DIR/$MODEL-standin
else
  run download_and_convert_data.py --dataset_name=flowers --dataset_dir="$DATASET_DIR"
  [ -e "$CHECKPOINT.index" ] || [ -e "$CHECKPOINT" ] || {
    echo "finetune_on_flowers.sh: place the published checkpoint at $CHECKPOINT" >&2; exit 1; }
fi
TRAIN_DIR=$WORK_DIR/$MODEL-flowers
rm -rf "$TRAIN_DIR"
run train_image_classifier.py --train_dir="$TRAIN_DIR" --dataset_name=$DATASET \
    --dataset_split_name=train --dataset_dir="$DATASET_DIR" --model_name=$MODEL \
    --checkpoint_path="$CHECKPOINT" --checkpoint_exclude_scopes=$SCOPES \
    --trainable_scopes=$SCOPES --max_number_of_steps=1000 --batch_size=32 \
    --learning_rate=0.01 --learning_rate_decay_type=fixed --save_interval_secs=60 \
    --save_summaries_secs=60 --log_every_n_steps=100 --optimizer=rmsprop \
    --weight_decay=0.00004 "${SIZE_FLAGS[@]}" "${SMOKE_FLAGS[@]}"
run train_image_classifier.py --train_dir="$TRAIN_DIR/all" --dataset_name=$DATASET \
    --dataset_split_name=train --dataset_dir="$DATASET_DIR" --model_name=$MODEL \
    --checkpoint_path="$TRAIN_DIR" --max_number_of_steps=500 --batch_size=32 \
    --learning_rate=0.0001 --learning_rate_decay_type=fixed --save_interval_secs=60 \
    --save_summaries_secs=60 --log_every_n_steps=10 --optimizer=rmsprop \
    --weight_decay=0.00004 "${SIZE_FLAGS[@]}" "${SMOKE_FLAGS[@]}"
EVAL_SIZE=()
[ "$SMOKE" = 1 ] && EVAL_SIZE=(--eval_image_size=$SMOKE_SIZE)
SPLIT=validation; [ "$SMOKE" = 1 ] && SPLIT=test
run eval_image_classifier.py --checkpoint_path="$TRAIN_DIR/all" --eval_dir="$TRAIN_DIR/eval" \
    --dataset_name=$DATASET --dataset_split_name=$SPLIT --dataset_dir="$DATASET_DIR" \
    --model_name=$MODEL "${EVAL_SIZE[@]}" "${EVAL_SMOKE_FLAGS[@]}"
