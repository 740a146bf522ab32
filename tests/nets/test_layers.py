"""Batch normalization and the other layers that stand in for tf_slim's on TF 2.21."""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import gradients
from nets import layers

tf1 = tf.compat.v1


def _variables_by_name():
  return {v.op.name: v for v in tf1.global_variables()}


def test_variable_names_match_tf_slim(graph):
  layers.batch_norm(tf.zeros([2, 4, 4, 3]), scale=True, scope='BatchNorm')
  variables = _variables_by_name()
  assert sorted(variables) == ['BatchNorm/beta', 'BatchNorm/gamma',
                               'BatchNorm/moving_mean', 'BatchNorm/moving_variance']
  trainable = {v.op.name for v in tf1.trainable_variables()}
  assert trainable == {'BatchNorm/beta', 'BatchNorm/gamma'}
  assert {v.op.name for v in tf1.model_variables()} == set(variables)
  moving = {v.op.name for v in tf1.moving_average_variables()}
  assert moving == {'BatchNorm/moving_mean', 'BatchNorm/moving_variance'}


def test_training_moves_the_moving_statistics(graph):
  """Batch statistics normalize in training; UPDATE_OPS move the averages towards them."""
  rng = np.random.RandomState(0)
  data = rng.normal(5.0, 3.0, [8, 4, 4, 2]).astype(np.float32)
  outputs = layers.batch_norm(tf.constant(data), decay=0.5, is_training=True)
  update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
  assert len(update_ops) == 2
  variables = _variables_by_name()
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    out, _ = sess.run([outputs, update_ops])
    mean, variance = sess.run([variables['BatchNorm/moving_mean'],
                               variables['BatchNorm/moving_variance']])
  np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-4)
  np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1, atol=1e-2)
  batch_mean = data.mean(axis=(0, 1, 2))
  # One update with decay 0.5 from 0: halfway to the batch mean.
  np.testing.assert_allclose(mean, 0.5 * batch_mean, rtol=1e-4)
  assert np.all(variance > 1.0), 'variance should move from 1 towards the batch variance 9'


def test_inference_uses_the_moving_statistics(graph):
  data = np.random.RandomState(1).normal(0, 1, [3, 5]).astype(np.float32)
  outputs = layers.batch_norm(tf.constant(data), center=True, scale=True, epsilon=1e-3,
                              is_training=False)
  assert tf1.get_collection(tf1.GraphKeys.UPDATE_OPS) == []
  variables = _variables_by_name()
  moving_mean = np.arange(5, dtype=np.float32)
  moving_variance = np.linspace(0.5, 2.0, 5).astype(np.float32)
  gamma = np.full(5, 2.0, np.float32)
  beta = np.full(5, -1.0, np.float32)
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    for name, value in (('moving_mean', moving_mean), ('moving_variance', moving_variance),
                        ('gamma', gamma), ('beta', beta)):
      variables[f'BatchNorm/{name}'].load(value, sess)
    out = sess.run(outputs)
  expected = (data - moving_mean) / np.sqrt(moving_variance + 1e-3) * gamma + beta
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_boolean_tensor_switches_statistics_and_updates(graph):
  data = np.random.RandomState(2).normal(3, 2, [16, 3]).astype(np.float32)
  is_training = tf1.placeholder(tf.bool, [])
  outputs = layers.batch_norm(tf.constant(data), decay=0.0, is_training=is_training)
  update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)
  moving_mean = _variables_by_name()['BatchNorm/moving_mean']
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    eval_out, _ = sess.run([outputs, update_ops], {is_training: False})
    np.testing.assert_allclose(sess.run(moving_mean), 0)  # inference must not update
    np.testing.assert_allclose(eval_out, data / np.sqrt(1 + 1e-3), rtol=1e-5)
    train_out, _ = sess.run([outputs, update_ops], {is_training: True})
    np.testing.assert_allclose(sess.run(moving_mean), data.mean(axis=0), rtol=1e-4)
  np.testing.assert_allclose(train_out.mean(axis=0), 0, atol=1e-4)


def test_updates_in_place_when_no_collection(graph):
  outputs = layers.batch_norm(tf.ones([4, 2]) * 3.0, decay=0.0, updates_collections=None,
                              is_training=True)
  assert tf1.get_collection(tf1.GraphKeys.UPDATE_OPS) == []
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    sess.run(outputs)
    np.testing.assert_allclose(sess.run(_variables_by_name()['BatchNorm/moving_mean']), 3.0)


def test_works_as_normalizer_fn_under_arg_scope(graph):
  with slim.arg_scope([slim.conv2d], normalizer_fn=layers.batch_norm,
                      normalizer_params={'scale': True}):
    with slim.arg_scope([layers.batch_norm], is_training=False, epsilon=0.01):
      slim.conv2d(tf.zeros([1, 8, 8, 3]), 4, [3, 3], scope='conv')
  names = sorted(_variables_by_name())
  assert names == ['conv/BatchNorm/beta', 'conv/BatchNorm/gamma',
                   'conv/BatchNorm/moving_mean', 'conv/BatchNorm/moving_variance',
                   'conv/weights']


def test_nchw_normalizes_over_channel_axis_one(graph):
  data = np.random.RandomState(3).normal(2, 1, [4, 3, 5, 5]).astype(np.float32)
  outputs = layers.batch_norm(tf.constant(data), data_format='NCHW', is_training=True)
  assert _variables_by_name()['BatchNorm/moving_mean'].shape.as_list() == [3]
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    out = sess.run(outputs)
  np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-4)


@pytest.mark.parametrize('shape', [[2, 3, 4], [5]])
def test_rejects_unsupported_rank(graph, shape):
  with pytest.raises(ValueError, match='rank 2 or 4'):
    layers.batch_norm(tf.zeros(shape))


def test_grouped_conv_keeps_towers_apart(graph):
  """With groups=2, the first half of the outputs sees only the first half of the inputs."""
  images = tf1.placeholder(tf.float32, [1, 5, 5, 4])
  outputs = layers.grouped_conv2d(images, 6, [3, 3], groups=2, activation_fn=None,
                                  scope='conv')
  assert _variables_by_name()['conv/weights'].shape.as_list() == [3, 3, 2, 6]
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    base = np.random.RandomState(4).normal(size=[1, 5, 5, 4])
    changed = base.copy()
    changed[..., 2:] += 1.0  # touch the second tower's inputs only
    before, after = sess.run(outputs, {images: base}), sess.run(outputs, {images: changed})
  np.testing.assert_allclose(before[..., :3], after[..., :3], rtol=1e-6)
  assert not np.allclose(before[..., 3:], after[..., 3:])


def test_grouped_conv_rejects_indivisible_channels(graph):
  with pytest.raises(ValueError, match='do not split into 2 groups'):
    layers.grouped_conv2d(tf.zeros([1, 5, 5, 3]), 4, [3, 3], groups=2)


def _computing_op_type(tensor):
  """The type of the op that computed `tensor`, looking through reshapes."""
  while tensor.op.type == 'Reshape':
    tensor = tensor.op.inputs[0]
  return tensor.op.type


# How each gradient is computed: 'matmul' (the whole-map product), 'taps' (the input
# gradient is TensorFlow's, the filter gradient one matmul per kernel tap) or 'tf'.
@pytest.mark.parametrize('input_shape,kernel_shape,strides,padding,computed_by', [
    ([2, 1, 1, 8], [1, 1, 8, 3], 1, 'SAME', 'matmul'),     # fc7/fc8 on a 1x1 map
    ([2, 1, 1, 8], [1, 1, 8, 3], 1, 'VALID', 'matmul'),
    ([2, 4, 3, 6], [4, 3, 6, 5], 1, 'VALID', 'matmul'),    # fc6: kernel = map
    ([2, 4, 4, 6], [4, 4, 6, 5], 2, 'VALID', 'matmul'),
    ([2, 5, 5, 3], [3, 3, 3, 4], 1, 'SAME', 'taps'),       # VGG's 3x3 layers
    ([2, 4, 4, 6], [4, 4, 6, 5], 1, 'SAME', 'taps'),       # even kernel: uneven padding
    ([2, 7, 6, 3], [3, 2, 3, 4], 1, 'VALID', 'taps'),
    ([2, 6, 6, 2], [1, 7, 2, 3], 1, 'SAME', 'taps'),       # inception_v3's 1x7
    ([2, 5, 5, 3], [1, 1, 3, 4], 1, 'SAME', 'tf'),         # pointwise: by measurement only
    ([2, 9, 9, 3], [3, 3, 3, 4], 2, 'VALID', 'tf'),        # strided
    ([2, 8, 8, 2], [6, 6, 2, 3], 1, 'SAME', 'tf'),         # 36 taps: too many copies
])
def test_fast_conv_gradients_equal_tensorflows(graph, input_shape, kernel_shape, strides,
                                               padding, computed_by):
  rng = np.random.RandomState(1)
  inputs = tf.constant(rng.normal(size=input_shape).astype(np.float32))
  weights = tf.constant(rng.normal(size=kernel_shape).astype(np.float32))
  with layers.fast_conv_gradients():
    outputs = tf.nn.conv2d(inputs, weights, strides, padding)
  grads = tf.gradients(tf.reduce_sum(tf.sin(outputs)), [inputs, weights])
  expected_ops = {'matmul': ('MatMul', 'MatMul'), 'taps': ('Conv2DBackpropInput', 'Pack'),
                  'tf': ('Conv2DBackpropInput', 'Conv2DBackpropFilter')}[computed_by]
  assert tuple(_computing_op_type(g) for g in grads) == expected_ops
  reference = tf.nn.conv2d(inputs, weights, strides, padding)
  reference_grads = tf.gradients(tf.reduce_sum(tf.sin(reference)), [inputs, weights])
  assert reference_grads[0].op.type == 'Conv2DBackpropInput'
  with tf1.Session() as sess:
    expected, got = sess.run([reference_grads, grads])
  for want, have in zip(expected, got):
    np.testing.assert_allclose(have, want, rtol=1e-4, atol=1e-4)


def test_fast_conv_gradients_with_unknown_batch(graph):
  """The whole-map case reshapes by the batch it is fed, not a static one."""
  rng = np.random.RandomState(2)
  kernel = rng.normal(size=[3, 3, 4, 2]).astype(np.float32)
  data = rng.normal(size=[5, 3, 3, 4]).astype(np.float32)
  inputs = tf1.placeholder(tf.float32, [None, 3, 3, 4])
  weights = tf.constant(kernel)
  with layers.fast_conv_gradients():
    outputs = tf.nn.conv2d(inputs, weights, 1, 'VALID')
  grad_inputs, grad_weights = tf.gradients(tf.reduce_sum(outputs * outputs), [inputs, weights])
  with tf1.Session() as sess:
    got_inputs, got_weights = sess.run([grad_inputs, grad_weights], {inputs: data})
  rows, matrix = data.reshape(5, -1), kernel.reshape(-1, 2)
  products = rows @ matrix
  np.testing.assert_allclose(got_weights.reshape(-1, 2), 2 * rows.T @ products, rtol=1e-4,
                             atol=1e-3)
  np.testing.assert_allclose(got_inputs.reshape(5, -1), 2 * products @ matrix.T, rtol=1e-4,
                             atol=1e-3)


def test_filter_gradient_by_taps_with_unknown_batch(graph):
  rng = np.random.RandomState(5)
  data = rng.normal(size=[3, 5, 5, 2]).astype(np.float32)
  weights = tf.constant(rng.normal(size=[3, 3, 2, 4]).astype(np.float32))
  inputs = tf1.placeholder(tf.float32, [None, 5, 5, 2])
  with layers.fast_conv_gradients():
    ours = tf.gradients(tf.reduce_sum(tf.nn.conv2d(inputs, weights, 1, 'SAME') ** 2),
                        weights)[0]
  reference = tf.gradients(tf.reduce_sum(tf.nn.conv2d(inputs, weights, 1, 'SAME') ** 2),
                           weights)[0]
  assert _computing_op_type(ours) == 'Pack'
  with tf1.Session() as sess:
    got, want = sess.run([ours, reference], {inputs: data})
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)


def test_float16_filter_gradients_stay_tensorflows(graph):
  """The tap matmuls would sum whole batches in float16; TensorFlow's op is kept."""
  inputs = tf.zeros([2, 5, 5, 3], tf.float16)
  weights = tf.zeros([3, 3, 3, 4], tf.float16)
  with layers.fast_conv_gradients():
    outputs = tf.nn.conv2d(inputs, weights, 1, 'SAME')
  assert tf.gradients(outputs, weights)[0].op.type == 'Conv2DBackpropFilter'


def _built_like_slim(build, input_shape, scope_args):
  """Builds `build` under `scope_args` for slim.conv2d; returns its graph's facts and value."""
  graph = tf.Graph()
  with graph.as_default():
    tf1.set_random_seed(7)
    inputs = tf1.placeholder(tf.float32, [None] + input_shape[1:])
    with slim.arg_scope([slim.conv2d], **scope_args):
      outputs = build(inputs)
    variables = [(v.op.name, v.shape.as_list()) for v in tf1.global_variables()]
    facts = {
        'variables': variables,
        'model_variables': [v.op.name for v in tf1.model_variables()],
        'in_custom_collection': [v.op.name for v in tf1.get_collection('custom')],
        'regularization_losses': len(tf1.losses.get_regularization_losses()),
        'outputs_collected': [t.name for t in tf1.get_collection('end_points')],
        'shape': outputs.shape.as_list(),
        'op_types': {op.type for op in graph.get_operations()},
    }
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      weights = {v.op.name: sess.run(v) for v in tf1.global_variables()}
      data = np.random.RandomState(3).normal(size=input_shape).astype(np.float32)
      value = sess.run(outputs, {inputs: data})
  return facts, weights, value


@pytest.mark.parametrize('input_shape,kernel,padding,by_matmul', [
    ([2, 4, 3, 6], [4, 3], 'VALID', True),      # fc6 at the default size
    ([2, 1, 1, 8], [1, 1], 'SAME', True),       # fc7/fc8
    ([2, 6, 6, 6], [4, 4], 'VALID', False),     # fc6 on a larger map: dense evaluation
    ([2, 4, 4, 6], [4, 4], 'SAME', False),      # SAME slides a kernel the size of the map
])
def test_fully_connected_conv2d_is_slim_conv2d(input_shape, kernel, padding, by_matmul):
  """Same variables, collections and outputs as slim.conv2d, computed by matmul where the
  kernel covers the map; slim.conv2d's arg_scope applies to it."""
  scope_args = {'weights_regularizer': slim.l2_regularizer(0.1),
                'biases_initializer': tf1.random_normal_initializer(),
                'variables_collections': ['custom'], 'outputs_collections': ['end_points'],
                'activation_fn': tf.nn.tanh}
  ours, ours_weights, _ = _built_like_slim(
      lambda x: layers.fully_connected_conv2d(x, 5, kernel, padding=padding, scope='fc6'),
      input_shape, scope_args)
  slims, _, _ = _built_like_slim(
      lambda x: slim.conv2d(x, 5, kernel, padding=padding, scope='fc6'),
      input_shape, scope_args)
  assert ('MatMul' in ours['op_types']) == by_matmul
  assert ('Conv2D' in ours['op_types']) != by_matmul
  slims['op_types'] = ours['op_types'] = None
  assert ours == slims
  # With the same weights, the value is the convolution's.
  graph = tf.Graph()
  with graph.as_default():
    data = np.random.RandomState(3).normal(size=input_shape).astype(np.float32)
    conv = tf.nn.conv2d(data, ours_weights['fc6/weights'], 1, padding)
    expected = tf.nn.tanh(tf.nn.bias_add(conv, ours_weights['fc6/biases']))
    with tf1.Session() as sess:
      expected = sess.run(expected)
  _, _, got = _built_like_slim(
      lambda x: layers.fully_connected_conv2d(
          x, 5, kernel, padding=padding, scope='fc6',
          weights_initializer=tf1.constant_initializer(ours_weights['fc6/weights']),
          biases_initializer=tf1.constant_initializer(ours_weights['fc6/biases'])),
      input_shape, scope_args)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_fully_connected_conv2d_normalizer_replaces_biases(graph):
  inputs = tf.zeros([2, 3, 3, 4])
  outputs = layers.fully_connected_conv2d(
      inputs, 6, 3, padding='VALID', normalizer_fn=layers.batch_norm,
      normalizer_params={'is_training': False}, scope='fc6')
  assert outputs.shape.as_list() == [2, 1, 1, 6]
  names = sorted(v.op.name for v in tf1.global_variables())
  assert names == ['fc6/BatchNorm/beta', 'fc6/BatchNorm/moving_mean',
                   'fc6/BatchNorm/moving_variance', 'fc6/weights']


def test_the_fast_gradient_is_registered_once_under_both_package_names():
  """Importing the nets registers it; `slimbench.nets` is the same module, not a second one."""
  from tensorflow.python.framework import ops  # pylint: disable=g-import-not-at-top
  from slimbench.nets import gradients as installed_gradients  # pylint: disable=g-import-not-at-top
  assert installed_gradients is gradients
  assert layers.fast_conv_gradients is gradients.fast_conv_gradients
  registered = ops._gradient_registry.lookup(  # pylint: disable=protected-access
      gradients._FAST_CONV2D_GRADIENT)  # pylint: disable=protected-access
  assert registered is gradients._conv2d_gradient  # pylint: disable=protected-access


class _Always:
  """A chooser that picks `kernel` where it applies, and records what it was offered."""

  def __init__(self, kernel):
    self.kernel, self.offered = kernel, []

  def __call__(self, op_name, signature, kernels, build, input_specs, flops):
    self.offered.append(kernels)
    return self.kernel if self.kernel in kernels else kernels[0]


@pytest.mark.parametrize('input_shape,kernel_shape,strides,padding,kernels', [
    ([2, 4, 3, 6], [4, 3, 6, 5], 1, 'VALID', ['tensorflow', 'matmul']),
    ([2, 5, 5, 3], [3, 3, 3, 4], 1, 'SAME', ['tensorflow', 'taps']),
    ([2, 5, 4, 3], [1, 1, 3, 4], 1, 'SAME', ['tensorflow', 'pointwise']),
    ([2, 5, 4, 3], [1, 1, 3, 4], 1, 'VALID', ['tensorflow', 'pointwise']),
    ([2, 5, 5, 3], [1, 1, 3, 4], 2, 'SAME', ['tensorflow']),   # strided 1x1: rows differ
    ([2, 9, 9, 3], [3, 3, 3, 4], 2, 'VALID', ['tensorflow']),
])
def test_every_kernel_a_chooser_can_pick_equals_tensorflows(graph, input_shape, kernel_shape,
                                                             strides, padding, kernels):
  rng = np.random.RandomState(3)
  inputs = tf.constant(rng.normal(size=input_shape).astype(np.float32))
  weights = tf.constant(rng.normal(size=kernel_shape).astype(np.float32))
  reference = tf.gradients(tf.reduce_sum(tf.sin(tf.nn.conv2d(inputs, weights, strides,
                                                             padding))), [inputs, weights])
  picked = {}
  for kernel in kernels:
    chooser = _Always(kernel)
    with gradients.conv_gradients(chooser):
      outputs = tf.nn.conv2d(inputs, weights, strides, padding)
    picked[kernel] = tf.gradients(tf.reduce_sum(tf.sin(outputs)), [inputs, weights])
    assert chooser.offered == [kernels]
  with gradients.conv_gradients('tensorflow'):
    plain = tf.nn.conv2d(inputs, weights, strides, padding)
  assert tf.gradients(plain, weights)[0].op.type == 'Conv2DBackpropFilter'
  with tf1.Session() as sess:
    want, got = sess.run([reference, picked])
  for kernel in kernels:
    for expected, have in zip(want, got[kernel]):
      np.testing.assert_allclose(have, expected, rtol=1e-4, atol=1e-4)


def test_float16_pointwise_gradients_are_not_offered_as_matmuls(graph):
  """One matmul over every image and position would sum that long a row in float16."""
  chooser = _Always('pointwise')
  with gradients.conv_gradients(chooser):
    outputs = tf.nn.conv2d(tf.zeros([2, 5, 5, 3], tf.float16),
                           tf.zeros([1, 1, 3, 4], tf.float16), 1, 'SAME')
  weights_grad = tf.gradients(outputs, outputs.op.inputs[1])[0]
  assert chooser.offered == [['tensorflow']]
  assert weights_grad.op.type == 'Conv2DBackpropFilter'


def test_measured_choice_is_timed_once_cached_and_reused(graph, tmp_path):
  """A convolution big enough to time (batch 8, 32x32x32, 3x3x32x32: 0.3 GFLOP both ways)."""
  from slimbench import kernel_tuning  # pylint: disable=g-import-not-at-top
  cache_file = str(tmp_path / 'kernel_choices.json')
  inputs = tf.zeros([8, 32, 32, 32])
  weights = tf.ones([3, 3, 32, 32])

  def build_with(chooser):
    with gradients.conv_gradients(chooser):
      outputs = tf.nn.conv2d(inputs, weights, 1, 'SAME', name='conv')
    return tf.gradients(outputs, weights)[0]

  first = kernel_tuning.KernelChooser(cache_file)
  grad = build_with(first)
  assert first.timed == 1 and set(first.choices.values()) <= {'tensorflow', 'taps'}
  expected_type = {'tensorflow': 'Conv2DBackpropFilter', 'taps': 'Pack'}[
      next(iter(first.choices.values()))]
  assert _computing_op_type(grad) == expected_type
  second = kernel_tuning.KernelChooser(cache_file)
  build_with(second)
  assert (second.timed, second.from_cache) == (0, 1)
  assert list(second.choices.values()) == list(first.choices.values())
