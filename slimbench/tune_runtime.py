"""Measures again which TensorFlow runtime settings train fastest on this machine.

Usage (from the repository root, or anywhere once installed):
  python -m slimbench.tune_runtime [--nets=resnet_v1_50,mobilenet_v1] [--image_size=96]
      [--batch_size=8] [--rounds=2] [--real_image_size=224] [--use_fp16]

Prints the step time of every candidate setting (oneDNN on and off, thread counts; then
preprocessing threads on real JPEGs; with --use_fp16, oneDNN on and off in float16) and
keeps the fastest for later runs;
slimbench/runtime_tuning.py says how they are chosen and used. Training and the benchmark
runner measure by themselves on a machine's first run.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from slimbench import runtime_tuning
from slimbench.runtime_tuning import (PROBE_BATCH_SIZE, PROBE_IMAGE_SIZE, PROBE_NETS,
                                      PROBE_ROUNDS)

# Phase 2's JPEGs: ImageNet's median size, enough of them that the shuffle buffer and the
# parallel decoders see distinct images.
REAL_IMAGE_HEIGHT, REAL_IMAGE_WIDTH = 375, 500
REAL_IMAGES = 32


def _write_jpeg_records(folder, channels):
  """A one-file converted split of photo-like JPEGs, as download_and_convert_data writes."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from datasets import dataset_factory  # pylint: disable=g-import-not-at-top
  from datasets import synthetic  # pylint: disable=g-import-not-at-top
  from datasets import tfrecords  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(0)
  path = os.path.join(folder, 'runtime_probe-train-00000-of-00001.tfrecord')
  with tfrecords.RecordWriter(path) as writer:
    for index in range(REAL_IMAGES):
      pixels = synthetic.photo_like(rng, REAL_IMAGE_HEIGHT, REAL_IMAGE_WIDTH)
      writer.write(tfrecords.encode_example({
          'image/encoded': tf.io.encode_jpeg(pixels, quality=90).numpy(),
          'image/format': b'jpeg', 'image/class/label': index % 2,
          'image/height': REAL_IMAGE_HEIGHT, 'image/width': REAL_IMAGE_WIDTH}))
  return dataset_factory.Dataset(name='runtime_probe', split_name='train',
                                 data_sources=[path], num_samples=REAL_IMAGES, num_classes=2,
                                 labels_to_names={0: 'a', 1: 'b'}, channels=channels)


def _median_step_seconds(step, spec):
  """Median seconds of spec['timed_steps'] runs of `step` after two untimed ones, in a
  session with the spec's threads; with spec['budget_seconds'], only as many timed runs
  (at least one) as fit in it at the second untimed run's pace."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from slimbench import benchmark_worker  # pylint: disable=g-import-not-at-top
  tf1 = tf.compat.v1
  config = tf1.ConfigProto(intra_op_parallelism_threads=spec['intra'],
                           inter_op_parallelism_threads=spec['inter'])
  with tf1.Session(config=config) as session:
    session.run([tf1.global_variables_initializer(), tf1.local_variables_initializer()])
    session.run(step)
    start = time.perf_counter()
    session.run(step)
    timed_steps = spec['timed_steps']
    if spec.get('budget_seconds'):
      pace = max(time.perf_counter() - start, 1e-6)
      timed_steps = max(1, min(timed_steps, int(spec['budget_seconds'] / pace)))
    return statistics.median(benchmark_worker.time_steps(lambda: session.run(step),
                                                         timed_steps))


def _worker(spec):
  """Prints, under this process's settings, {net: median seconds per training step} on
  synthetic images (in float16 with spec['use_fp16']), or with
  spec['preprocessing_threads'] {count: {net: seconds}} on real JPEGs through the training
  input pipeline with each count of preprocessing threads."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from slimbench import benchmark_worker  # pylint: disable=g-import-not-at-top
  from slimbench import inputs  # pylint: disable=g-import-not-at-top
  tf1 = tf.compat.v1
  # TensorFlow's own gradient kernels: the probe must not wait for kernel tuning.
  train_flag_argv = ['--conv_gradients=tensorflow']
  counts = spec.get('preprocessing_threads')
  result = {} if counts is None else {count: {} for count in counts}
  with tempfile.TemporaryDirectory(prefix='slimbench_runtime_probe_') as folder:
    for net in spec['nets']:
      info = benchmark_worker.nets_factory.model_info(net)
      if counts is None:
        with tf.Graph().as_default():
          images, labels = benchmark_worker.synthetic_inputs(
              net, spec['batch_size'], spec['image_size'], info.num_classes)
          step = benchmark_worker.benchmark_step(net, images, labels, info.num_classes, True,
                                                 use_fp16=spec.get('use_fp16', False),
                                                 train_flag_argv=train_flag_argv)
          result[net] = _median_step_seconds(step, spec)
        continue
      dataset = _write_jpeg_records(folder, info.input_channels)
      image_size = spec['image_size'] or info.default_image_size
      for count in counts:
        with tf.Graph().as_default():
          batches = inputs.make_batches(dataset, net, image_size, spec['batch_size'],
                                        is_training=True, num_preprocessing_threads=count)
          images, labels = tf1.data.make_one_shot_iterator(batches).get_next()
          step = benchmark_worker.benchmark_step(net, images, labels, info.num_classes, True,
                                                 train_flag_argv=train_flag_argv)
          result[count][net] = _median_step_seconds(step, spec)
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
  parser.add_argument('--real_image_size', type=int, default=None,
                      help='Side of the images the nets train on from real JPEGs, when '
                           'the preprocessing threads are timed; default each net\'s own.')
  parser.add_argument('--use_fp16', action='store_true',
                      help='Also measure whether oneDNN trains faster in float16, as '
                           'training with --use_fp16 does on its first run.')
  parser.add_argument('--worker', help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.worker:
    _worker(json.loads(args.worker))
    return 0
  for name in ('image_size', 'batch_size', 'rounds', 'real_image_size'):
    if getattr(args, name) is not None and getattr(args, name) < 1:
      parser.error(f'--{name} must be at least 1, not {getattr(args, name)}')
  nets = [net for net in args.nets.split(',') if net]
  print(f'Timing training steps of {", ".join(nets)} under each setting, '
        f'{args.rounds} interleaved round(s):')
  try:
    entry = runtime_tuning.measure(nets, args.image_size, args.batch_size, args.rounds,
                                   args.real_image_size)
    if args.use_fp16:
      entry.update(runtime_tuning.measure_float16(entry, nets, args.image_size,
                                                  args.batch_size, args.rounds))
    runtime_tuning.save(entry)
  except (OSError, RuntimeError, subprocess.SubprocessError, ValueError) as error:
    sys.exit(f'python -m slimbench.tune_runtime: {error}')
  print(f'Kept in {runtime_tuning.settings_path()}: {runtime_tuning.describe(entry)} '
        f'(measured in {entry["seconds"]:.0f} s).')
  return 0


if __name__ == '__main__':
  sys.exit(main())
