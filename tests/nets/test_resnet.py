"""ResNet v1/v2: output_stride, root block, non-strided end points, widths, training.

Variable names, end points and parameter counts are pinned by the contract test in
test_nets_factory.py; these tests cover the arguments the contract build leaves at their
defaults. Most use a thin four-block net so that they stay fast.
"""

import math

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import layers
from nets import nets_factory
from nets import resnet_utils
from nets import resnet_v1
from nets import resnet_v2

tf1 = tf.compat.v1

VERSIONS = {'v1': (resnet_v1.resnet_v1, resnet_v1.resnet_v1_block),
            'v2': (resnet_v2.resnet_v2, resnet_v2.resnet_v2_block)}


def _small_blocks(block_fn):
  """The ImageNet block layout (strides 2, 2, 2, 1) with tiny widths and few units."""
  return [block_fn('block1', base_depth=1, num_units=3, stride=2),
          block_fn('block2', base_depth=2, num_units=3, stride=2),
          block_fn('block3', base_depth=4, num_units=3, stride=2),
          block_fn('block4', base_depth=8, num_units=2, stride=1)]


def _small_resnet(version, images, **kwargs):
  resnet, block_fn = VERSIONS[version]
  kwargs.setdefault('num_classes', None)
  kwargs.setdefault('global_pool', False)
  kwargs.setdefault('is_training', False)
  with slim.arg_scope(resnet_utils.resnet_arg_scope()):
    return resnet(images, _small_blocks(block_fn), scope='resnet', **kwargs)


def _random_images(size, batch=2, seed=0):
  return np.random.RandomState(seed).uniform(-1, 1, [batch, size, size, 3]).astype(np.float32)


@pytest.mark.parametrize('version, output_stride', [
    ('v1', None), ('v1', 4), ('v1', 8), ('v1', 16), ('v2', 8), ('v2', 32)])
def test_output_stride_sets_the_feature_map_size(version, output_stride, graph):
  size = 65
  images = tf1.placeholder(tf.float32, [1, size, size, 3])
  net, end_points = _small_resnet(version, images, output_stride=output_stride)
  expected = math.ceil(size / (output_stride or 32))
  assert net.shape.as_list() == [1, expected, expected, 32]
  assert end_points['resnet/block4'].shape.as_list() == [1, expected, expected, 32]


def test_output_stride_of_a_registered_builder(graph):
  images = tf1.placeholder(tf.float32, [1, 65, 65, 3])
  with slim.arg_scope(resnet_utils.resnet_arg_scope()):
    net, end_points = resnet_v1.resnet_v1_50(images, None, global_pool=False,
                                             output_stride=16, depth_multiplier=0.125)
  # Blocks 1 and 2 stride as usual (65 -> 33 -> 17 -> 9 -> 5); blocks 3 and 4 are atrous.
  assert [end_points[f'resnet_v1_50/block{i}'].shape.as_list()[1] for i in (1, 2, 3, 4)] == [
      9, 5, 5, 5]
  assert net.shape.as_list() == [1, 5, 5, 256]


@pytest.mark.parametrize('version', ['v1', 'v2'])
def test_dense_features_match_the_strided_ones(version, graph):
  """Atrous convolution computes the nominal net's features at every position in between.

  With an input of 32k+1 pixels the strided layers sample positions 0, s, 2s, ...; the
  output_stride=8 map, subsampled by 4, must hold the nominal (stride 32) features.
  """
  images = tf1.placeholder(tf.float32, [2, 65, 65, 3])
  nominal, _ = _small_resnet(version, images)
  with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
    dense, _ = _small_resnet(version, images, output_stride=8)
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    nominal_out, dense_out = sess.run([nominal, dense], {images: _random_images(65)})
  assert dense_out.shape == (2, 9, 9, 32) and nominal_out.shape == (2, 3, 3, 32)
  np.testing.assert_allclose(dense_out[:, ::4, ::4], nominal_out, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('output_stride, include_root_block, supported', [
    (12, True, '4, 8, 16, 32'),
    (2, True, '4, 8, 16, 32'),
    (0, True, '4, 8, 16, 32'),
    (64, True, '4, 8, 16, 32'),
    (16, False, '1, 2, 4, 8'),
])
def test_unreachable_output_stride_raises(output_stride, include_root_block, supported,
                                          graph):
  images = tf1.placeholder(tf.float32, [1, 65, 65, 3])
  message = (f'resnet: output_stride {output_stride} cannot be reached; this net supports '
             f'{supported} or None')
  with pytest.raises(ValueError, match=message):
    _small_resnet('v1', images, output_stride=output_stride,
                  include_root_block=include_root_block)


@pytest.mark.parametrize('version', ['v1', 'v2'])
def test_store_non_strided_activations_keeps_block_end_points_at_full_resolution(
    version, graph):
  images = tf1.placeholder(tf.float32, [1, 64, 64, 3])
  net, end_points = _small_resnet(version, images)
  variables = {v.op.name: v.shape.as_list() for v in tf1.global_variables()}
  with tf1.variable_scope('non_strided'):
    dense_net, dense_end_points = _small_resnet(version, images,
                                                store_non_strided_activations=True)

  def sizes(points, prefix):
    return [points[f'{prefix}resnet/block{i}'].shape.as_list()[1] for i in (1, 2, 3, 4)]

  # The root block makes 16x16; each block's last unit halves it, except block4's.
  assert sizes(end_points, '') == [8, 4, 2, 2]
  assert sizes(dense_end_points, 'non_strided/') == [16, 8, 4, 2]
  assert dense_net.shape.as_list() == net.shape.as_list()
  # Same variables: the flag moves the stride, it does not change the checkpoint.
  assert {name.replace('non_strided/', ''): shape for name, shape in
          ((v.op.name, v.shape.as_list()) for v in tf1.global_variables())
          if name.startswith('non_strided/')} == variables


@pytest.mark.parametrize('version', ['v1', 'v2'])
def test_without_root_block_the_blocks_see_the_input(version, graph):
  images = tf1.placeholder(tf.float32, [1, 33, 33, 3])
  net, _ = _small_resnet(version, images, include_root_block=False)
  shapes = {v.op.name: v.shape.as_list() for v in tf1.global_variables()}
  assert not any(name.startswith('resnet/conv1/') for name in shapes)
  assert shapes[f'resnet/block1/unit_1/bottleneck_{version}/conv1/weights'] == [1, 1, 3, 1]
  # Only the blocks' strides: 2 * 2 * 2.
  assert net.shape.as_list() == [1, 5, 5, 32]


def test_without_root_block_output_stride_counts_from_the_input(graph):
  images = tf1.placeholder(tf.float32, [1, 33, 33, 3])
  net, _ = _small_resnet('v2', images, include_root_block=False, output_stride=2)
  assert net.shape.as_list() == [1, 17, 17, 32]


@pytest.mark.parametrize('version', ['v1', 'v2'])
def test_classifier_outputs(version, graph):
  images = tf1.placeholder(tf.float32, [2, 64, 64, 3])
  features, end_points = _small_resnet(version, images, global_pool=True)
  assert features.shape.as_list() == [2, 1, 1, 32]
  assert 'predictions' not in end_points
  with tf1.variable_scope('unsqueezed'):
    logits, end_points = _small_resnet(version, images, global_pool=True, num_classes=5,
                                       spatial_squeeze=False)
  assert logits.shape.as_list() == [2, 1, 1, 5]
  assert end_points['predictions'].shape.as_list() == [2, 1, 1, 5]
  # Without global pooling a 64x64 input leaves a 2x2 map that cannot be squeezed.
  with tf1.variable_scope('map'):
    with pytest.raises(ValueError, match='spatial_squeeze needs a 1x1 map'):
      _small_resnet(version, images, num_classes=5)


@pytest.mark.parametrize('builder', [resnet_v1.resnet_v1_50, resnet_v2.resnet_v2_50])
def test_depth_multiplier_scales_widths_down_to_min_base_depth(builder, graph):
  images = tf1.placeholder(tf.float32, [1, 32, 32, 3])
  with slim.arg_scope(resnet_utils.resnet_arg_scope()):
    _, end_points = builder(images, None, depth_multiplier=0.25, scope='quarter')
    # 512 * 0.01 = 5 bottleneck channels: every block is held at min_base_depth=8.
    _, thin_end_points = builder(images, None, depth_multiplier=0.01, scope='thin')
    with pytest.raises(ValueError, match='depth_multiplier'):
      builder(images, None, depth_multiplier=0, scope='zero')
  assert [end_points[f'quarter/block{i}'].shape[-1] for i in (1, 2, 3, 4)] == [
      64, 128, 256, 512]
  assert [thin_end_points[f'thin/block{i}'].shape[-1] for i in (1, 2, 3, 4)] == [32] * 4


def test_conv2d_same_samples_the_stride_1_positions(graph):
  """conv2d_same(stride=2) equals the stride-1 convolution at positions 0, 2, 4, ...

  SAME padding would shift the sampled positions for even input sizes.
  """
  for size in (6, 7):
    images = tf1.placeholder(tf.float32, [1, size, size, 3])
    with slim.arg_scope([slim.conv2d], activation_fn=None, normalizer_fn=None,
                        biases_initializer=None):
      dense = resnet_utils.conv2d_same(images, 4, 3, stride=1, scope=f'conv_{size}')
      with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
        strided = resnet_utils.conv2d_same(images, 4, 3, stride=2, scope=f'conv_{size}')
    assert strided.shape.as_list() == [1, math.ceil(size / 2), math.ceil(size / 2), 4]
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      dense_out, strided_out = sess.run(
          [dense, strided], {images: _random_images(size, batch=1)})
    np.testing.assert_allclose(strided_out, dense_out[:, ::2, ::2], rtol=1e-5, atol=1e-5)


def test_bounded_activations_stay_within_six(graph):
  inputs = tf.constant(_random_images(8) * 100)
  with slim.arg_scope(resnet_utils.resnet_arg_scope()):
    with slim.arg_scope([layers.batch_norm], is_training=False):
      bounded = resnet_v1.bottleneck(inputs, 16, 4, stride=1, use_bounded_activations=True,
                                     scope='bounded')
      unbounded = resnet_v1.bottleneck(inputs, 16, 4, stride=1, scope='unbounded')
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    bounded_out, unbounded_out = sess.run([bounded, unbounded])
  assert bounded_out.min() >= 0 and bounded_out.max() <= 6
  assert unbounded_out.max() > 6


def test_registry_metadata():
  for depth in (50, 101, 152, 200):
    v1 = nets_factory.model_info(f'resnet_v1_{depth}')
    v2 = nets_factory.model_info(f'resnet_v2_{depth}')
    assert (v1.preprocessing, v1.num_classes) == ('vgg', 1000)
    # The published v2 checkpoints were trained on Inception-preprocessed images.
    assert (v2.preprocessing, v2.num_classes) == ('inception', 1001)
    assert v1.logits_scope == f'resnet_v1_{depth}/logits'
    assert v2.checkpoint_exclude_scopes == f'resnet_v2_{depth}/logits'


def test_a_training_step_moves_the_batch_norm_statistics(graph):
  images = tf.constant(_random_images(64, batch=4, seed=3))
  labels = tf.constant([0, 1, 2, 3])
  network_fn = nets_factory.get_network_fn('resnet_v2_50', num_classes=5,
                                           weight_decay=1e-4, is_training=True)
  logits, _ = network_fn(images)
  loss = tf1.losses.sparse_softmax_cross_entropy(labels, logits)
  total_loss = tf1.losses.get_total_loss()
  update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
  assert update_ops, 'batch norm added no moving-average updates'
  with tf.control_dependencies(update_ops):
    train_op = tf1.train.GradientDescentOptimizer(0.01).minimize(total_loss)
  variables = {v.op.name: v for v in tf1.global_variables()}
  watched = [variables[f'resnet_v2_50/{name}'] for name in (
      'postnorm/moving_mean', 'block1/unit_1/bottleneck_v2/preact/moving_variance',
      'block4/unit_3/bottleneck_v2/conv2/BatchNorm/moving_mean', 'logits/weights')]
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    before = sess.run(watched)
    loss_value, _ = sess.run([loss, train_op])
    after = sess.run(watched)
  assert np.isfinite(loss_value)
  for variable, old, new in zip(watched, before, after):
    assert not np.allclose(old, new), f'{variable.op.name} did not move'
