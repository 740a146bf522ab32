"""MobileNet v2 / v3 / EdgeTPU: the engine, the width rules and training.

The registry-wide tests (test_nets_factory.py) already pin each name's variables, end points
and parameter count against TF-Slim; these test what a user changes: depth multiplier,
min_depth, divisible_by, finegrain_classification_mode, base_only, output_stride,
final_endpoint, custom tables, and that a training step moves the batch-norm statistics.
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets.mobilenet import conv_blocks
from nets.mobilenet import mobilenet as lib
from nets.mobilenet import mobilenet_v2
from nets.mobilenet import mobilenet_v3

tf1 = tf.compat.v1


def _images(size=32, batch=1):
  return tf1.placeholder(tf.float32, [batch, size, size, 3])


def _channels(end_points, name):
  return end_points[name].shape[-1]


def _variable_shapes():
  return {v.op.name: v.shape.as_list() for v in tf1.global_variables()}


@pytest.mark.parametrize('value, divisor, min_value, expected', [
    (11.2, 8, None, 16),     # 32 x 0.35: rounding down to 8 would lose 29%
    (5.6, 8, None, 8),       # below the minimum
    (33.6, 8, None, 32),
    (89.6, 8, None, 88),
    (1.6, 8, 16, 16),
    (184.0, 8, None, 184),
    (13.0, 1, 3, 13),
])
def test_make_divisible(value, divisor, min_value, expected):
  assert conv_blocks.make_divisible(value, divisor, min_value) == expected


def test_hard_swish_and_hard_sigmoid_follow_the_paper():
  x = np.array([-5.0, -3.0, -1.0, 0.0, 1.0, 3.0, 5.0], np.float32)
  relu6 = np.clip(x + 3, 0, 6)
  np.testing.assert_allclose(mobilenet_v3.hard_sigmoid(x).numpy(), relu6 / 6, rtol=1e-6)
  np.testing.assert_allclose(mobilenet_v3.hard_swish(x).numpy(), x * relu6 / 6, rtol=1e-6)


def test_v2_depth_multiplier_scales_every_layer_but_finegrain_keeps_the_last(graph):
  images = _images()
  _, half = mobilenet_v2.mobilenet_base(images, depth_multiplier=0.5)
  assert [_channels(half, f'layer_{i}') for i in (1, 2, 3, 18, 19)] == [16, 8, 16, 160, 640]
  _, fine = mobilenet_v2.mobilenet_base(images, depth_multiplier=0.5,
                                        finegrain_classification_mode=True, scope='Fine')
  assert _channels(fine, 'layer_18') == 160
  assert _channels(fine, 'layer_19') == 1280
  # Finegrain mode only stops the last layer from shrinking; a wider net widens it too.
  _, wide = mobilenet_v2.mobilenet_base(images, depth_multiplier=1.4,
                                        finegrain_classification_mode=True, scope='Wide')
  assert _channels(wide, 'layer_19') == 1792
  # Expansions follow the scaled input: expanded_conv_1 sees the 8 channels of
  # expanded_conv's projection and expands them by t = 6.
  shapes = _variable_shapes()
  assert shapes['MobilenetV2/expanded_conv_1/expand/weights'] == [1, 1, 8, 48]
  assert shapes['MobilenetV2/expanded_conv_1/depthwise/depthwise_weights'] == [3, 3, 48, 1]


def test_min_depth_and_divisible_by(graph):
  images = _images()
  _, tiny = mobilenet_v2.mobilenet_base(images, depth_multiplier=0.1)
  widths = [_channels(tiny, f'layer_{i}') for i in range(1, 20)]
  assert min(widths) == 8 and all(w % 8 == 0 for w in widths)
  _, floor = mobilenet_v2.mobilenet_base(images, depth_multiplier=0.1, min_depth=16,
                                         scope='Floor')
  assert min(_channels(floor, f'layer_{i}') for i in range(1, 20)) == 16
  _, coarse = mobilenet_v2.mobilenet_base(images, depth_multiplier=0.75, divisible_by=16,
                                          scope='Coarse')
  widths = [_channels(coarse, f'layer_{i}') for i in range(1, 20)]
  assert all(w % 16 == 0 for w in widths), widths


def test_v3_depth_multiplier_and_squeeze_excite_widths(graph):
  images = _images()
  _, scaled = mobilenet_v3.large(images, num_classes=0, depth_multiplier=0.75)
  # stem 16 x 0.75 = 12 rounds to 16; Conv_1 960 -> 720; Conv_2 1280 -> 960.
  assert [_channels(scaled, f'layer_{i}') for i in (1, 17, 19)] == [16, 720, 960]
  _, fine = mobilenet_v3.large(images, num_classes=0, depth_multiplier=0.75,
                               finegrain_classification_mode=True, scope='Fine')
  assert _channels(fine, 'layer_19') == 1280
  shapes = _variable_shapes()
  # expanded_conv_4 expands its 40 x 0.75 -> 32 input channels by 3 (Table 1: 120 / 40)
  # to 96, and squeezes them by 4 to 24.
  assert shapes['MobilenetV3/expanded_conv_4/expand/weights'] == [1, 1, 32, 96]
  assert shapes['MobilenetV3/expanded_conv_4/squeeze_excite/Conv/weights'] == [1, 1, 96, 24]
  assert shapes['MobilenetV3/expanded_conv_4/squeeze_excite/Conv_1/weights'] == [1, 1, 24, 96]


def test_edgetpu_075_keeps_the_last_layer_unless_told_otherwise(graph):
  images = _images()
  _, default = mobilenet_v3.edge_tpu_075(images, num_classes=0)
  _, plain = mobilenet_v3.edge_tpu_075(images, num_classes=0, scope='Plain',
                                       finegrain_classification_mode=False)
  assert _channels(default, 'layer_24') == 1280
  assert _channels(plain, 'layer_24') == 960


def test_fused_blocks_have_no_depthwise_convolution(graph):
  mobilenet_v3.edge_tpu(_images(), num_classes=0)
  shapes = _variable_shapes()
  assert shapes['MobilenetEdgeTPU/expanded_conv_1/expand/weights'] == [3, 3, 16, 128]
  assert not any(name.startswith('MobilenetEdgeTPU/expanded_conv_1/depthwise')
                 for name in shapes)
  assert 'MobilenetEdgeTPU/expanded_conv_9/depthwise/depthwise_weights' in shapes


def test_fused_block_without_expansion_cannot_stride(graph):
  with pytest.raises(ValueError, match='stride 2'):
    conv_blocks.expanded_conv(_images(), 16, expansion_size=3, fused=True, stride=2)


def test_residual_only_where_shapes_match(graph):
  mobilenet_v2.mobilenet_base(_images())
  blocks = ['expanded_conv'] + [f'expanded_conv_{i}' for i in range(1, 17)]
  with_shortcut = {block for block in blocks if graph.get_operation_by_name(
      f'MobilenetV2/{block}/output').inputs[0].op.type in ('Add', 'AddV2')}
  # Table 2: the first repeat of each row changes width or stride; the others add.
  assert with_shortcut == {f'expanded_conv_{i}' for i in (2, 4, 5, 7, 8, 9, 11, 12, 14, 15)}


def test_base_only_and_num_classes_zero_return_features(graph):
  images = _images(64, batch=2)
  features, end_points = mobilenet_v2.mobilenet_base(images)
  assert features.shape.as_list() == [2, 2, 2, 1280]
  assert features is end_points['layer_19']
  assert not {'global_pool', 'Logits', 'Predictions'} & set(end_points)
  pooled, end_points = mobilenet_v3.small(images, num_classes=0)
  assert pooled.shape.as_list() == [2, 1, 1, 1024]
  assert 'Logits' not in end_points and pooled is end_points['global_pool']
  assert not [v for v in tf1.global_variables() if '/Logits/' in v.op.name]


def test_output_stride_keeps_resolution_with_the_same_variables(graph):
  images = _images(64)
  _, default = mobilenet_v2.mobilenet_base(images)
  num_variables = len(tf1.global_variables())
  _, dense = mobilenet_v2.mobilenet_base(images, output_stride=16, scope='Dense')
  _, denser = mobilenet_v2.mobilenet_base(images, output_stride=8, scope='Denser')
  assert default['layer_19'].shape.as_list()[1:3] == [2, 2]
  assert dense['layer_19'].shape.as_list()[1:3] == [4, 4]
  assert denser['layer_19'].shape.as_list()[1:3] == [8, 8]
  assert len(tf1.global_variables()) == 3 * num_variables
  # At stride 16 the stride-2 expanded_conv_13 keeps the resolution, and the layers after
  # it dilate by 2 to keep their receptive fields.
  depthwise = graph.get_operation_by_name('Dense/expanded_conv_13/depthwise/depthwise')
  assert list(depthwise.get_attr('strides')) == [1, 1, 1, 1]
  rate = graph.get_operation_by_name('Dense/expanded_conv_14/depthwise/depthwise/dilation_rate')
  assert list(tf.make_ndarray(rate.get_attr('value'))) == [2, 2]


@pytest.mark.parametrize('output_stride', [0, 3, 12, 64])
def test_bad_output_stride(graph, output_stride):
  with pytest.raises(ValueError, match='output_stride'):
    mobilenet_v2.mobilenet_base(_images(), output_stride=output_stride)


def test_final_endpoint(graph):
  net, end_points = mobilenet_v2.mobilenet_base(_images(), final_endpoint='layer_5')
  assert net is end_points['layer_5']
  assert [k for k in end_points if '/' not in k] == [f'layer_{i}' for i in range(1, 6)]
  assert list(end_points)[-1] == 'layer_5/output'
  assert not [v for v in tf1.global_variables() if 'expanded_conv_4/' in v.op.name]
  with pytest.raises(ValueError, match='final_endpoint'):
    mobilenet_v2.mobilenet_base(_images(), final_endpoint='Conv2d_13', scope='Bad')


def test_explicit_padding_gives_the_same_shapes(graph):
  images = _images(64)
  _, same = mobilenet_v3.small(images, num_classes=0)
  _, explicit = mobilenet_v3.small(images, num_classes=0, use_explicit_padding=True,
                                   scope='Explicit')
  assert {k: v.shape.as_list() for k, v in same.items()} == {
      k: v.shape.as_list() for k, v in explicit.items()}
  depthwise = graph.get_operation_by_name('Explicit/expanded_conv_3/depthwise/depthwise')
  assert depthwise.get_attr('padding') == b'VALID'


def test_bad_depth_multiplier(graph):
  with pytest.raises(ValueError, match='depth_multiplier'):
    mobilenet_v2.mobilenet(_images(), depth_multiplier=0)


def test_a_custom_table_builds_with_slim_names(graph):
  conv_defs = dict(
      defaults={(slim.conv2d, slim.separable_conv2d): dict(activation_fn=tf.nn.relu6)},
      spec=[
          lib.op(slim.conv2d, num_outputs=16, kernel_size=[3, 3], stride=2),
          lib.op(conv_blocks.expanded_conv, num_outputs=16),
          lib.op(conv_blocks.expanded_conv, num_outputs=24, stride=2,
                 expansion_transform=mobilenet_v3.squeeze_excite),
          lib.op(slim.conv2d, num_outputs=64, kernel_size=[1, 1]),
      ])
  logits, end_points = lib.mobilenet(_images(32, batch=2), num_classes=5, conv_defs=conv_defs,
                                     multiplier=2.0, scope='Tiny')
  assert logits.shape.as_list() == [2, 5]
  assert [k for k in end_points if '/' not in k] == [
      'layer_1', 'layer_2', 'layer_3', 'layer_4', 'global_pool', 'Logits', 'Predictions']
  shapes = _variable_shapes()
  assert shapes['Tiny/Conv/weights'] == [3, 3, 3, 32]
  assert shapes['Tiny/expanded_conv/expand/weights'] == [1, 1, 32, 192]
  assert shapes['Tiny/expanded_conv_1/squeeze_excite/Conv/weights'] == [1, 1, 192, 48]
  assert shapes['Tiny/Conv_1/weights'] == [1, 1, 48, 128]
  with pytest.raises(ValueError, match='conv_defs'):
    lib.mobilenet(_images(), scope='NoTable')


def test_activation_fn_replaces_relu6(graph):
  mobilenet_v2.mobilenet(_images(), activation_fn=tf.nn.relu)
  types = {op.type for op in graph.get_operations()}
  assert 'Relu' in types and 'Relu6' not in types


def test_training_scope_decays_convolutions_but_not_depthwise_weights(graph):
  with slim.arg_scope(mobilenet_v2.training_scope(weight_decay=1e-4)):
    mobilenet_v2.mobilenet(_images())
  regularized = {loss.op.name.split('/Regularizer')[0].rsplit('/', 1)[0]
                 for loss in tf1.losses.get_regularization_losses()}
  assert 'MobilenetV2/expanded_conv_1/expand' in regularized
  assert 'MobilenetV2/Logits/Conv2d_1c_1x1' in regularized
  assert not [name for name in regularized if name.endswith('depthwise')]


@pytest.mark.parametrize('is_training, expect_updates', [(True, True), (False, False)])
def test_training_scope_sets_is_training(graph, is_training, expect_updates):
  with slim.arg_scope(mobilenet_v3.training_scope(is_training=is_training)):
    mobilenet_v3.small_minimalistic(_images())
  assert bool(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)) == expect_updates


@pytest.mark.parametrize('builder', [mobilenet_v2.mobilenet, mobilenet_v3.small],
                         ids=['mobilenet_v2', 'mobilenet_v3_small'])
def test_a_training_step_moves_batch_norm_statistics(graph, builder):
  rng = np.random.RandomState(0)
  images = _images(64, batch=4)
  labels = tf1.placeholder(tf.int32, [4])
  with slim.arg_scope(lib.training_scope(is_training=True, bn_decay=0.9)):
    logits, _ = builder(images, num_classes=5, is_training=True)
  loss = tf1.losses.sparse_softmax_cross_entropy(labels, logits)
  with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
    train_op = tf1.train.MomentumOptimizer(0.01, 0.9).minimize(loss)
  moving_mean = [v for v in tf1.global_variables()
                 if v.op.name.endswith('expanded_conv_1/project/BatchNorm/moving_mean')][0]
  weights = [v for v in tf1.trainable_variables() if v.op.name.endswith('Conv/weights')][0]
  feed = {images: rng.uniform(-1, 1, [4, 64, 64, 3]), labels: rng.randint(0, 5, [4])}
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    mean_before, weights_before = sess.run([moving_mean, weights])
    losses = [sess.run([train_op, loss], feed)[1] for _ in range(2)]
    mean_after, weights_after = sess.run([moving_mean, weights])
  assert np.all(np.isfinite(losses))
  assert not np.allclose(mean_before, mean_after)
  assert not np.allclose(weights_before, weights_after)
