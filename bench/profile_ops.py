"""Where a training or inference step of one of our nets spends its time, op by op.

Runs a few steps on synthetic data with a full trace (`RunMetadata`) and prints the ops
that took the most time, summed by op type and by op name. The times come from the
executor's step statistics: with both cores busy, ops overlap, so the total exceeds the
wall time of the step, but the ranking shows what to work on; `--inter_op_threads=1` runs
one op at a time, so that the times add up to the step.

Usage (from the repository root):
  .venv/bin/python bench/profile_ops.py --net=alexnet_v2 --batch_size=32 --mode=train
"""

import collections
import os
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# Sets TensorFlow's runtime defaults (oneDNN) before TensorFlow loads.
import slimbench  # pylint: disable=g-import-not-at-top,unused-import

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags  # pylint: disable=g-import-not-at-top

flags.DEFINE_string('net', 'alexnet_v2', 'Registered name of the net.')
flags.DEFINE_integer('batch_size', 32, 'Images per step.', lower_bound=1)
flags.DEFINE_integer('image_size', None, 'Side of the input; the net\'s default if unset.',
                     lower_bound=1)
flags.DEFINE_enum('mode', 'train', ['train', 'inference'], 'What a step does.')
flags.DEFINE_integer('traced_steps', 2, 'Steps traced after two untraced ones.',
                     lower_bound=1)
flags.DEFINE_integer('top', 25, 'Rows printed per table.', lower_bound=1)
flags.DEFINE_integer('inter_op_threads', 0,
                     'Ops run at once (0: TensorFlow\'s default). With 1 the op times add up '
                     'to the step, so the shares are shares of the wall time.', lower_bound=0)


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from slimbench import benchmark_worker  # pylint: disable=g-import-not-at-top
  tf1 = tf.compat.v1
  fv = flags.FLAGS
  from nets import nets_factory  # pylint: disable=g-import-not-at-top
  info = nets_factory.model_info(fv.net)
  with tf.Graph().as_default():
    images, labels = benchmark_worker.synthetic_inputs(
        fv.net, fv.batch_size, fv.image_size or info.default_image_size, info.num_classes)
    step_op = benchmark_worker.benchmark_step(fv.net, images, labels, info.num_classes,
                                              fv.mode == 'train')
    config = tf1.ConfigProto(inter_op_parallelism_threads=fv.inter_op_threads)
    with tf1.Session(config=config) as session:
      session.run([tf1.global_variables_initializer(), tf1.local_variables_initializer()])
      for _ in range(2):
        session.run(step_op)
      by_type = collections.Counter()
      by_name = collections.Counter()
      walls = []
      for _ in range(fv.traced_steps):
        metadata = tf1.RunMetadata()
        start = time.perf_counter()
        session.run(step_op, options=tf1.RunOptions(trace_level=tf1.RunOptions.FULL_TRACE),
                    run_metadata=metadata)
        walls.append(time.perf_counter() - start)
        for device in metadata.step_stats.dev_stats:
          for node in device.node_stats:
            name, _, op_type = node.timeline_label.partition(' = ')
            op_type = op_type.split('(')[0] or node.node_name
            micros = node.op_end_rel_micros - node.op_start_rel_micros
            by_type[op_type] += micros
            by_name[f'{node.node_name} ({op_type})'] += micros
  steps = fv.traced_steps
  total = sum(by_type.values()) / steps / 1e3
  print(f'{fv.net} {fv.mode}, batch {fv.batch_size}: traced step {min(walls) * 1e3:.0f} ms '
        f'wall, {total:.0f} ms summed over ops')
  for title, counter in (('op type', by_type), ('op', by_name)):
    print(f'\n| {title} | ms/step | share |\n|---|---|---|')
    for key, micros in counter.most_common(fv.top):
      milliseconds = micros / steps / 1e3
      print(f'| {key} | {milliseconds:.1f} | {milliseconds / total:.1%} |')


if __name__ == '__main__':
  app.run(main)
