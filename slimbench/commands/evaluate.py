r"""Evaluates checkpoints of a registered network: accuracy, recall@5, loss, per class.

Usage:
  # One checkpoint (or a folder's latest):
  python eval_image_classifier.py --checkpoint_path=/tmp/lenet --eval_dir=/tmp/lenet/eval \
      --dataset_name=mnist5k --dataset_split_name=test --dataset_dir=/tmp/mnist5k \
      --model_name=lenet
  # Each new checkpoint while training runs, until none comes for 10 minutes:
  python eval_image_classifier.py ... --wait_for_checkpoints --eval_timeout_secs=600
  # ... keeping copies of the 3 best by accuracy in /tmp/lenet/best/, safe from rotation:
  python eval_image_classifier.py ... --wait_for_checkpoints --keep_best_checkpoints=3
  # The 2012 AlexNet paper's test-time method: centre, corners and mirrors, softmax averaged:
  python eval_image_classifier.py ... --model_name=alexnet --eval_crops=10

Installed (`pip install .`), `slimbench-eval` is this script: the same flags.
"""

import sys

from absl import flags
from absl import logging

from slimbench import eval_flags
from slimbench import evaluation
from slimbench import usage

for name in eval_flags.define_eval_flags(flags.FLAGS):
  flags.declare_key_flag(name)


def main(argv):
  if len(argv) > 1:
    sys.exit(f'{usage.program()}: unexpected arguments {argv[1:]}')
  try:
    evaluation.evaluate(eval_flags.read_eval_config(flags.FLAGS))
  except (ValueError, OSError, evaluation.NoCheckpointError) as error:
    logging.error('%s', error)
    sys.exit(f'{usage.program()}: {error}')



def run():
  """The console command's entry point."""
  usage.run(main)
