"""Trains, times and compares registered networks under identical conditions.

With no flags: the main job, a short comparison of a few architectures of different
families with two optimizers on the built-in offline dataset (mnist5k).

Usage:
  python benchmark_models.py                                   # the main job
  python benchmark_models.py --study=throughput --models=vgg_16,resnet_v1_50 \
      --batch_sizes=32 --modes=train
  python benchmark_models.py --models='mobilenet_v1*,lenet' --optimizers=momentum,adam,rmsprop \
      --max_number_of_steps=1000 --output_dir=/tmp/study
Every flag of train_image_classifier.py is accepted and passed to each run.
"""

import sys

from absl import app
from absl import flags
from absl import logging

from slimbench import benchmark

TRAIN_FLAG_NAMES = benchmark.define_benchmark_flags(flags.FLAGS)


def main(argv):
  if len(argv) > 1:
    sys.exit(f'benchmark_models.py: unexpected arguments {argv[1:]}')
  try:
    benchmark.run_study(flags.FLAGS, TRAIN_FLAG_NAMES)
  except ValueError as error:
    logging.error('%s', error)
    sys.exit(f'benchmark_models.py: {error}')


if __name__ == '__main__':
  app.run(main)
