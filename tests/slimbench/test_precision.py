"""--use_fp16: float16 compute over float32 variables, and loss scaling."""

import numpy as np
import pytest
import tensorflow as tf

from nets import nets_factory
from slimbench import precision

tf1 = tf.compat.v1


def _build(model_name, use_fp16, image_size, is_training=True):
  """The net on a fixed batch; returns (graph, images, logits, end_points)."""
  graph = tf.Graph()
  with graph.as_default():
    tf1.set_random_seed(3)
    network_fn = nets_factory.get_network_fn(model_name, num_classes=5, weight_decay=1e-3,
                                             is_training=is_training)
    if use_fp16:
      network_fn = precision.float16_network(network_fn)
    channels = nets_factory.model_info(model_name).input_channels
    images = tf.constant(np.random.RandomState(0).uniform(
        -1, 1, [2, image_size, image_size, channels]).astype(np.float32))
    logits, end_points = network_fn(images)
  return graph, images, logits, end_points


@pytest.mark.parametrize('model_name, image_size', [
    ('cifarnet', 32),           # convolutions, fully connected layers, dropout
    ('mobilenet_v1_025', 32),   # depthwise convolutions and batch norm
])
def test_float16_compute_keeps_float32_variables_and_their_names(model_name, image_size):
  graph32, _, logits32, _ = _build(model_name, False, image_size)
  graph16, _, logits16, end_points = _build(model_name, True, image_size)
  with graph32.as_default():
    variables32 = [(v.op.name, v.shape.as_list(), v.dtype.base_dtype)
                   for v in tf1.global_variables()]
    losses32 = tf1.losses.get_regularization_losses()
    updates32 = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
  with graph16.as_default():
    variables16 = [(v.op.name, v.shape.as_list(), v.dtype.base_dtype)
                   for v in tf1.global_variables()]
    losses16 = tf1.losses.get_regularization_losses()
    updates16 = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
    model_variables16 = tf1.model_variables()
  # A float16-trained checkpoint is a float32 one, in TF-Slim's names.
  assert variables16 == variables32
  assert all(dtype == tf.float32 for _, _, dtype in variables16)
  assert len(model_variables16) == len([v for v in variables32 if 'global_step' not in v[0]])
  assert len(losses16) == len(losses32) > 0
  assert {loss.dtype for loss in losses16} == {tf.float32}
  assert len(updates16) == len(updates32)
  # The convolutions compute in float16; what the loss reads is float32.
  conv_types = {op.get_attr('T') for op in graph16.get_operations()
                if op.type in ('Conv2D', 'DepthwiseConv2dNative')}
  assert conv_types == {tf.float16}
  assert logits16.dtype == tf.float32 and logits32.dtype == tf.float32
  assert end_points['Predictions'].dtype == tf.float32


def _train_step(use_fp16, loss_scale=None, poison=False):
  """cifarnet's loss and weights after one momentum step from a fixed start (without
  dropout, whose masks would differ between the graphs)."""
  graph, images, logits, _ = _build('cifarnet', use_fp16, 32, is_training=False)
  with graph.as_default():
    labels = tf.constant([1, 3])
    loss = tf1.losses.sparse_softmax_cross_entropy(labels, logits)
    loss += tf.add_n(tf1.losses.get_regularization_losses())
    if poison:  # a gradient that overflows float16, as an unlucky batch would
      weight = tf.cast(tf1.trainable_variables()[0][0, 0, 0, 0], tf.float16)
      big = tf.constant(6e4, tf.float16)
      loss += tf.cast(weight * big * big, tf.float32)
    optimizer = tf1.train.MomentumOptimizer(0.1, 0.9)
    if use_fp16:
      optimizer = precision.loss_scale_optimizer(optimizer, loss_scale)
    step = optimizer.minimize(loss)
    variables = tf1.trainable_variables()
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      before = sess.run(variables)
      loss_value, _ = sess.run([loss, step])
      after = sess.run(variables)
  return loss_value, before, after


@pytest.mark.parametrize('loss_scale', [None, 128.0])
def test_float16_step_follows_the_float32_step(loss_scale):
  loss32, before32, after32 = _train_step(False)
  loss16, before16, after16 = _train_step(True, loss_scale)
  for start32, start16 in zip(before32, before16):
    np.testing.assert_array_equal(start32, start16)
  assert loss16 == pytest.approx(loss32, rel=1e-2)
  for start, end32, end16 in zip(before32, after32, after16):
    update32, update16 = end32 - start, end16 - start
    assert np.abs(update32).max() > 0
    # float16 keeps ~3 digits, and the filter gradients of conv1 sum 2048 products in it:
    # measured 5% off there, under 3% elsewhere.
    assert np.linalg.norm(update16 - update32) < 0.1 * np.linalg.norm(update32)


def test_dynamic_loss_scale_skips_a_step_whose_gradients_overflow():
  _, before, after = _train_step(True, None, poison=True)
  for start, end in zip(before, after):
    np.testing.assert_array_equal(start, end)
