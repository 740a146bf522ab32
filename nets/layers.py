"""Layers that tf_slim 1.1.0 no longer provides on TensorFlow 2.21, and the shared classifier.

Input checks are in `input_checks`, the Conv2D gradient override in `gradients`.

`batch_norm` stands in for `slim.batch_norm`, which imports a Keras module that TensorFlow
2.21 removed. It keeps slim's arguments and variable names (`BatchNorm/gamma`, `beta`,
`moving_mean`, `moving_variance`) so that published TF-Slim checkpoints restore, and it can
be used as `normalizer_fn` of `slim.conv2d` / `slim.fully_connected` under `slim.arg_scope`.
It shares slim.batch_norm's arg-scope entry, so settings given under either name reach it.

Usage:
  with slim.arg_scope([slim.conv2d], normalizer_fn=layers.batch_norm,
                      normalizer_params={'is_training': is_training, 'decay': 0.9997}):
    net = slim.conv2d(images, 64, [3, 3])
"""

import tensorflow as tf
import tf_slim as slim
from tf_slim.ops import arg_scope as arg_scope_lib

from . import gradients
from . import input_checks
# Re-exported: code written against `layers` (bench/conv_kernels.py) finds it where it was.
from .gradients import fast_conv_gradients  # pylint: disable=unused-import

tf1 = tf.compat.v1


def _answers_to(slim_op):
  """Decorates a stand-in for `slim_op` so that arg scopes treat the two as one op.

  tf_slim keys an arg scope entry by the op's `_key_op` (`arg_scope_func_key`). Giving our
  function slim's key means `slim.arg_scope([slim.batch_norm], is_training=False)`, the
  TF-Slim idiom for freezing batch norm, reaches ours, and our own `<family>_arg_scope`
  settings are visible under `sc[slim.arg_scope_func_key(slim.batch_norm)]` as in TF-Slim.
  The stand-in must accept every argument of `slim_op`, since tf_slim now records its
  argument names for the shared key.
  """
  def decorate(func):
    func._key_op = arg_scope_lib.arg_scope_func_key(slim_op)  # pylint: disable=protected-access
    return slim.add_arg_scope(func)
  return decorate


@_answers_to(slim.batch_norm)
def batch_norm(inputs,
               decay=0.999,
               center=True,
               scale=False,
               epsilon=0.001,
               activation_fn=None,
               param_initializers=None,
               param_regularizers=None,
               updates_collections=tf1.GraphKeys.UPDATE_OPS,
               is_training=True,
               reuse=None,
               variables_collections=None,
               outputs_collections=None,
               trainable=True,
               batch_weights=None,
               fused=None,
               data_format='NHWC',
               zero_debias_moving_mean=False,
               scope=None,
               renorm=False,
               renorm_clipping=None,
               renorm_decay=0.99,
               adjustment=None):
  """Batch normalization (Ioffe & Szegedy, 2015) with TF-Slim's interface and names.

  Uses the fused kernel for 2-D and 4-D inputs. In training, normalizes with the batch
  statistics and creates the ops that move `moving_mean` / `moving_variance` towards them;
  in inference, normalizes with the moving statistics.

  Args:
    inputs: a tensor of rank 2 (`[batch, channels]`) or 4 (`data_format`).
    decay: decay of the moving averages; lower it (0.9) for short runs.
    center: add a learned offset `beta`.
    scale: multiply by a learned `gamma`; off by default because a following ReLU
      makes it redundant, as in slim.
    epsilon: added to the variance to avoid dividing by zero.
    activation_fn: applied to the output, or None.
    param_initializers: optional initializers keyed by 'beta', 'gamma', 'moving_mean',
      'moving_variance'.
    param_regularizers: optional regularizers keyed by 'beta', 'gamma'.
    updates_collections: collection the update ops are added to (run them with the train
      op, as slim's `create_train_op` does); None runs them in place before the output.
    is_training: a Python bool or a boolean tensor: batch statistics and updates when true.
    reuse: reuse the variables of `scope`.
    variables_collections: extra collections for the variables, a list or a dict keyed like
      `param_initializers`.
    outputs_collections: collections to add the output to.
    trainable: add `beta` / `gamma` to the trainable variables.
    batch_weights: slim's weighted batch statistics; not supported, must be None.
    fused: slim's choice of kernel. This one always uses the fused kernel, which is what
      slim picks for None and True. False (slim's kernel built from separate ops) is
      accepted and gives the fused result: the same normalization, and moving variances
      that differ only by the fused kernel's n / (n - 1) correction of batch variances.
    data_format: 'NHWC' or 'NCHW' for rank-4 inputs.
    zero_debias_moving_mean: correct the moving mean's bias towards its zero start.
    scope: variable scope; 'BatchNorm' by default.
    renorm, renorm_clipping, renorm_decay, adjustment: slim's batch renormalization and
      adjustment; not supported: renorm must be False and the others None (renorm_decay,
      which only renorm reads, is accepted).

  Returns:
    A tensor with the shape of `inputs`.

  Raises:
    ValueError: the rank is not 2 or 4, the channel dimension is unknown, `data_format`
      is unknown, `is_training` is None, or an unsupported slim option is set.
  """
  del renorm_decay, fused  # See Args: nothing left for them to choose.
  unsupported = {name: value for name, value in (
      ('batch_weights', batch_weights), ('renorm', renorm or None),
      ('renorm_clipping', renorm_clipping), ('adjustment', adjustment)) if value is not None}
  if unsupported:
    names = ', '.join(sorted(unsupported))
    raise ValueError(f'batch_norm: slim.batch_norm\'s {names} '
                     f'{"is" if len(unsupported) == 1 else "are"} not supported here; '
                     f'leave {"it" if len(unsupported) == 1 else "them"} unset')
  if is_training is None:
    raise ValueError('batch_norm: is_training is None; pass True, False or a boolean '
                     'tensor, or set it with slim.arg_scope([slim.batch_norm], '
                     'is_training=...)')
  input_checks.check_flag(is_training, 'is_training', 'batch_norm', allow_tensor=True)
  if data_format not in ('NHWC', 'NCHW'):
    raise ValueError(f'batch_norm: data_format must be NHWC or NCHW, not {data_format!r}')
  inputs = tf.convert_to_tensor(inputs)
  rank = inputs.shape.rank
  if rank not in (2, 4):
    raise ValueError(f'batch_norm: inputs must have rank 2 or 4, got shape {inputs.shape}')
  channel_axis = 1 if (rank == 4 and data_format == 'NCHW') else -1
  channels = inputs.shape[channel_axis]
  if channels is None:
    raise ValueError(f'batch_norm: the channel dimension of {inputs.name} must be known')
  param_initializers = param_initializers or {}
  param_regularizers = param_regularizers or {}

  def collections_for(name):
    if isinstance(variables_collections, dict):
      return variables_collections.get(name)
    return variables_collections

  with tf1.variable_scope(scope, 'BatchNorm', [inputs], reuse=reuse) as sc:
    dtype = inputs.dtype.base_dtype
    param_dtype = tf.float32 if dtype == tf.float16 else dtype

    def variable(name, initializer, trainable_param, regularizer=None):
      collections = collections_for(name)
      if not trainable_param:
        collections = list(collections or []) + [tf1.GraphKeys.MOVING_AVERAGE_VARIABLES]
      return slim.model_variable(
          name, shape=[channels], dtype=param_dtype,
          initializer=param_initializers.get(name, initializer),
          regularizer=regularizer, collections=collections,
          trainable=trainable and trainable_param)

    gamma = (variable('gamma', tf1.ones_initializer(), True, param_regularizers.get('gamma'))
             if scale else tf.ones([channels], param_dtype))
    beta = (variable('beta', tf1.zeros_initializer(), True, param_regularizers.get('beta'))
            if center else tf.zeros([channels], param_dtype))
    moving_mean = variable('moving_mean', tf1.zeros_initializer(), False)
    moving_variance = variable('moving_variance', tf1.ones_initializer(), False)

    # The fused kernel takes rank-4 input only; a [N, C] batch is [N, 1, 1, C] to it.
    fused_inputs = tf.reshape(inputs, [-1, 1, 1, channels]) if rank == 2 else inputs
    fused_format = 'NHWC' if rank == 2 else data_format

    def normalize_with_batch_statistics():
      return tf1.nn.fused_batch_norm(
          fused_inputs, gamma, beta, epsilon=epsilon, data_format=fused_format,
          is_training=True)

    def normalize_with_moving_statistics():
      return tf1.nn.fused_batch_norm(
          fused_inputs, gamma, beta, mean=moving_mean, variance=moving_variance,
          epsilon=epsilon, data_format=fused_format, is_training=False)

    training_value = tf.get_static_value(is_training) if tf.is_tensor(is_training) else is_training
    if training_value is None:
      outputs, mean, variance = tf1.cond(
          is_training, normalize_with_batch_statistics, normalize_with_moving_statistics)
    elif training_value:
      outputs, mean, variance = normalize_with_batch_statistics()
    else:
      outputs, mean, variance = normalize_with_moving_statistics()
    if rank == 2:
      outputs = tf.reshape(outputs, tf.shape(inputs))
    outputs.set_shape(inputs.shape)

    if training_value is None or training_value:
      update_ops = _moving_average_updates(
          moving_mean, moving_variance, mean, variance, decay, is_training,
          training_value, zero_debias_moving_mean)
      if updates_collections is None:
        with tf.control_dependencies(update_ops):
          outputs = tf.identity(outputs)
      else:
        for op in update_ops:
          tf1.add_to_collections(updates_collections, op)

    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return slim.utils.collect_named_outputs(outputs_collections, sc.name, outputs)


def _moving_average_updates(moving_mean, moving_variance, mean, variance, decay,
                            is_training, training_value, zero_debias_moving_mean):
  """Ops that move the moving statistics towards the batch statistics."""
  from tensorflow.python.training import moving_averages  # pylint: disable=g-import-not-at-top
  if training_value is None:
    # With a tensor `is_training`, inference steps must leave the statistics alone:
    # a decay of 1 makes the update a no-op.
    decay = tf1.where(is_training, tf.constant(decay, moving_mean.dtype),
                      tf.constant(1.0, moving_mean.dtype))
  update_mean = moving_averages.assign_moving_average(
      moving_mean, tf.cast(mean, moving_mean.dtype), decay,
      zero_debias=zero_debias_moving_mean)
  update_variance = moving_averages.assign_moving_average(
      moving_variance, tf.cast(variance, moving_variance.dtype), decay, zero_debias=False)
  return [update_mean, update_variance]



def squeeze_spatial(net, net_name, name):
  """Squeezes a [batch, 1, 1, C] map to [batch, C], with a clear error otherwise."""
  height, width = net.shape[1], net.shape[2]
  if (height is not None and height != 1) or (width is not None and width != 1):
    raise ValueError(
        f'{net_name}: spatial_squeeze needs a 1x1 map before the logits, got '
        f'{height}x{width}; use the default image size, global_pool=True or '
        f'spatial_squeeze=False')
  return tf.squeeze(net, [1, 2], name=name)


@slim.add_arg_scope
def grouped_conv2d(inputs, num_outputs, kernel_size, groups, stride=1, padding='SAME',
                   activation_fn=tf.nn.relu, normalizer_fn=None, normalizer_params=None,
                   weights_initializer=None, weights_regularizer=None,
                   biases_initializer=tf1.zeros_initializer(), outputs_collections=None,
                   trainable=True, scope=None):
  """A convolution whose input and output channels are split into `groups` towers.

  Each tower's filters see only its own slice of the input channels, as in the two-GPU
  AlexNet. The variables are named like `slim.conv2d`'s (`weights` of shape
  `[k, k, in / groups, out]`, `biases`).
  """
  channels = inputs.shape[-1]
  if channels % groups or num_outputs % groups:
    raise ValueError(f'grouped_conv2d: {channels} input and {num_outputs} output channels '
                     f'do not split into {groups} groups')
  kernel = list(kernel_size) if isinstance(kernel_size, (list, tuple)) else [kernel_size] * 2
  with tf1.variable_scope(scope, 'Conv', [inputs]) as sc:
    weights = slim.model_variable(
        'weights', shape=kernel + [channels // groups, num_outputs],
        initializer=weights_initializer or tf1.glorot_uniform_initializer(),
        regularizer=weights_regularizer, trainable=trainable)
    # One convolution per tower: TensorFlow's own grouped convolution fails on CPU once
    # grappler fuses it with the bias ("Fused conv implementation does not support
    # grouped convolutions").
    towers = [tf.nn.conv2d(tower_inputs, tower_weights, strides=stride, padding=padding)
              for tower_inputs, tower_weights in zip(tf.split(inputs, groups, axis=-1),
                                                     tf.split(weights, groups, axis=-1))]
    outputs = tf.concat(towers, axis=-1)
    if normalizer_fn is not None:
      outputs = normalizer_fn(outputs, **(normalizer_params or {}))
    elif biases_initializer is not None:
      biases = slim.model_variable('biases', shape=[num_outputs],
                                   initializer=biases_initializer, trainable=trainable)
      outputs = tf.nn.bias_add(outputs, biases)
    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return slim.utils.collect_named_outputs(outputs_collections, sc.name, outputs)


def fully_connected_conv2d(inputs, num_outputs, kernel_size, **kwargs):
  """`slim.conv2d` for a fully connected layer written as a convolution (fc6-fc8).

  Takes `slim.conv2d`'s arguments and its `arg_scope`, and makes the same variables
  (`weights` [k, k, in, out], `biases`) and outputs. Where the kernel covers the whole input
  map, as at the default image size, the product is computed as a matmul, which TensorFlow
  2.21 runs much faster on the CPU than its convolution (figures in docs/performance.md,
  "Convolution gradients on the CPU"). On a larger map (dense evaluation) it is
  `slim.conv2d` itself.
  """
  kernel = list(kernel_size) if isinstance(kernel_size, (list, tuple)) else [kernel_size] * 2
  scope_args = arg_scope_lib.current_arg_scope().get(
      arg_scope_lib.arg_scope_func_key(slim.conv2d), {})
  args = {**scope_args, **kwargs}
  inputs = tf.convert_to_tensor(inputs)
  if (inputs.shape.rank != 4 or args.get('data_format') not in (None, 'NHWC') or
      args.get('rate', 1) not in (1, [1, 1], (1, 1)) or
      not gradients.kernel_covers_map(inputs.shape, kernel, args.get('padding', 'SAME'))):
    return slim.conv2d(inputs, num_outputs, kernel_size, **kwargs)
  for unused in ('stride', 'padding', 'data_format', 'rate'):
    args.pop(unused, None)
  return _whole_map_conv2d(inputs, num_outputs, kernel, **args)


def _whole_map_conv2d(inputs, num_outputs, kernel, activation_fn=tf.nn.relu,
                      normalizer_fn=None, normalizer_params=None,
                      weights_initializer=slim.xavier_initializer(),
                      weights_regularizer=None, biases_initializer=tf1.zeros_initializer(),
                      biases_regularizer=None, reuse=None, variables_collections=None,
                      outputs_collections=None, trainable=True, scope=None):
  """The whole-map case of `fully_connected_conv2d`, with `slim.conv2d`'s defaults."""
  depth = kernel[0] * kernel[1] * inputs.shape[-1]
  dtype = inputs.dtype.base_dtype
  with tf1.variable_scope(scope, 'Conv', [inputs], reuse=reuse) as sc:
    weights = slim.model_variable(
        'weights', shape=kernel + [inputs.shape[-1], num_outputs], dtype=dtype,
        initializer=weights_initializer, regularizer=weights_regularizer,
        trainable=trainable,
        collections=slim.utils.get_variable_collections(variables_collections, 'weights'))
    # NHWC rows flatten in the order of the [k, k, in, out] weights.
    outputs = tf.matmul(tf.reshape(inputs, [-1, depth]), tf.reshape(weights, [depth, -1]))
    outputs = tf.reshape(outputs, [-1, 1, 1, num_outputs])
    if normalizer_fn is not None:
      outputs = normalizer_fn(outputs, **(normalizer_params or {}))
    elif biases_initializer is not None:
      biases = slim.model_variable(
          'biases', shape=[num_outputs], dtype=dtype, initializer=biases_initializer,
          regularizer=biases_regularizer, trainable=trainable,
          collections=slim.utils.get_variable_collections(variables_collections, 'biases'))
      outputs = tf.nn.bias_add(outputs, biases)
    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return slim.utils.collect_named_outputs(outputs_collections, sc.name, outputs)


def convolutional_classifier(net, sc, end_points_collection, *, num_classes, is_training,
                             dropout_keep_prob, spatial_squeeze, global_pool, fc6_kernel,
                             fc6_depth, fc7_depth=4096, fc_conv_padding='VALID',
                             fc_params=None):
  """fc6-fc7-fc8 of AlexNet, OverFeat and VGG, written as convolutions.

  As convolutions the fully connected layers slide over inputs larger than the training
  size (dense evaluation), and the variables keep TF-Slim's 4-D shapes.

  Args:
    net: the last pooled feature map.
    sc: the net's variable scope; end point keys start with its name.
    end_points_collection: the collection the net's layers were added to.
    num_classes: 0 or None returns the fc7 features (or their global pool).
    is_training, dropout_keep_prob: dropout after fc6 and fc7.
    spatial_squeeze: squeeze the logits to [batch, num_classes].
    global_pool: average fc7 over space before the logits.
    fc6_kernel: side of the fc6 kernel, i.e. of the feature map it sees at the default size.
    fc6_depth, fc7_depth: widths of fc6 and fc7.
    fc_conv_padding: padding of fc6; 'SAME' gives a spatial map at any input size.
    fc_params: extra `slim.conv2d` arguments for fc6, fc7 and fc8 (initializers).

  Returns:
    (net, end_points), end_points ordered by layer.
  """
  net_name = sc.name
  input_checks.check_flags(net_name, spatial_squeeze=spatial_squeeze, global_pool=global_pool)
  input_checks.check_flag(is_training, 'is_training', net_name, allow_tensor=True)
  if fc_conv_padding == 'VALID' and net.shape[1] is not None and net.shape[1] < fc6_kernel:
    raise ValueError(f'{net_name}: the input is too small: the fc6 layer needs a '
                     f'{fc6_kernel}x{fc6_kernel} feature map, got {net.shape[1]}x{net.shape[2]}')
  with slim.arg_scope([slim.conv2d], **(fc_params or {})):
    net = fully_connected_conv2d(net, fc6_depth, [fc6_kernel, fc6_kernel],
                                 padding=fc_conv_padding, scope='fc6')
    net = slim.dropout(net, dropout_keep_prob, is_training=is_training, scope='dropout6')
    net = fully_connected_conv2d(net, fc7_depth, [1, 1], scope='fc7')
    end_points = slim.utils.convert_collection_to_dict(end_points_collection)
    if global_pool:
      net = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
      end_points['global_pool'] = net
    if num_classes:
      net = slim.dropout(net, dropout_keep_prob, is_training=is_training, scope='dropout7')
      net = fully_connected_conv2d(net, num_classes, [1, 1], activation_fn=None,
                                   normalizer_fn=None,
                                   biases_initializer=tf1.zeros_initializer(), scope='fc8')
      if spatial_squeeze:
        net = squeeze_spatial(net, net_name, name='fc8/squeezed')
      end_points[net_name + '/fc8'] = net
  return net, end_points

