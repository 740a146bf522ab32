"""Times the gradients of single convolutions: TensorFlow's ops against ours.

For convolutions of our nets (at batch 32), times one step that computes the forward pass
and both gradients, built once with TensorFlow's registered gradient (Conv2DBackpropInput /
Conv2DBackpropFilter) and once under `nets.layers.fast_conv_gradients`: two matmuls where
the kernel covers the whole input map, one matmul per kernel tap for the filter gradient
of stride-1 convolutions. This is the measurement behind those choices; a training step
gains more than the single op, because there TensorFlow's gradient ops also contend with
the ops running beside them.

Usage (from the repository root, on an otherwise idle machine):
  .venv/bin/python bench/conv_kernels.py
"""

import os
import statistics
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# Sets TensorFlow's runtime defaults (oneDNN) before TensorFlow loads.
import slimbench  # pylint: disable=g-import-not-at-top,unused-import

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags  # pylint: disable=g-import-not-at-top

flags.DEFINE_integer('batch_size', 32, 'Images per step.', lower_bound=1)
flags.DEFINE_integer('timed_steps', 5, 'Timed steps per case (the median is shown).',
                     lower_bound=1)

# (where it occurs, input [height, width, channels], kernel [k, k, in, out], stride, padding)
CASES = [
    ('vgg_16 fc6', [7, 7, 512], [7, 7, 512, 4096], 1, 'VALID'),
    ('vgg_16 fc7', [1, 1, 4096], [1, 1, 4096, 4096], 1, 'SAME'),
    ('alexnet_v2 fc6', [5, 5, 256], [5, 5, 256, 4096], 1, 'VALID'),
    ('resnet_v1_50 logits', [1, 1, 2048], [1, 1, 2048, 1000], 1, 'SAME'),
    ('mobilenet_v2 logits', [1, 1, 1280], [1, 1, 1280, 1001], 1, 'SAME'),
    ('inception_v3 logits', [1, 1, 2048], [1, 1, 2048, 1001], 1, 'SAME'),
    ('vgg_16 conv1_2', [224, 224, 64], [3, 3, 64, 64], 1, 'SAME'),
    ('vgg_16 conv2_2', [112, 112, 128], [3, 3, 128, 128], 1, 'SAME'),
    ('vgg_16 conv3_2', [56, 56, 256], [3, 3, 256, 256], 1, 'SAME'),
    ('vgg_16 conv4_2', [28, 28, 512], [3, 3, 512, 512], 1, 'SAME'),
    ('resnet_v1_50 block1 conv2', [56, 56, 64], [3, 3, 64, 64], 1, 'SAME'),
    ('inception_v3 Mixed_6b 1x7', [17, 17, 128], [1, 7, 128, 128], 1, 'SAME'),
]


def _time_gradients(shape, kernel, stride, padding, fast, batch_size, timed_steps):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from nets import layers  # pylint: disable=g-import-not-at-top
  from slimbench import benchmark_worker  # pylint: disable=g-import-not-at-top
  tf1 = tf.compat.v1
  with tf.Graph().as_default():
    inputs = tf1.get_local_variable('inputs', initializer=tf1.random_normal(
        [batch_size] + shape))
    weights = tf1.get_local_variable('weights', initializer=tf1.random_normal(kernel))
    if fast:
      with layers.fast_conv_gradients():
        outputs = tf.nn.conv2d(inputs, weights, stride, padding)
    else:
      outputs = tf.nn.conv2d(inputs, weights, stride, padding)
    # The output gradient is a constant-shaped ones tensor, so the step times the two
    # gradient ops and the forward pass, as in training.
    grads = tf.gradients(outputs, [inputs, weights])
    step = [tf.reduce_max(g) for g in grads]
    with tf1.Session() as session:
      session.run(tf1.local_variables_initializer())
      session.run(step)
      times = benchmark_worker.time_steps(lambda: session.run(step), timed_steps)
  return statistics.median(times)


def main(argv):
  del argv
  fv = flags.FLAGS
  print(f'forward + both gradients of one convolution, batch {fv.batch_size}, median of '
        f'{fv.timed_steps} steps\n')
  print('| where | input | kernel | stride | TensorFlow ms | ours ms | speed-up |')
  print('|---|---|---|---|---|---|---|')
  for where, shape, kernel, stride, padding in CASES:
    theirs, ours = (_time_gradients(shape, kernel, stride, padding, fast, fv.batch_size,
                                    fv.timed_steps) for fast in (False, True))
    print(f'| {where} | {"x".join(map(str, shape))} | {"x".join(map(str, kernel))} '
          f'{padding} | {stride} | {theirs * 1e3:.1f} | {ours * 1e3:.1f} | '
          f'{theirs / ours:.2f}x |', flush=True)


if __name__ == '__main__':
  app.run(main)
