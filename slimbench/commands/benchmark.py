r"""Trains, times and compares registered networks under identical conditions.

With no flags: the main job, a short comparison of a few architectures of different
families with two optimizers and two seeds on the built-in offline dataset (mnist5k),
and a short throughput study of AlexNet, VGG, Inception, MobileNet and ResNet.

Usage:
  python benchmark_models.py                                   # the main job
  python benchmark_models.py --study=throughput --models=vgg_16,resnet_v1_50 \
      --batch_sizes=32 --modes=train
  python benchmark_models.py --study=train --models='mobilenet_v1*,lenet' \
      --optimizers=momentum,adam,rmsprop --seeds=0,1,2 --output_dir=/tmp/study
Every flag of train_image_classifier.py is accepted and passed to each run. The exit
status is 1 when a run failed (the failed runs are listed).

Installed (`pip install .`), `slimbench-benchmark` is this script: the same flags.
"""

import sys

from absl import flags
from absl import logging

from slimbench import benchmark
from slimbench import benchmark_flags
from slimbench import runtime_tuning
from slimbench import usage

TRAIN_FLAG_NAMES = benchmark_flags.define_benchmark_flags(flags.FLAGS)
flags.adopt_module_key_flags(benchmark_flags)
for name in TRAIN_FLAG_NAMES:
  flags.declare_key_flag(name)


def main(argv):
  if len(argv) > 1:
    sys.exit(f'{usage.program()}: unexpected arguments {argv[1:]}')
  try:
    study = benchmark_flags.read_study_config(flags.FLAGS, TRAIN_FLAG_NAMES)
    runtime_tuning.ensure_measured(log=logging.info, use_fp16=study.run.use_fp16)
    rows = benchmark.run_study(study)
  except ValueError as error:
    logging.error('%s', error)
    sys.exit(f'{usage.program()}: {error}')
  if rows['failed']:
    listing = '\n'.join(f'  {row["run"]}: {row["error"]}' for row in rows['failed'])
    sys.exit(f'{usage.program()}: {len(rows["failed"])} run(s) failed:\n{listing}')



def run():
  """The console command's entry point."""
  usage.run(main)
