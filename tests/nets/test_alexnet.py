"""The 2012 paper's AlexNet: the layer table, the two-tower split, LRN vs batch norm."""

import numpy as np
import tensorflow as tf

from nets import alexnet
from nets import nets_factory

tf1 = tf.compat.v1


def _build(name, **kwargs):
  images = tf1.placeholder(tf.float32, [1, 227, 227, 3])
  network_fn = nets_factory.get_network_fn(name, num_classes=1000, is_training=True)
  return network_fn(images, **kwargs)


def test_feature_maps_follow_the_paper(graph):
  _, end_points = _build('alexnet')
  shapes = {key.split('/', 1)[1]: t.shape.as_list()[1:] for key, t in end_points.items()
            if key.startswith('alexnet/')}
  assert shapes['conv1'] == [55, 55, 96]
  assert shapes['pool1'] == [27, 27, 96]
  assert shapes['conv2'] == [27, 27, 256]
  assert shapes['pool2'] == [13, 13, 256]
  assert shapes['conv3'] == [13, 13, 384]
  assert shapes['conv4'] == [13, 13, 384]
  assert shapes['conv5'] == [13, 13, 256]
  assert shapes['pool5'] == [6, 6, 256]
  assert shapes['fc6'] == [1, 1, 4096] and shapes['fc7'] == [1, 1, 4096]
  assert list(end_points)[-2:] == ['Logits', 'Predictions']


def _params(variables):
  return sum(int(np.prod(v.shape)) for v in variables)


def test_two_towers_halve_conv2_conv4_conv5(graph):
  _build('alexnet', groups=2)
  shapes = {v.op.name: v.shape.as_list() for v in tf1.trainable_variables()}
  assert shapes['alexnet/conv2/weights'] == [5, 5, 48, 256]
  assert shapes['alexnet/conv3/weights'] == [3, 3, 256, 384]  # conv3 sees both towers
  assert shapes['alexnet/conv4/weights'] == [3, 3, 192, 384]
  assert shapes['alexnet/conv5/weights'] == [3, 3, 192, 256]
  # The paper's ~60 million parameters: 60,965,224 with the split.
  assert _params(tf1.trainable_variables()) == 60965224


def test_single_tower_parameter_count(graph):
  _build('alexnet')
  assert _params(tf1.trainable_variables()) == 62378344


def test_initial_biases_follow_the_paper(graph):
  _build('alexnet', groups=2)
  biases = {v.op.name: v for v in tf1.global_variables() if v.op.name.endswith('biases')}
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    values = {name.split('/')[1]: sess.run(v) for name, v in biases.items()}
  for layer in ('conv2', 'conv4', 'conv5', 'fc6', 'fc7'):
    assert np.all(values[layer] == 1.0), layer
  for layer in ('conv1', 'conv3', 'fc8'):
    assert np.all(values[layer] == 0.0), layer


def test_weights_start_gaussian_with_stddev_001(graph):
  _build('alexnet')
  weights = [v for v in tf1.global_variables() if v.op.name == 'alexnet/fc7/weights'][0]
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    value = sess.run(weights)
  assert abs(value.std() - 0.01) < 1e-4 and abs(value.mean()) < 1e-4


def test_default_weight_decay_is_5e4(graph):
  images = tf1.placeholder(tf.float32, [1, 227, 227, 3])
  import tf_slim as slim  # pylint: disable=g-import-not-at-top
  with slim.arg_scope(alexnet.alexnet_arg_scope()):
    alexnet.alexnet(images)
  losses = tf1.losses.get_regularization_losses()
  fc7 = [l for l in losses if 'fc7' in l.name][0]
  weights = [v for v in tf1.global_variables() if v.op.name == 'alexnet/fc7/weights'][0]
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    loss, value = sess.run([fc7, weights])
  np.testing.assert_allclose(loss, 0.0005 * np.sum(value ** 2) / 2, rtol=1e-4)


def test_lrn_in_alexnet_and_batch_norm_in_alexnet_bn(graph):
  _build('alexnet')
  op_types = {op.type for op in graph.get_operations()}
  assert 'LRN' in op_types and 'FusedBatchNormV3' not in op_types
  with tf.Graph().as_default() as bn_graph:
    _build('alexnet_bn')
    bn_ops = [op for op in bn_graph.get_operations() if op.type == 'FusedBatchNormV3']
    assert 'LRN' not in {op.type for op in bn_graph.get_operations()}
    assert {op.name.split('/')[1] for op in bn_ops} == {'conv1', 'conv2'}
    assert len(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)) == 4


def test_alexnet_bn_trains_a_step(graph):
  images = tf.random.uniform([2, 227, 227, 3])
  labels = tf.constant([1, 2])
  logits, _ = nets_factory.get_network_fn('alexnet_bn', num_classes=5,
                                          is_training=True)(images)
  loss = tf1.losses.sparse_softmax_cross_entropy(labels, logits)
  with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
    train_op = tf1.train.MomentumOptimizer(0.01, 0.9).minimize(loss)
  moving_mean = [v for v in tf1.global_variables() if v.op.name.endswith('moving_mean')][0]
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    sess.run(train_op)
    assert np.any(sess.run(moving_mean) != 0)
    assert np.isfinite(sess.run(loss))
