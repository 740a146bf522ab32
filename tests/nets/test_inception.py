"""Inception family: partial builds, auxiliary heads, small inputs, width scaling, training.

The registry-wide tests (test_nets_factory.py) already check each full net against the
TF-Slim spec at its default size; these tests cover the keyword arguments.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim
from tensorflow.core.protobuf import rewriter_config_pb2

from nets import inception
from nets import nets_factory
from tests.conftest import SPEC_DIR

tf1 = tf.compat.v1

BASES = {
    'inception_v1': inception.inception_v1_base,
    'inception_v2': inception.inception_v2_base,
    'inception_v3': inception.inception_v3_base,
    'inception_v4': inception.inception_v4_base,
    'inception_resnet_v2': inception.inception_resnet_v2_base,
}
SCOPES = {
    'inception_v1': 'InceptionV1', 'inception_v2': 'InceptionV2',
    'inception_v3': 'InceptionV3', 'inception_v4': 'InceptionV4',
    'inception_resnet_v2': 'InceptionResnetV2',
}
AUX_NETS = ['inception_v3', 'inception_v4', 'inception_resnet_v2']


def _spec_end_points(name):
  with open(os.path.join(SPEC_DIR, f'{name}.json')) as f:
    spec = json.load(f)
  return spec['default_image_size'], [(e['key'], e['shape']) for e in spec['end_points']]


@pytest.mark.parametrize('name, final_endpoint', [
    ('inception_v1', 'MaxPool_2a_3x3'), ('inception_v1', 'Mixed_3c'),
    ('inception_v2', 'Conv2d_1a_7x7'), ('inception_v2', 'Mixed_4a'),
    ('inception_v3', 'MaxPool_3a_3x3'), ('inception_v3', 'Mixed_5b'),
    ('inception_v4', 'Conv2d_2b_3x3'), ('inception_v4', 'Mixed_4a'),
    ('inception_resnet_v2', 'Conv2d_2a_3x3'), ('inception_resnet_v2', 'Mixed_5b'),
])
def test_final_endpoint_builds_exactly_the_blocks_up_to_it(name, final_endpoint, graph):
  size, spec_end_points = _spec_end_points(name)
  keys = [key for key, _ in spec_end_points]
  expected = spec_end_points[:keys.index(final_endpoint) + 1]
  net, end_points = BASES[name](tf1.placeholder(tf.float32, [1, size, size, 3]),
                                final_endpoint=final_endpoint)
  assert [(key, t.shape.as_list()) for key, t in end_points.items()] == expected
  assert net is end_points[final_endpoint]
  # Nothing past the final block exists: every variable belongs to a block built.
  built = {key for key, _ in expected}
  scopes = {v.op.name.split('/')[1] for v in tf1.global_variables()}
  assert scopes <= built, f'variables of unrequested blocks: {sorted(scopes - built)}'


@pytest.mark.parametrize('name', sorted(BASES))
def test_unknown_final_endpoint_raises(name, graph):
  images = tf1.placeholder(tf.float32, [1, 299, 299, 3])
  with pytest.raises(ValueError, match="unknown final_endpoint 'Mixed_9z'.*Mixed_5b"):
    BASES[name](images, final_endpoint='Mixed_9z')
  assert not tf1.global_variables()


def test_base_checks_the_size_its_final_endpoint_needs(graph):
  # Two unpadded 3x3 layers, the first with stride 2: 7 is the smallest input.
  net, _ = inception.inception_v3_base(tf1.placeholder(tf.float32, [1, 7, 7, 3]),
                                       final_endpoint='Conv2d_2a_3x3')
  assert net.shape.as_list() == [1, 1, 1, 32]
  with pytest.raises(ValueError, match='at least 7x7'):
    inception.inception_v3_base(tf1.placeholder(tf.float32, [1, 6, 6, 3]),
                                final_endpoint='Conv2d_2a_3x3')


def test_inception_v1_base_without_root_block_starts_at_mixed_3b(graph):
  net, end_points = inception.inception_v1_base(
      tf1.placeholder(tf.float32, [1, 28, 28, 192]), final_endpoint='Mixed_3c',
      include_root_block=False)
  assert list(end_points) == ['Mixed_3b', 'Mixed_3c']
  assert net.shape.as_list() == [1, 28, 28, 480]
  with pytest.raises(ValueError, match='unknown final_endpoint'):
    inception.inception_v1_base(tf1.placeholder(tf.float32, [1, 28, 28, 192]),
                                final_endpoint='Conv2d_1a_7x7', include_root_block=False)


@pytest.mark.parametrize('name', AUX_NETS)
def test_aux_logits_only_when_asked_for(name, graph):
  """Without the head the nets also run below its minimum, the final pool shrinking."""
  info = nets_factory.model_info(name)
  size = info.builder.min_image_size - 1
  network_fn = nets_factory.get_network_fn(name, num_classes=5, is_training=True)
  with pytest.raises(ValueError, match=f'at least {size + 1}x{size + 1}'):
    network_fn(tf1.placeholder(tf.float32, [2, size, size, 3]))
  logits, end_points = network_fn(tf1.placeholder(tf.float32, [2, size, size, 3]),
                                  create_aux_logits=False)
  assert 'AuxLogits' not in end_points
  assert not [v for v in tf1.global_variables() if '/AuxLogits/' in v.op.name]
  assert logits.shape.as_list() == [2, 5]


def test_inception_v3_reduces_its_kernels_on_small_inputs(graph):
  size = inception.inception_v3.min_image_size
  assert size == 107
  logits, end_points = inception.inception_v3(
      tf1.placeholder(tf.float32, [1, size, size, 3]), num_classes=5, is_training=False)
  assert end_points['Mixed_7c'].shape.as_list() == [1, 2, 2, 2048]
  assert end_points['AvgPool_1a'].op.name == 'InceptionV3/Logits/AvgPool_1a_2x2/AvgPool'
  assert end_points['AvgPool_1a'].shape.as_list() == [1, 1, 1, 2048]
  aux_weights = [v for v in tf1.global_variables()
                 if v.op.name == 'InceptionV3/AuxLogits/Conv2d_2a_1x1/weights']
  assert aux_weights and aux_weights[0].shape.as_list() == [1, 1, 128, 768]
  assert end_points['AuxLogits'].shape.as_list() == [1, 5]
  assert logits.shape.as_list() == [1, 5]


def test_inception_v2_pools_whatever_map_remains(graph):
  _, end_points = inception.inception_v2(tf1.placeholder(tf.float32, [1, 64, 64, 3]),
                                         num_classes=5, depth_multiplier=0.25)
  assert end_points['AvgPool_1a'].op.name == 'InceptionV2/Logits/AvgPool_1a_2x2/AvgPool'
  assert end_points['Logits'].shape.as_list() == [1, 5]


def test_inception_v1_needs_a_7x7_final_map_unless_global_pool(graph):
  with pytest.raises(ValueError, match='at least 193x193'):
    inception.inception_v1(tf1.placeholder(tf.float32, [1, 192, 192, 3]))
  with pytest.raises(ValueError, match='global_pool=True'):
    inception.inception_v1(tf1.placeholder(tf.float32, [1, 256, 256, 3]), num_classes=5)


def test_inception_v1_global_pool_takes_any_size(graph):
  logits, end_points = inception.inception_v1(
      tf1.placeholder(tf.float32, [1, 96, 96, 3]), num_classes=5, global_pool=True)
  assert end_points['global_pool'].shape.as_list() == [1, 1, 1, 1024]
  assert 'AvgPool_0a_7x7' not in end_points
  assert logits.shape.as_list() == [1, 5]


@pytest.mark.parametrize('name, final_endpoint, full_depth', [
    ('inception_v2', 'Mixed_3b', 256),
    ('inception_v3', 'Mixed_5b', 256),
])
def test_depth_multiplier_scales_channels_above_min_depth(name, final_endpoint, full_depth,
                                                          graph):
  images = tf1.placeholder(tf.float32, [1, 224, 224, 3])
  with tf1.variable_scope('half'):
    _, half = BASES[name](images, final_endpoint=final_endpoint, depth_multiplier=0.5)
  assert half[final_endpoint].shape[-1] == full_depth // 2
  with tf1.variable_scope('tiny'):
    _, tiny = BASES[name](images, final_endpoint=final_endpoint, depth_multiplier=0.1,
                          min_depth=16)
  # Every convolution of Mixed_3b / Mixed_5b is at least 32 wide: 0.1 makes each 16, and
  # each of the four branches ends in one convolution.
  assert tiny[final_endpoint].shape[-1] == 4 * 16
  assert all(t.shape[-1] >= 16 for t in tiny.values())
  with pytest.raises(ValueError, match='depth_multiplier'):
    BASES[name](images, final_endpoint=final_endpoint, depth_multiplier=0)


def test_inception_v2_separable_root_follows_the_depth(graph):
  inception.inception_v2_base(tf1.placeholder(tf.float32, [1, 224, 224, 3]),
                              final_endpoint='Conv2d_1a_7x7', depth_multiplier=0.5)
  shapes = {v.op.name: v.shape.as_list() for v in tf1.global_variables()}
  # 32 outputs: 8 depthwise channels per input channel (24 <= 32), then pointwise to 32.
  assert shapes['InceptionV2/Conv2d_1a_7x7/depthwise_weights'] == [7, 7, 3, 8]
  assert shapes['InceptionV2/Conv2d_1a_7x7/pointwise_weights'] == [1, 1, 24, 32]


def test_inception_v2_plain_root_and_nchw(graph):
  images = tf1.placeholder(tf.float32, [1, 3, 224, 224])
  with pytest.raises(ValueError, match='use_separable_conv=False'):
    inception.inception_v2_base(images, data_format='NCHW')
  with slim.arg_scope(inception.inception_v2_arg_scope()):
    net, _ = inception.inception_v2_base(images, final_endpoint='Mixed_3b',
                                         use_separable_conv=False, data_format='NCHW')
  assert net.shape.as_list() == [1, 256, 28, 28]
  shapes = {v.op.name: v.shape.as_list() for v in tf1.global_variables()}
  assert shapes['InceptionV2/Conv2d_1a_7x7/weights'] == [7, 7, 3, 64]
  assert shapes['InceptionV2/Mixed_3b/Branch_0/Conv2d_0a_1x1/BatchNorm/beta'] == [64]


def test_inception_resnet_v2_output_stride_8(graph):
  images = tf1.placeholder(tf.float32, [1, 299, 299, 3])
  net, end_points = inception.inception_resnet_v2_base(
      images, final_endpoint='Mixed_6a', output_stride=8, align_feature_maps=True)
  # Padded stem: 299 / 2 rounds up to 150, / 8 to 38; Reduction-A keeps the grid.
  assert end_points['Conv2d_1a_3x3'].shape.as_list() == [1, 150, 150, 32]
  assert end_points['Mixed_5b'].shape.as_list() == [1, 38, 38, 320]
  assert net.shape.as_list() == [1, 38, 38, 1088]
  with pytest.raises(ValueError, match='PreAuxLogits'):
    inception.inception_resnet_v2_base(images, final_endpoint='Mixed_7a', output_stride=8)
  with pytest.raises(ValueError, match='8 or 16'):
    inception.inception_resnet_v2_base(images, output_stride=32)


# Grappler's rewrites of these large graphs take longer than the step they would speed up.
_NO_GRAPPLER = tf1.ConfigProto(graph_options=tf1.GraphOptions(
    rewrite_options=rewriter_config_pb2.RewriterConfig(disable_meta_optimizer=True)))

# Small inputs that keep every head: the aux nets at their minimum (107).
TRAIN_SIZES = {'inception_v1': 193, 'inception_v2': 64, 'inception_v3': 107,
               'inception_v4': 107, 'inception_resnet_v2': 107}


@pytest.mark.parametrize('name', sorted(TRAIN_SIZES))
def test_training_step_updates_weights_and_moving_statistics(name, graph):
  size, batch = TRAIN_SIZES[name], 2
  images = tf1.placeholder(tf.float32, [batch, size, size, 3])
  labels = tf.constant([1, 3])
  network_fn = nets_factory.get_network_fn(name, num_classes=5, weight_decay=4e-5,
                                           is_training=True)
  logits, end_points = network_fn(images)
  assert ('AuxLogits' in end_points) == (name in AUX_NETS)
  loss = tf1.losses.sparse_softmax_cross_entropy(labels, logits)
  if 'AuxLogits' in end_points:
    loss += 0.4 * tf1.losses.sparse_softmax_cross_entropy(labels, end_points['AuxLogits'])
  loss += tf.add_n(tf1.losses.get_regularization_losses())
  update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
  moving_means = [v for v in tf1.global_variables() if v.op.name.endswith('moving_mean')]
  assert len(update_ops) == 2 * len(moving_means) > 0
  with tf.control_dependencies(update_ops):
    train_op = tf1.train.GradientDescentOptimizer(0.01).minimize(loss)
  logits_weights = [v for v in tf1.trainable_variables()
                    if v.op.name.startswith(f'{SCOPES[name]}/Logits/')][0]
  with tf1.Session(config=_NO_GRAPPLER) as sess:
    sess.run(tf1.global_variables_initializer())
    feed = {images: np.random.RandomState(0).uniform(-1, 1, [batch, size, size, 3])}
    before = sess.run([logits_weights] + moving_means)
    loss_value, _ = sess.run([loss, train_op], feed)
    after = sess.run([logits_weights] + moving_means)
  assert np.isfinite(loss_value)
  assert not np.array_equal(before[0], after[0]), 'the logits weights did not move'
  unchanged = [v.op.name for v, b, a in zip(moving_means, before[1:], after[1:])
               if np.array_equal(b, a)]
  assert not unchanged, f'moving means not updated: {unchanged}'


def test_arg_scope_without_batch_norm_gives_biases(graph):
  with slim.arg_scope(inception.inception_arg_scope(use_batch_norm=False)):
    inception.inception_v3_base(tf1.placeholder(tf.float32, [1, 299, 299, 3]),
                                final_endpoint='Conv2d_1a_3x3')
  assert sorted(v.op.name for v in tf1.global_variables()) == [
      'InceptionV3/Conv2d_1a_3x3/biases', 'InceptionV3/Conv2d_1a_3x3/weights']


def test_inception_resnet_v2_arg_scope_decays_biases_too(graph):
  def regularized_fc(arg_scope, scope):
    count = len(tf1.losses.get_regularization_losses())
    with slim.arg_scope(arg_scope):
      slim.fully_connected(tf.zeros([1, 4]), 2, scope=scope)
    return len(tf1.losses.get_regularization_losses()) - count

  assert regularized_fc(inception.inception_arg_scope(weight_decay=0.1), 'fc_1') == 1
  assert regularized_fc(inception.inception_resnet_v2_arg_scope(weight_decay=0.1), 'fc_2') == 2
