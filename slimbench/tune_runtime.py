"""Measures again which TensorFlow runtime settings train fastest on this machine.

Usage (from the repository root, or anywhere once installed):
  python -m slimbench.tune_runtime [--nets=resnet_v1_50,mobilenet_v1] [--image_size=96]
      [--batch_size=8] [--rounds=2]

Prints the step time of every candidate setting (oneDNN on and off, thread counts) and
keeps the fastest for later runs; slimbench/runtime_tuning.py says how it is chosen and
used. Training and the benchmark runner measure by themselves on a machine's first run.
"""

import json
import statistics
import subprocess
import sys

from slimbench import runtime_tuning
from slimbench.runtime_tuning import (PROBE_BATCH_SIZE, PROBE_IMAGE_SIZE, PROBE_NETS,
                                      PROBE_ROUNDS)


def _worker(spec):
  """Prints {net: median seconds per training step} under this process's settings."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from slimbench import benchmark_worker  # pylint: disable=g-import-not-at-top
  tf1 = tf.compat.v1
  result = {}
  for net in spec['nets']:
    info = benchmark_worker.nets_factory.model_info(net)
    with tf.Graph().as_default():
      images, labels = benchmark_worker.synthetic_inputs(
          net, spec['batch_size'], spec['image_size'], info.num_classes)
      # TensorFlow's own gradient kernels: the probe must not wait for kernel tuning.
      step = benchmark_worker.benchmark_step(net, images, labels, info.num_classes, True,
                                             train_flag_argv=['--conv_gradients=tensorflow'])
      config = tf1.ConfigProto(intra_op_parallelism_threads=spec['intra'],
                               inter_op_parallelism_threads=spec['inter'])
      with tf1.Session(config=config) as session:
        session.run([tf1.global_variables_initializer(), tf1.local_variables_initializer()])
        for _ in range(2):
          session.run(step)
        result[net] = statistics.median(benchmark_worker.time_steps(
            lambda: session.run(step), spec['timed_steps']))  # pylint: disable=cell-var-from-loop
  print(json.dumps(result))


def main(argv=None):
  import argparse  # pylint: disable=g-import-not-at-top
  parser = argparse.ArgumentParser(
      prog='python -m slimbench.tune_runtime',
      description='Measures again which TensorFlow runtime settings (oneDNN, threads) train '
                  'fastest on this machine and keeps them for later runs.')
  parser.add_argument('--nets', default=','.join(PROBE_NETS),
                      help='Comma-separated registered nets whose training steps are timed.')
  parser.add_argument('--image_size', type=int, default=PROBE_IMAGE_SIZE,
                      help='Side of the synthetic images.')
  parser.add_argument('--batch_size', type=int, default=PROBE_BATCH_SIZE,
                      help='Images per step.')
  parser.add_argument('--rounds', type=int, default=PROBE_ROUNDS,
                      help='Interleaved rounds over the candidate settings.')
  parser.add_argument('--worker', help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.worker:
    _worker(json.loads(args.worker))
    return 0
  for name in ('image_size', 'batch_size', 'rounds'):
    if getattr(args, name) < 1:
      parser.error(f'--{name} must be at least 1, not {getattr(args, name)}')
  nets = [net for net in args.nets.split(',') if net]
  print(f'Timing training steps of {", ".join(nets)} under each setting, '
        f'{args.rounds} interleaved round(s):')
  try:
    entry = runtime_tuning.measure(nets, args.image_size, args.batch_size, args.rounds)
    runtime_tuning.save(entry)
  except (OSError, RuntimeError, subprocess.SubprocessError, ValueError) as error:
    sys.exit(f'python -m slimbench.tune_runtime: {error}')
  print(f'Kept in {runtime_tuning.settings_path()}: {runtime_tuning.describe(entry)} '
        f'(measured in {entry["seconds"]:.0f} s).')
  return 0


if __name__ == '__main__':
  sys.exit(main())
