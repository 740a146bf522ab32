"""Graph-mode running and test images for the preprocessing tests."""

import numpy as np
import tensorflow as tf

tf1 = tf.compat.v1


def run(build, runs=1):
  """Builds `build()` in a fresh graph and returns its value (a list of `runs` values)."""
  with tf.Graph().as_default():
    outputs = build()
    with tf1.Session() as sess:
      values = [sess.run(outputs) for _ in range(runs)]
  return values if runs > 1 else values[0]


def random_image(height, width, channels=3, seed=0):
  return np.random.RandomState(seed).randint(0, 256, [height, width, channels]).astype(np.uint8)
