"""Times the gradients of single convolutions: TensorFlow's ops against ours.

For each shape (taken from our nets at batch 32), times one step that computes the input
and weight gradients of one Conv2D, built once with TensorFlow's registered gradient
(Conv2DBackpropInput / Conv2DBackpropFilter) and once under
`nets.layers.fast_conv_gradients` (matmuls, or a forward convolution for the input
gradient). This is the measurement behind that choice.

Usage (from the repository root, on an otherwise idle machine):
  .venv/bin/python bench/conv_kernels.py
"""

import os
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags  # pylint: disable=g-import-not-at-top

flags.DEFINE_integer('batch_size', 32, 'Images per step.', lower_bound=1)
flags.DEFINE_integer('timed_steps', 5, 'Timed steps per case (the median is shown).',
                     lower_bound=1)

# (where it occurs, input [height, width, channels], kernel [k, k, in, out], stride, padding)
CASES = [
    ('vgg_16 fc6', [7, 7, 512], [7, 7, 512, 4096], 1, 'VALID'),
    ('alexnet_v2 fc7', [1, 1, 4096], [1, 1, 4096, 4096], 1, 'SAME'),
    ('resnet_v1_50 logits', [1, 1, 2048], [1, 1, 2048, 1000], 1, 'SAME'),
    ('resnet block1 1x1', [56, 56, 64], [1, 1, 64, 256], 1, 'SAME'),
    ('resnet block3 1x1', [14, 14, 256], [1, 1, 256, 1024], 1, 'SAME'),
    ('alexnet_v2 conv2', [27, 27, 64], [5, 5, 64, 192], 1, 'SAME'),
    ('alexnet_v2 conv4', [13, 13, 384], [3, 3, 384, 384], 1, 'SAME'),
    ('resnet block3 3x3', [14, 14, 256], [3, 3, 256, 256], 1, 'SAME'),
    ('inception_v3 Conv2d_2b', [147, 147, 32], [3, 3, 32, 64], 1, 'VALID'),
    ('resnet block2 3x3 stride 2', [56, 56, 128], [3, 3, 128, 128], 2, 'SAME'),
]


def _time_gradients(shape, kernel, stride, padding, fast, batch_size, timed_steps):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from nets import layers  # pylint: disable=g-import-not-at-top
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
      times = []
      for _ in range(timed_steps):
        start = time.perf_counter()
        session.run(step)
        times.append(time.perf_counter() - start)
  return sorted(times)[len(times) // 2]


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
