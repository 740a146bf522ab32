"""MobileNet v1: width multiplier, final_endpoint, output_stride, padding, training.

Variable names, end points and parameter counts of the four registered widths are pinned
by the contract test in test_nets_factory.py.
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import mobilenet_v1
from nets import nets_factory

tf1 = tf.compat.v1

CONV_DEFS = mobilenet_v1.MOBILENETV1_CONV_DEFS


def _random_images(size, batch=2, seed=0):
  return np.random.RandomState(seed).uniform(-1, 1, [batch, size, size, 3]).astype(np.float32)


def _base(images, **kwargs):
  with slim.arg_scope(mobilenet_v1.mobilenet_v1_arg_scope(is_training=False)):
    # A named scope, so that a second call with reuse finds the first one's variables.
    return mobilenet_v1.mobilenet_v1_base(images, scope='MobilenetV1', **kwargs)


def _channels(end_points):
  return {key: tensor.shape.as_list()[-1] for key, tensor in end_points.items()}


@pytest.mark.parametrize('depth_multiplier', [0.25, 0.5, 0.75, 1.0, 1.4])
def test_depth_multiplier_scales_every_layer(depth_multiplier, graph):
  """Section 3.3: alpha * N channels for a layer of N (at least min_depth=8)."""
  images = tf1.placeholder(tf.float32, [1, 32, 32, 3])
  _, end_points = _base(images, depth_multiplier=depth_multiplier)
  channels = _channels(end_points)
  previous = None
  for index, conv_def in enumerate(CONV_DEFS):
    expected = max(int(conv_def.depth * depth_multiplier), 8)
    if index == 0:
      assert channels['Conv2d_0'] == expected
    else:
      # The depthwise layer filters each input channel on its own.
      assert channels[f'Conv2d_{index}_depthwise'] == previous
      assert channels[f'Conv2d_{index}_pointwise'] == expected
    previous = expected


def test_min_depth_floors_the_thin_layers(graph):
  images = tf1.placeholder(tf.float32, [1, 32, 32, 3])
  _, end_points = _base(images, depth_multiplier=0.25, min_depth=48)
  channels = _channels(end_points)
  # 0.25 * (32, 64, 128, 256, 512, 1024) = (8, 16, 32, 64, 128, 256).
  assert channels['Conv2d_0'] == 48
  assert channels['Conv2d_1_pointwise'] == 48
  assert channels['Conv2d_3_pointwise'] == 48
  assert channels['Conv2d_4_pointwise'] == 64
  assert channels['Conv2d_13_pointwise'] == 256


def test_registered_widths_cost_what_the_paper_says(graph):
  """Table 6: width 0.75 / 0.5 / 0.25 has 2.6M / 1.3M / 0.5M parameters (with 1000 classes)."""
  images = tf1.placeholder(tf.float32, [1, 32, 32, 3])
  counts = {}
  for name in ('mobilenet_v1', 'mobilenet_v1_075', 'mobilenet_v1_050', 'mobilenet_v1_025'):
    with tf1.variable_scope(name):
      nets_factory.get_network_fn(name, num_classes=1000)(images)
    counts[name] = sum(v.shape.num_elements() for v in tf1.trainable_variables(name + '/'))
  # Our counts include the batch-norm offsets and scales, which the paper leaves out.
  assert round(counts['mobilenet_v1'] / 1e6, 1) == 4.2
  assert round(counts['mobilenet_v1_075'] / 1e6, 1) == 2.6
  assert round(counts['mobilenet_v1_050'] / 1e6, 1) == 1.3
  assert round(counts['mobilenet_v1_025'] / 1e6, 1) == 0.5


@pytest.mark.parametrize('depth_multiplier', [0, -0.5])
def test_non_positive_depth_multiplier_raises(depth_multiplier, graph):
  images = tf1.placeholder(tf.float32, [1, 32, 32, 3])
  with pytest.raises(ValueError, match='depth_multiplier must be greater than zero'):
    _base(images, depth_multiplier=depth_multiplier)


@pytest.mark.parametrize('final_endpoint', ['Conv2d_0', 'Conv2d_5_depthwise',
                                            'Conv2d_5_pointwise'])
def test_final_endpoint_stops_the_net(final_endpoint, graph):
  images = tf1.placeholder(tf.float32, [1, 64, 64, 3])
  net, end_points = _base(images, final_endpoint=final_endpoint)
  assert list(end_points)[-1] == final_endpoint
  assert net is end_points[final_endpoint]
  built = {v.op.name.split('/')[1] for v in tf1.global_variables()}
  assert final_endpoint in built and 'Conv2d_6_depthwise' not in built
  assert len(end_points) == {'Conv2d_0': 1, 'Conv2d_5_depthwise': 10,
                             'Conv2d_5_pointwise': 11}[final_endpoint]


def test_unknown_final_endpoint_raises_before_building(graph):
  images = tf1.placeholder(tf.float32, [1, 64, 64, 3])
  with pytest.raises(ValueError, match="unknown final_endpoint 'Conv2d_14_pointwise'"):
    _base(images, final_endpoint='Conv2d_14_pointwise')
  assert not tf1.global_variables()


@pytest.mark.parametrize('output_stride', [8, 16, 32])
def test_output_stride_sets_the_feature_map_size(output_stride, graph):
  images = tf1.placeholder(tf.float32, [1, 64, 64, 3])
  net, _ = _base(images, output_stride=output_stride)
  assert net.shape.as_list() == [1, 64 // output_stride, 64 // output_stride, 1024]


@pytest.mark.parametrize('output_stride', [4, 12, 64])
def test_unsupported_output_stride_raises(output_stride, graph):
  images = tf1.placeholder(tf.float32, [1, 64, 64, 3])
  with pytest.raises(ValueError, match=f'output_stride must be 8, 16 or 32, got {output_stride}'):
    _base(images, output_stride=output_stride)


def test_dense_features_match_the_strided_ones_with_explicit_padding(graph):
  """With even padding, the output_stride=8 map holds the stride-32 features every 4 pixels.

  An input of 32k+1 pixels puts the strided layers' samples at 0, s, 2s, ...
  """
  images = tf1.placeholder(tf.float32, [2, 33, 33, 3])
  nominal, _ = _base(images, use_explicit_padding=True, depth_multiplier=0.25)
  with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
    dense, _ = _base(images, use_explicit_padding=True, depth_multiplier=0.25,
                     output_stride=8)
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    nominal_out, dense_out = sess.run([nominal, dense], {images: _random_images(33)})
  assert nominal_out.shape == (2, 2, 2, 256) and dense_out.shape == (2, 5, 5, 256)
  np.testing.assert_allclose(dense_out[:, ::4, ::4], nominal_out, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('size, same_values', [(33, True), (32, False)])
def test_explicit_padding_differs_from_same_only_for_even_inputs(size, same_values, graph):
  """SAME pads a stride-2 layer's even input only at the bottom/right; explicit padding
  pads both sides, as SAME does for odd inputs."""
  images = tf1.placeholder(tf.float32, [1, size, size, 3])
  same, _ = _base(images, final_endpoint='Conv2d_2_pointwise')
  with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
    explicit, _ = _base(images, final_endpoint='Conv2d_2_pointwise',
                        use_explicit_padding=True)
  assert same.shape.as_list() == explicit.shape.as_list()
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    same_out, explicit_out = sess.run([same, explicit],
                                      {images: _random_images(size, batch=1)})
  assert np.allclose(same_out, explicit_out, rtol=1e-5, atol=1e-5) == same_values


def test_classifier_passes_explicit_padding_on(graph):
  images = tf1.placeholder(tf.float32, [1, 32, 32, 3])
  with slim.arg_scope(mobilenet_v1.mobilenet_v1_arg_scope()):
    mobilenet_v1.mobilenet_v1_025(images, 10, is_training=False, scope='implicit')
    mobilenet_v1.mobilenet_v1_025(images, 10, is_training=False, scope='explicit',
                                  use_explicit_padding=True)
  pads = [op.name.split('/')[0] for op in graph.get_operations() if op.type == 'Pad']
  # One pad before each 3x3 layer: Conv2d_0 and the 13 depthwise convolutions.
  assert pads.count('explicit') == 14 and pads.count('implicit') == 0


def test_conv_defs_define_the_layers(graph):
  conv_defs = [mobilenet_v1.Conv(kernel=[3, 3], stride=2, depth=16),
               mobilenet_v1.DepthSepConv(kernel=[3, 3], stride=2, depth=24),
               mobilenet_v1.DepthSepConv(kernel=[5, 5], stride=1, depth=40)]
  images = tf1.placeholder(tf.float32, [2, 32, 32, 3])
  with slim.arg_scope(mobilenet_v1.mobilenet_v1_arg_scope()):
    logits, end_points = mobilenet_v1.mobilenet_v1(images, 3, conv_defs=conv_defs)
  assert list(end_points) == ['Conv2d_0', 'Conv2d_1_depthwise', 'Conv2d_1_pointwise',
                              'Conv2d_2_depthwise', 'Conv2d_2_pointwise', 'AvgPool_1a',
                              'Logits', 'Predictions']
  assert end_points['Conv2d_2_pointwise'].shape.as_list() == [2, 8, 8, 40]
  shapes = {v.op.name: v.shape.as_list() for v in tf1.global_variables()}
  assert shapes['MobilenetV1/Conv2d_2_depthwise/depthwise_weights'] == [5, 5, 24, 1]
  assert logits.shape.as_list() == [2, 3]


def test_large_inputs_need_global_pool(graph):
  images = tf1.placeholder(tf.float32, [1, 288, 288, 3])
  network_fn = nets_factory.get_network_fn('mobilenet_v1_025', num_classes=10)
  # The 7x7 stride-2 pool leaves 2x2 of the 9x9 map of a 288 input.
  with pytest.raises(ValueError, match='spatial_squeeze needs a 1x1 map'):
    network_fn(images, scope='fixed_pool')
  logits, end_points = network_fn(images, global_pool=True, scope='global_pool')
  assert logits.shape.as_list() == [1, 10]
  assert 'global_pool' in end_points and 'AvgPool_1a' not in end_points


def test_small_inputs_pool_what_is_left(graph):
  images = tf1.placeholder(tf.float32, [1, 64, 64, 3])
  features, end_points = nets_factory.get_network_fn('mobilenet_v1_025', num_classes=0)(
      images)
  assert end_points['Conv2d_13_pointwise'].shape.as_list() == [1, 2, 2, 256]
  assert features.shape.as_list() == [1, 1, 1, 256]


@pytest.mark.parametrize('regularize_depthwise, expected', [(False, 15), (True, 28)])
def test_weight_decay_spares_depthwise_filters_by_default(regularize_depthwise, expected,
                                                          graph):
  """Section 3.2: little or no weight decay on the depthwise filters."""
  images = tf1.placeholder(tf.float32, [1, 32, 32, 3])
  with slim.arg_scope(mobilenet_v1.mobilenet_v1_arg_scope(
      regularize_depthwise=regularize_depthwise)):
    mobilenet_v1.mobilenet_v1_025(images, 10)
  # Conv2d_0, 13 pointwise layers and the logits; plus 13 depthwise layers.
  assert len(tf1.losses.get_regularization_losses()) == expected


def test_registry_metadata():
  for name in ('mobilenet_v1', 'mobilenet_v1_075', 'mobilenet_v1_050', 'mobilenet_v1_025'):
    info = nets_factory.model_info(name)
    assert (info.preprocessing, info.num_classes, info.default_image_size) == (
        'inception', 1001, 224)
    assert info.checkpoint_exclude_scopes == 'MobilenetV1/Logits'
    assert info.builder.__name__ == name


def test_a_training_step_moves_the_batch_norm_statistics(graph):
  images = tf.constant(_random_images(64, batch=4, seed=3))
  labels = tf.constant([0, 1, 2, 3])
  network_fn = nets_factory.get_network_fn('mobilenet_v1_025', num_classes=5,
                                           weight_decay=4e-5, is_training=True)
  logits, _ = network_fn(images)
  loss = tf1.losses.sparse_softmax_cross_entropy(labels, logits)
  update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
  assert len(update_ops) == 2 * 27, 'expected two moving-average updates per batch norm'
  with tf.control_dependencies(update_ops):
    train_op = tf1.train.GradientDescentOptimizer(0.1).minimize(tf1.losses.get_total_loss())
  variables = {v.op.name: v for v in tf1.global_variables()}
  watched = [variables[f'MobilenetV1/{name}'] for name in (
      'Conv2d_0/BatchNorm/moving_mean', 'Conv2d_13_depthwise/BatchNorm/moving_variance',
      'Conv2d_13_pointwise/BatchNorm/moving_mean', 'Logits/Conv2d_1c_1x1/weights')]
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    before = sess.run(watched)
    loss_value, _ = sess.run([loss, train_op])
    after = sess.run(watched)
  assert np.isfinite(loss_value)
  for variable, old, new in zip(watched, before, after):
    assert not np.allclose(old, new), f'{variable.op.name} did not move'
