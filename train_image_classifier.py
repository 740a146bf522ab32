"""Trains a registered network on a converted dataset, with TF-Slim's flags.

Usage:
  python train_image_classifier.py --train_dir=/tmp/lenet --dataset_name=mnist5k \
      --dataset_dir=/tmp/mnist5k --model_name=lenet --optimizer=momentum \
      --learning_rate=0.01 --batch_size=32 --max_number_of_steps=1000
"""

import sys

from absl import app
from absl import flags
from absl import logging

from slimbench import train_flags
from slimbench import training

FLAG_NAMES = train_flags.define_train_flags(flags.FLAGS)


def main(argv):
  if len(argv) > 1:
    sys.exit(f'train_image_classifier.py: unexpected arguments {argv[1:]}')
  try:
    training.train(flags.FLAGS, FLAG_NAMES)
  except (ValueError, training.TrainingError) as error:
    logging.error('%s', error)
    sys.exit(f'train_image_classifier.py: {error}')


if __name__ == '__main__':
  app.run(main)
