r"""Lists the registered networks as a Markdown table: input size, parameters, classes,
preprocessing, the published TF-Slim checkpoint (archive, ImageNet top-1, the flags that
fine-tune from it) and the paper.

Usage:
  slimbench-models                          # every registered network
  slimbench-models --models='resnet_v1_*,mobilenet_v2'
  python -m slimbench.commands.models       # the same, from a source checkout

Parameters are counted by building each net at its default size with the classes of its
published checkpoint (its time: docs/performance.md). The published checkpoints come from
nets/published_checkpoints.py.
"""

import os
import sys
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import flags  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from slimbench import benchmark  # pylint: disable=g-import-not-at-top
from slimbench import usage  # pylint: disable=g-import-not-at-top
from slimbench.nets import nets_factory  # pylint: disable=g-import-not-at-top
from slimbench.nets import published_checkpoints  # pylint: disable=g-import-not-at-top

tf1 = tf.compat.v1

flags.DEFINE_list('models', ['*'], 'Registered names or shell patterns of the networks to '
                  'list, in that order.')

COLUMNS = ('model', 'default size', 'parameters', 'classes', 'preprocessing',
           'published checkpoint', 'ImageNet top-1', 'fine-tuning flags', 'paper')


def parameter_count(name):
  info = nets_factory.model_info(name)
  with tf.Graph().as_default():
    images = tf1.placeholder(tf.float32, nets_factory.input_shape(name, 1))
    nets_factory.get_network_fn(name, num_classes=info.num_classes)(images)
    return sum(v.shape.num_elements() for v in tf1.trainable_variables())


def published_columns(info):
  """The published checkpoint's archive link, its top-1 and the fine-tuning flags."""
  published = published_checkpoints.PUBLISHED.get(info.name)
  if published is None:
    return ['none', '', '']
  top1 = f'{published.top1:.1f}'
  if published.image_size:
    top1 += f' (at {published.image_size})'
  fine_tuning = published_checkpoints.fine_tuning_flags(info)
  evaluation = published_checkpoints.evaluation_flags(info)
  if evaluation:
    fine_tuning += f'; eval on ImageNet: {evaluation}'
  return [f'[{published.archive}]({published.url})', top1, f'`{fine_tuning}`']


def table_row(name):
  info = nets_factory.model_info(name)
  size = str(info.default_image_size)
  if info.is_video_model:
    size += f' x {info.num_frames} frames'
  columns = [f'`{name}`', size, f'{parameter_count(name):,}', str(info.num_classes),
             info.preprocessing, *published_columns(info), info.paper]
  return '| ' + ' | '.join(columns) + ' |'


def main(argv):
  if len(argv) > 1:
    sys.exit(f'{usage.program()}: unexpected arguments {argv[1:]}')
  try:
    names = benchmark.expand_models(flags.FLAGS.models)
  except ValueError as error:
    sys.exit(f'{usage.program()}: {error}')
  # Building the nets logs TensorFlow's deprecation notes; the table is what was asked for.
  tf.get_logger().setLevel('ERROR')
  warnings.simplefilter('ignore')
  print('| ' + ' | '.join(COLUMNS) + ' |')
  print('|' + '---|' * len(COLUMNS))
  for name in names:
    print(table_row(name), flush=True)


def run():
  """The console command's entry point."""
  usage.run(main)


if __name__ == '__main__':
  run()
