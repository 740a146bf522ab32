"""Prints the Markdown table of registered models that the README shows.

Usage (from the repository root):
  .venv/bin/python scripts/models_table.py
Parameters are counted by building each net at its default size with the classes of its
published checkpoint.
"""

import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflow as tf  # pylint: disable=g-import-not-at-top

from nets import nets_factory  # pylint: disable=g-import-not-at-top

tf1 = tf.compat.v1


def parameter_count(name):
  info = nets_factory.model_info(name)
  with tf.Graph().as_default():
    size = info.default_image_size
    images = tf1.placeholder(tf.float32, [1, size, size, info.input_channels])
    nets_factory.get_network_fn(name, num_classes=info.num_classes)(images)
    return sum(v.shape.num_elements() for v in tf1.trainable_variables())


def main():
  print('| model | default size | parameters | classes | preprocessing | paper |')
  print('|---|---|---|---|---|---|')
  for name in nets_factory.list_models():
    info = nets_factory.model_info(name)
    print(f'| `{name}` | {info.default_image_size} | {parameter_count(name):,} | '
          f'{info.num_classes} | {info.preprocessing} | {info.paper} |')


if __name__ == '__main__':
  main()
