"""NASNet-A and PNASNet-5: partial builds, drop-path, bounded activations, configurations.

The registry-wide tests (test_nets_factory.py) check each of the five nets against the TF-Slim
spec at its default size and train each at its smallest size; these tests cover what the
builders' arguments and configurations change. Most use a small NASNet (3 cells of 8
filters) so that they build in seconds.
"""

import inspect
import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets.nasnet import nasnet
from nets.nasnet import nasnet_utils
from nets.nasnet import pnasnet
from tests.conftest import SPEC_DIR

tf1 = tf.compat.v1

BUILDERS = {
    'nasnet_cifar': (nasnet.build_nasnet_cifar, nasnet.nasnet_cifar_arg_scope),
    'nasnet_mobile': (nasnet.build_nasnet_mobile, nasnet.nasnet_mobile_arg_scope),
    'nasnet_large': (nasnet.build_nasnet_large, nasnet.nasnet_large_arg_scope),
    'pnasnet_mobile': (pnasnet.build_pnasnet_mobile, pnasnet.pnasnet_mobile_arg_scope),
    'pnasnet_large': (pnasnet.build_pnasnet_large, pnasnet.pnasnet_large_arg_scope),
}


def _spec(name):
  with open(os.path.join(SPEC_DIR, f'{name}.json')) as f:
    return json.load(f)


def _small_cifar_config(**changes):
  """NASNet-A CIFAR with 3 cells of 8 filters: reductions before cells 1 and 2."""
  config = nasnet.cifar_config()
  config.set_hparam('num_cells', 3)
  config.set_hparam('num_conv_filters', 8)
  config.set_hparam('total_training_steps', 100)
  for name, value in changes.items():
    config.set_hparam(name, value)
  return config


def _build_small(images, is_training, num_classes=10, **kwargs):
  with slim.arg_scope(nasnet.nasnet_cifar_arg_scope()):
    return nasnet.build_nasnet_cifar(images, num_classes, is_training=is_training, **kwargs)


@pytest.mark.parametrize('name, final_endpoint', [
    ('nasnet_cifar', 'Reduction_Cell_0'), ('nasnet_mobile', 'Cell_3'),
    ('nasnet_large', 'Stem'), ('pnasnet_mobile', 'Cell_3'), ('pnasnet_large', 'Stem'),
])
def test_final_endpoint_builds_exactly_the_cells_up_to_it(name, final_endpoint, graph):
  spec = _spec(name)
  builder, arg_scope = BUILDERS[name]
  images = tf1.placeholder(tf.float32, spec['input_shape'])
  with slim.arg_scope(arg_scope()):
    net, end_points = builder(images, spec['num_classes'], is_training=False,
                              final_endpoint=final_endpoint)
  keys = [e['key'] for e in spec['end_points']]
  expected = [(e['key'], e['shape'])
              for e in spec['end_points']][:keys.index(final_endpoint) + 1]
  assert [(key, t.shape.as_list()) for key, t in end_points.items()] == expected
  assert net is end_points[final_endpoint]
  # The variables are TF-Slim's up to the last cell built, and stop there.
  built = [(v.op.name, v.shape.as_list()) for v in tf1.global_variables()]
  spec_variables = [(v['name'], v['shape']) for v in spec['global_variables']]
  assert built == spec_variables[:len(built)]
  assert len(built) < len(spec_variables)


@pytest.mark.parametrize('name', sorted(BUILDERS))
def test_unknown_final_endpoint_is_refused_before_building(name, graph):
  builder, _ = BUILDERS[name]
  images = tf1.placeholder(tf.float32, [1, 224, 224, 3])
  with pytest.raises(ValueError, match=r"unknown final_endpoint 'Cell_99'.*Stem, .*Cell_0"):
    builder(images, 10, final_endpoint='Cell_99')
  assert not tf1.global_variables()


def test_logits_and_global_pool_end_points_return_what_they_name(graph):
  images = tf1.placeholder(tf.float32, [2, 16, 16, 3])
  logits, end_points = _build_small(images, False, config=_small_cifar_config(),
                                    final_endpoint='Logits')
  assert logits is end_points['Logits'] and logits.shape.as_list() == [2, 10]
  assert 'Predictions' not in end_points
  with tf1.variable_scope('features'):
    pooled, end_points = _build_small(images, False, config=_small_cifar_config(),
                                      final_endpoint='global_pool')
  assert pooled.shape.as_list() == [2, 8 * 4 * 6]
  assert list(end_points)[-1] == 'global_pool'


@pytest.mark.parametrize('name, positional', [
    ('nasnet_cifar', ['images', 'num_classes', 'is_training', 'config', 'current_step']),
    ('nasnet_mobile', ['images', 'num_classes', 'is_training', 'final_endpoint', 'config',
                       'current_step']),
    ('nasnet_large', ['images', 'num_classes', 'is_training', 'final_endpoint', 'config',
                      'current_step']),
    ('pnasnet_mobile', ['images', 'num_classes', 'is_training', 'final_endpoint', 'config']),
    ('pnasnet_large', ['images', 'num_classes', 'is_training', 'final_endpoint', 'config']),
])
def test_builders_keep_tf_slim_positional_order(name, positional):
  builder, _ = BUILDERS[name]
  assert list(inspect.signature(builder).parameters)[:len(positional)] == positional
  assert builder.default_image_size == _spec(name)['default_image_size']


def test_configurations_are_tf_slim_hparams():
  cases = [
      (nasnet.cifar_config(), 32, 18, 0.6, 937500, 0),
      (nasnet.mobile_imagenet_config(), 44, 12, 1.0, 250000, 0),
      (nasnet.large_imagenet_config(), 168, 18, 0.7, 250000, 1),
      (pnasnet.mobile_imagenet_config(), 54, 9, 1.0, 250000, 1),
      (pnasnet.large_imagenet_config(), 216, 12, 0.6, 250000, 1),
  ]
  for config, filters, cells, keep_prob, steps, skip in cases:
    assert (config.num_conv_filters, config.num_cells, config.drop_path_keep_prob,
            config.total_training_steps, config.skip_reduction_layer_input) == (
                filters, cells, keep_prob, steps, skip)
    assert config.use_bounded_activation is False and config.use_aux_head == 1
  config = nasnet.large_imagenet_config()
  config.set_hparam('use_bounded_activation', True)
  assert config.values()['use_bounded_activation'] is True
  assert nasnet.large_imagenet_config().use_bounded_activation is False
  with pytest.raises(ValueError, match="no field 'drop_path'"):
    config.set_hparam('drop_path', 0.5)


def test_drop_path_schedule_is_linear_in_depth_and_in_steps():
  def keep(cell_num, step):
    return float(nasnet_utils.drop_path_keep_prob_at(0.6, cell_num, 20, step, 1000))
  # No drop-path at the start of training, whatever the depth.
  assert keep(0, 0) == keep(19, 0) == 1.0
  # The last cell reaches the configured keep probability at total_training_steps, and
  # stays there.
  assert keep(19, 500) == pytest.approx(0.8)
  assert keep(19, 1000) == pytest.approx(0.6)
  assert keep(19, 5000) == pytest.approx(0.6)
  # The first of 20 cells drops a twentieth as much; cell 9 half as much.
  assert keep(0, 1000) == pytest.approx(1 - 0.4 / 20)
  assert keep(9, 250) == pytest.approx(1 - 0.25 * 0.5 * 0.4)


def test_drop_path_drops_whole_examples_and_keeps_the_mean():
  net = tf.ones([4000, 2, 2, 3])
  tf1.set_random_seed(0)
  dropped = nasnet_utils.drop_path(net, 0.7).numpy()
  per_example = dropped.reshape(4000, -1)
  # Each example is either all zeros or all 1 / keep_prob.
  assert np.all((per_example.max(1) == per_example.min(1)))
  kept = per_example[:, 0] > 0
  np.testing.assert_allclose(per_example[kept], 1 / 0.7, rtol=1e-6)
  assert np.all(per_example[~kept] == 0)
  assert np.mean(kept) == pytest.approx(0.7, abs=0.03)
  assert nasnet_utils.drop_path(net, 0.7, is_training=False) is net


def test_drop_path_follows_current_step_in_the_network(graph):
  """At step 0 training is deterministic; at the schedule's end whole paths drop."""
  tf1.set_random_seed(1)
  images = tf.constant(np.random.RandomState(0).uniform(-1, 1, [8, 16, 16, 3]), tf.float32)
  step = tf1.placeholder(tf.int64, [])
  logits, _ = _build_small(images, True, config=_small_cifar_config(), current_step=step)
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    start = [sess.run(logits, {step: 0}) for _ in range(2)]
    end = [sess.run(logits, {step: 100}) for _ in range(2)]
  np.testing.assert_array_equal(start[0], start[1])
  assert not np.allclose(end[0], end[1])


def test_drop_path_reads_the_global_step_and_is_off_in_inference(graph):
  images = tf1.placeholder(tf.float32, [2, 16, 16, 3])
  _build_small(images, True, config=_small_cifar_config())
  assert tf1.train.get_global_step() is not None
  with tf.Graph().as_default():
    _build_small(tf1.placeholder(tf.float32, [2, 16, 16, 3]), False,
                 config=_small_cifar_config())
    assert tf1.train.get_global_step() is None
    assert not [op for op in tf1.get_default_graph().get_operations()
                if 'random_uniform' in op.name]


def test_training_step_with_aux_head_drop_path_and_batch_norm_updates(graph):
  tf1.set_random_seed(2)
  images = tf.constant(np.random.RandomState(0).uniform(-1, 1, [4, 16, 16, 3]), tf.float32)
  labels = tf.constant([0, 1, 2, 3])
  with slim.arg_scope(nasnet.nasnet_cifar_arg_scope()):
    logits, end_points = nasnet.build_nasnet_cifar(images, 10, True,
                                                   _small_cifar_config(),
                                                   tf.constant(50))
  # The head reads the cell before the second reduction, with TF-Slim's names.
  aux = {v.op.name: v.shape.as_list() for v in tf1.global_variables()
         if v.op.name.startswith('aux_1/')}
  assert aux['aux_1/aux_logits/proj/weights'] == [1, 1, 96, 128]
  assert aux['aux_1/aux_logits/Conv/weights'] == [2, 2, 128, 768]
  assert aux['aux_1/aux_logits/FC/weights'] == [768, 10]
  assert 'aux_1/aux_logits/aux_bn1/moving_mean' in aux
  loss = (tf1.losses.sparse_softmax_cross_entropy(labels, logits) +
          0.4 * tf1.losses.sparse_softmax_cross_entropy(labels, end_points['AuxLogits']) +
          tf.add_n(tf1.losses.get_regularization_losses()))
  trainable = tf1.trainable_variables()
  grads = tf.gradients(loss, trainable)
  assert not [v.op.name for v, g in zip(trainable, grads) if g is None]
  with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
    train_op = tf1.train.GradientDescentOptimizer(0.1).apply_gradients(zip(grads, trainable))
  moving_mean = next(v for v in tf1.global_variables() if v.op.name.endswith('moving_mean'))
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    before_loss, weights_before = sess.run([loss, trainable[0]])
    sess.run(train_op)
    after_loss, weights_after, mean = sess.run([loss, trainable[0], moving_mean])
  assert np.isfinite(before_loss) and np.isfinite(after_loss)
  assert not np.allclose(weights_before, weights_after)
  assert np.abs(mean).max() > 0


def _global_pool_and_ops(use_bounded_activation, feed):
  with tf.Graph().as_default() as g:
    tf1.set_random_seed(3)
    images = tf1.placeholder(tf.float32, [2, 16, 16, 3])
    _, end_points = _build_small(images, False, config=_small_cifar_config(
        use_bounded_activation=use_bounded_activation))
    combines = [op.outputs[0] for op in g.get_operations()
                if '/combine/' in op.name and op.type == 'Relu6']
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      pooled, combined = sess.run([end_points['global_pool'], combines], {images: feed})
    return pooled, combined, {op.type for op in g.get_operations()}


def test_use_bounded_activation_bounds_what_the_cells_add():
  feed = 100 * np.random.RandomState(0).uniform(-1, 1, [2, 16, 16, 3])
  pooled, combined, op_types = _global_pool_and_ops(True, feed)
  assert 'Relu' not in op_types and 'Relu6' in op_types
  assert len(combined) == 5 * 5  # five blocks in each of the five cells
  assert all(c.min() >= 0 and c.max() <= 6 for c in combined)
  assert pooled.max() <= 6
  # The same inputs overflow that bound with plain ReLU.
  pooled, combined, op_types = _global_pool_and_ops(False, feed)
  assert 'Relu6' not in op_types and not combined
  assert pooled.max() > 6


def test_aux_head_needs_67_pixels_unless_turned_off(graph):
  config = nasnet.mobile_imagenet_config()
  images = tf1.placeholder(tf.float32, [2, 66, 66, 3])
  with pytest.raises(ValueError, match='at least 67x67'):
    nasnet.build_nasnet_mobile(images, 5, config=config)
  config.set_hparam('use_aux_head', 0)
  config.set_hparam('num_cells', 3)
  with slim.arg_scope(nasnet.nasnet_mobile_arg_scope()):
    logits, end_points = nasnet.build_nasnet_mobile(
        tf1.placeholder(tf.float32, [2, 32, 32, 3]), 5, config=config)
  assert 'AuxLogits' not in end_points and logits.shape.as_list() == [2, 5]


def test_bad_arguments_are_refused(graph):
  images = tf1.placeholder(tf.float32, [1, 32, 32, 3])
  for is_training in ('yes', None):
    with pytest.raises(TypeError, match='nasnet_cifar: is_training must be True or False'):
      nasnet.build_nasnet_cifar(images, 10, is_training=is_training)
  with pytest.raises(ValueError, match='data_format must be NHWC'):
    nasnet.build_nasnet_cifar(images, 10, config=_small_cifar_config(data_format='NCHW'))
  assert not tf1.global_variables()


def test_direct_convolutions_equal_slims(graph):
  """nasnet_utils.conv2d makes slim's variables and outputs, and defers to slim otherwise."""
  inputs = tf.constant(np.random.RandomState(0).uniform(-1, 1, [2, 9, 9, 6]), tf.float32)
  outputs = {}
  with slim.arg_scope(nasnet.nasnet_large_arg_scope(weight_decay=1e-3)):
    for separable in (False, True):
      outputs['ours', separable] = nasnet_utils.conv2d(
          inputs, 4, 3, stride=2, scope=f'ours_{separable}', separable=separable)
    outputs['slim', False] = slim.conv2d(inputs, 4, 3, stride=2, scope='slim_False')
    outputs['slim', True] = slim.separable_conv2d(inputs, 4, 3, depth_multiplier=1, stride=2,
                                                  scope='slim_True')
  variables = {v.op.name: v for v in tf1.global_variables()}
  for separable in (False, True):
    ours = {n.split('/', 1)[1]: v.shape.as_list() for n, v in variables.items()
            if n.startswith(f'ours_{separable}/')}
    theirs = {n.split('/', 1)[1]: v.shape.as_list() for n, v in variables.items()
              if n.startswith(f'slim_{separable}/')}
    assert ours == theirs and ours
  assert len(tf1.losses.get_regularization_losses()) == 2 * 3
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    for name, variable in variables.items():
      if name.startswith('slim_'):
        variables['ours_' + name[len('slim_'):]].load(sess.run(variable), sess)
    for separable in (False, True):
      np.testing.assert_allclose(*sess.run([outputs['ours', separable],
                                            outputs['slim', separable]]), rtol=1e-5)
  # An argument it does not build itself (a normalizer) goes to slim's layer.
  with slim.arg_scope([slim.conv2d], normalizer_fn=slim.unit_norm,
                      normalizer_params={'dim': 3}):
    nasnet_utils.conv2d(inputs, 4, 1, scope='normalized')
  assert 'normalized/biases' not in {v.op.name for v in tf1.global_variables()}


def test_tf_slim_nasnet_utils_helpers(graph):
  """The helpers TF-Slim's nasnet_utils exposes, called as its tests call them."""
  assert nasnet_utils.calc_reduction_layers(18, 2) == [6, 12]
  assert nasnet_utils.calc_reduction_layers(9, 2) == [3, 6]
  assert [nasnet_utils.get_channel_index(f) for f in ('NHWC', 'NCHW')] == [3, 1]
  assert [nasnet_utils.get_channel_dim([10, 20, 30, 40], f) for f in ('NHWC', 'NCHW')] == [
      40, 20]
  inputs = tf1.placeholder(tf.float32, (5, 10, 21, 10))
  assert nasnet_utils.global_avg_pool(inputs, 'NHWC').shape.as_list() == [5, 10]
  assert nasnet_utils.global_avg_pool(inputs, 'NCHW').shape.as_list() == [5, 10]
  output = nasnet_utils.factorized_reduction(inputs, 16, stride=1, data_format='NHWC')
  assert output.shape.as_list() == [5, 10, 21, 16]
  # At stride 2 an odd side rounds up, as a SAME-padded strided convolution does.
  with tf1.variable_scope('stride_2'):
    output = nasnet_utils.factorized_reduction(inputs, 15, stride=2)
  assert output.shape.as_list() == [5, 5, 11, 15]
  assert {v.op.name: v.shape.as_list() for v in tf1.global_variables()
          if 'path' in v.op.name and 'weights' in v.op.name and 'stride_2' in v.op.name} == {
              'stride_2/path1_conv/weights': [1, 1, 10, 7],
              'stride_2/path2_conv/weights': [1, 1, 10, 8]}
  with pytest.raises(ValueError, match='data_format must be NHWC or NCHW'):
    nasnet_utils.get_channel_index('HWC')


def _first_moving_mean(batch_norm_decay):
  with tf.Graph().as_default():
    tf1.set_random_seed(0)
    images = tf.constant(np.random.RandomState(0).uniform(0, 1, [2, 16, 16, 3]), tf.float32)
    with slim.arg_scope(nasnet.nasnet_cifar_arg_scope(batch_norm_decay=batch_norm_decay)):
      nasnet.build_nasnet_cifar(images, 10, True, _small_cifar_config(drop_path_keep_prob=1.0))
    moving_mean = tf1.global_variables()[3]
    assert moving_mean.op.name == 'l1_stem_bn/moving_mean'
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      sess.run(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS))
      return sess.run(moving_mean)


def test_arg_scope_batch_norm_decay_reaches_the_moving_averages():
  """From 0, one update moves the moving mean by (1 - decay) of the batch mean."""
  batch_mean = _first_moving_mean(0.0)
  assert np.abs(batch_mean).max() > 0
  np.testing.assert_allclose(_first_moving_mean(0.5), 0.5 * batch_mean, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize('skip, second_input', [(0, 'Cell_0'), (1, 'Stem')])
def test_skip_reduction_layer_input_picks_the_second_input_after_a_reduction(
    skip, second_input, graph):
  """With it (nasnet_large), the cell after a reduction pairs it with the output from
  before the reduction's inputs; without it (nasnet_cifar, mobile), with the reduction's
  first input."""
  images = tf1.placeholder(tf.float32, [1, 16, 16, 3])
  _, end_points = _build_small(images, False,
                               config=_small_cifar_config(skip_reduction_layer_input=skip))
  # The cell's first op activates its second input before matching it to the new size.
  first_op = graph.get_operation_by_name('cell_1/Relu')
  assert first_op.inputs[0] is end_points[second_input]
