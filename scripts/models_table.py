"""Prints the Markdown table of registered models that the README shows.

Usage (from the repository root):
  .venv/bin/python scripts/models_table.py
Parameters are counted by building each net at its default size with the classes of its
published checkpoint. The published checkpoint, its ImageNet top-1 and the flags that
fine-tune from it come from `nets/published_checkpoints.py`.
"""

import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # pylint: disable=g-import-not-at-top

from nets import nets_factory  # pylint: disable=g-import-not-at-top
from nets import published_checkpoints  # pylint: disable=g-import-not-at-top

tf1 = tf.compat.v1


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
  flags = published_checkpoints.fine_tuning_flags(info)
  evaluation = published_checkpoints.evaluation_flags(info)
  if evaluation:
    flags += f'; eval on ImageNet: {evaluation}'
  return [f'[{published.archive}]({published.url})', top1, f'`{flags}`']


def main():
  print('| model | default size | parameters | classes | preprocessing | published checkpoint '
        '| ImageNet top-1 | fine-tuning flags | paper |')
  print('|---|---|---|---|---|---|---|---|---|')
  for name in nets_factory.list_models():
    info = nets_factory.model_info(name)
    size = str(info.default_image_size)
    if info.is_video_model:
      size += f' x {info.num_frames} frames'
    columns = [f'`{name}`', size, f'{parameter_count(name):,}',
               str(info.num_classes), info.preprocessing, *published_columns(info), info.paper]
    print('| ' + ' | '.join(columns) + ' |')


if __name__ == '__main__':
  main()
