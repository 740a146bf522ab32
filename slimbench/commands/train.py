r"""Trains a registered network on a converted dataset, with TF-Slim's flags.

Usage:
  python train_image_classifier.py --train_dir=/tmp/lenet --dataset_name=mnist5k \
      --dataset_dir=/tmp/mnist5k --model_name=lenet --optimizer=momentum \
      --learning_rate=0.01 --batch_size=32 --max_number_of_steps=1000

On several machines, the same command on every host, plus its task (see
slimbench/cluster.py; scripts/launch_local_cluster.py does this on one machine):
  python train_image_classifier.py ... --job_name=ps --task=0 \
      --ps_hosts=ps0:2222 --worker_hosts=worker0:2222,worker1:2222
  python train_image_classifier.py ... --job_name=worker --task=0 \
      --ps_hosts=ps0:2222 --worker_hosts=worker0:2222,worker1:2222
or with TF_CONFIG='{"cluster": {"ps": [...], "worker": [...]},
"task": {"type": "worker", "index": 0}}' in the environment instead of the four flags.

Installed (`pip install .`), `slimbench-train` is this script: the same flags.
"""

import signal
import sys

from absl import flags
from absl import logging

from slimbench import files
from slimbench import runtime_tuning
from slimbench import train_flags
from slimbench import training
from slimbench import usage

FLAG_NAMES = train_flags.define_train_flags(flags.FLAGS)
for name in FLAG_NAMES:
  flags.declare_key_flag(name)


def main(argv):
  if len(argv) > 1:
    sys.exit(f'{usage.program()}: unexpected arguments {argv[1:]}')
  try:
    train_config = train_flags.read_train_config(flags.FLAGS, FLAG_NAMES)
    runtime_tuning.ensure_measured(log=logging.info, use_fp16=train_config.run.use_fp16)
    results = training.train(train_config)
  except (ValueError, TimeoutError, training.TrainingError, files.UnwritableError) as error:
    logging.error('%s', error)
    sys.exit(f'{usage.program()}: {error}')
  if results.get('signal'):
    # A scheduler tells a run stopped by a signal from a finished one by the exit status.
    signal_number = signal.Signals[results['signal']].value
    logging.info('Stopped by %s at step %d, checkpoint saved: exit status %d',
                 results['signal'], results['global_step'], 128 + signal_number)
    sys.exit(128 + signal_number)



def run():
  """The console command's entry point."""
  usage.run(main)
