"""The MobileNet engine: a network is a list of layer specs, one function builds it.

MobileNet v2 (Sandler et al., CVPR 2018), v3 (Howard et al., ICCV 2019) and
MobileNet-EdgeTPU differ only in their tables. A table (`conv_defs`) is a dict:

  defaults: {(fn, ...): {param: value}}, arg_scope defaults for the layer functions;
  spec:     [op(fn, **params), ...], one entry per layer, built in order.

The engine applies the depth multiplier to every `num_outputs` (rounded by
`conv_blocks.make_divisible`), turns strides into atrous rates beyond `output_stride`, names
the layers as TF-Slim does (`Conv`, `expanded_conv_3`, `Conv_1`, ...) and records the end
points `layer_1` ... `layer_N` followed by each block's `layer_N/expansion_output`,
`layer_N/depthwise_output` and `layer_N/output`. `mobilenet` adds TF-Slim's classifier:
global average pool, dropout, a 1x1 convolution `Logits/Conv2d_1c_1x1`.

Usage:
  from . import mobilenet as lib
  from . import mobilenet_v2
  with slim.arg_scope(lib.training_scope(is_training=False)):
    logits, end_points = lib.mobilenet(images, conv_defs=mobilenet_v2.V2_DEF,
                                       scope='MobilenetV2')
"""

import contextlib
import dataclasses
import inspect
from typing import Any, Callable, Dict

import tensorflow as tf
import tf_slim as slim

from .. import input_checks
from .. import layers
from . import conv_blocks

tf1 = tf.compat.v1

# SAME padding lets every layer build on any input of at least one pixel; inputs smaller
# than the total stride (32) all end in a 1x1 map.
MIN_IMAGE_SIZE = 1


@dataclasses.dataclass
class LayerSpec:
  """One layer of a table: `fn(net, scope=..., **params)`."""
  fn: Callable
  params: Dict[str, Any]


def op(fn, **params):
  """A layer spec: `fn` called on the previous layer's output with `params`."""
  return LayerSpec(fn, params)


# Default scope names of slim's layers, which published checkpoints use; other functions
# are named after themselves (`expanded_conv`).
_SLIM_SCOPE_NAMES = {
    slim.conv2d: 'Conv',
    slim.separable_conv2d: 'SeparableConv2d',
    slim.fully_connected: 'fully_connected',
    slim.avg_pool2d: 'AvgPool2D',
    slim.max_pool2d: 'MaxPool2D',
}


def _accepts(fn, name):
  return name in inspect.signature(fn).parameters


def global_pool(input_tensor, name='AvgPool'):
  """Averages over height and width: [batch, h, w, c] -> [batch, 1, 1, c], any input size."""
  height, width = input_tensor.shape[1], input_tensor.shape[2]
  if height is None or width is None:
    return tf.reduce_mean(input_tensor, [1, 2], keepdims=True, name=name)
  return tf.nn.avg_pool2d(input_tensor, [height, width], strides=1, padding='VALID',
                          name=name)


@slim.add_arg_scope
def reduce_to_1x1(input_tensor, scope=None):
  """A layer that averages the whole feature map (MobileNet v3's pooling before `Conv_2`)."""
  with tf1.variable_scope(scope, 'AvgPool2D', [input_tensor]):
    return global_pool(input_tensor, name='AvgPool')


def training_scope(is_training=True, weight_decay=0.00004, stddev=0.09,
                   dropout_keep_prob=0.8, bn_decay=0.997):
  """The arg scope the MobileNet v2 / v3 checkpoints were trained with.

  Args:
    is_training: default of the nets' `is_training` (an explicit argument wins); None
      sets neither, leaving batch norm and dropout to an enclosing arg scope.
    weight_decay: L2 decay of the convolution weights; depthwise weights have none, since
      they hold few parameters and decaying them hurts accuracy.
    stddev: standard deviation of the truncated-normal weight initializer; a negative
      value selects Xavier initialization.
    dropout_keep_prob: keep probability of the dropout before the logits.
    bn_decay: decay of the batch-norm moving averages.

  Returns:
    An arg scope for `slim.arg_scope`.
  """
  if stddev < 0:
    initializer = slim.initializers.xavier_initializer()
  else:
    initializer = tf1.truncated_normal_initializer(stddev=stddev)
  # As in TF-Slim, is_training=None leaves batch norm and dropout to an enclosing scope.
  training = {} if is_training is None else {'is_training': is_training}
  with slim.arg_scope([slim.conv2d, slim.fully_connected, slim.separable_conv2d],
                      weights_initializer=initializer, normalizer_fn=layers.batch_norm), \
      slim.arg_scope([mobilenet_base, mobilenet], is_training=is_training), \
      slim.arg_scope([layers.batch_norm], decay=bn_decay, center=True, scale=True,
                     **training), \
      slim.arg_scope([slim.dropout], keep_prob=dropout_keep_prob, **training), \
      slim.arg_scope([slim.conv2d],
                     weights_regularizer=slim.l2_regularizer(weight_decay)), \
      slim.arg_scope([slim.separable_conv2d], weights_regularizer=None) as scope:
    return scope


def _check_output_stride(output_stride):
  if output_stride is None:
    return
  if not isinstance(output_stride, int) or output_stride < 1 or (
      output_stride & (output_stride - 1)):
    raise ValueError(f'output_stride must be None or a power of 2 (1, 2, 4, 8, 16, ...), '
                     f'got {output_stride!r}')


def _build_layers(inputs, conv_defs, depth_multiplier, final_endpoint, output_stride,
                  use_explicit_padding, min_depth, divisible_by,
                  finegrain_classification_mode, is_training, net_name):
  """Builds the layers of `conv_defs` in the current variable scope."""
  input_checks.check_flags(net_name, use_explicit_padding=use_explicit_padding,
                           finegrain_classification_mode=finegrain_classification_mode)
  if is_training is not None:
    input_checks.check_flag(is_training, 'is_training', net_name, allow_tensor=True)
  if depth_multiplier <= 0:
    raise ValueError(f'{net_name}: depth_multiplier must be positive, got {depth_multiplier}')
  _check_output_stride(output_stride)
  spec = conv_defs['spec']
  layer_names = [f'layer_{index}' for index in range(1, len(spec) + 1)]
  if final_endpoint is not None and final_endpoint not in layer_names:
    raise ValueError(f'{net_name}: unknown final_endpoint {final_endpoint!r}; expected one '
                     f'of layer_1 ... layer_{len(spec)}')

  end_points, block_points = {}, {}
  scope_counts = {}
  current_stride, rate = 1, 1
  net = inputs
  with contextlib.ExitStack() as stack:
    for fns, params in conv_defs.get('defaults', {}).items():
      stack.enter_context(slim.arg_scope(list(fns), **params))
    if is_training is not None:
      stack.enter_context(slim.arg_scope([layers.batch_norm, slim.dropout],
                                         is_training=is_training))
    for index, (layer, name) in enumerate(zip(spec, layer_names)):
      params = dict(layer.params)
      if 'num_outputs' in params:
        multiplier = depth_multiplier
        if finegrain_classification_mode and index == len(spec) - 1:
          # The last layer feeds the classifier: narrowing it costs more accuracy than
          # it saves (Sandler et al., 6.1), so a multiplier below 1 leaves it alone.
          multiplier = max(multiplier, 1.0)
        params['num_outputs'] = conv_blocks.make_divisible(
            params['num_outputs'] * multiplier, divisible_by, min_depth)

      stride = params.get('stride', 1)
      if output_stride is not None and current_stride == output_stride:
        # Past the requested resolution, strides become dilation so that later layers
        # keep their receptive fields on the denser map.
        layer_stride, layer_rate = 1, rate
        rate *= stride
      else:
        layer_stride, layer_rate = stride, 1
        current_stride *= stride
      if 'stride' in params:
        params['stride'] = layer_stride
      if layer_rate > 1:
        params['rate'] = layer_rate

      if use_explicit_padding:
        if _accepts(layer.fn, 'use_explicit_padding'):
          params['use_explicit_padding'] = True
        elif 'kernel_size' in params:
          net = conv_blocks.fixed_padding(net, params['kernel_size'], layer_rate)
          params['padding'] = 'VALID'
      if _accepts(layer.fn, 'endpoints'):
        params['endpoints'] = block_points[name] = {}

      scope = params.pop('scope', None)
      if scope is None:
        base = _SLIM_SCOPE_NAMES.get(layer.fn, getattr(layer.fn, '__name__', 'layer'))
        count = scope_counts.get(base, 0)
        scope_counts[base] = count + 1
        scope = base if count == 0 else f'{base}_{count}'
      try:
        net = layer.fn(net, scope=scope, **params)
      except (TypeError, ValueError) as error:
        if type(error) not in (TypeError, ValueError):
          raise
        # Say which table row failed; the traceback alone points into slim.
        raise type(error)(f'{net_name}: building {name} ({scope}) failed: {error}') from error
      end_points[name] = net
      if name == final_endpoint:
        break
    else:
      if output_stride is not None and current_stride < output_stride:
        raise ValueError(f'{net_name}: output_stride {output_stride} exceeds the '
                         f'network\'s total stride {current_stride}')

  for name, points in block_points.items():
    for key, tensor in points.items():
      end_points[f'{name}/{key}'] = tensor
  return net, end_points


@slim.add_arg_scope
def mobilenet_base(inputs, conv_defs, multiplier=1.0, final_endpoint=None,
                   output_stride=None, use_explicit_padding=False, scope=None,
                   is_training=False, min_depth=8, divisible_by=8,
                   finegrain_classification_mode=False, reuse=None):
  """Builds the layers of `conv_defs` without a classifier.

  The arguments up to `is_training` are TF-Slim's, in its order; ours follow.

  Args:
    inputs: a [batch, height, width, 1 or 3] tensor.
    conv_defs: the network's table (see the module docstring).
    multiplier: scales every layer's width (`num_outputs`); widths are rounded to
      multiples of `divisible_by` and are at least `min_depth`. (The v2 and v3 modules
      call it `depth_multiplier`.)
    final_endpoint: stop after this layer (`layer_N`).
    output_stride: the ratio of input to output resolution, a power of 2; further strides
      become atrous rates (for dense prediction). None uses every stride.
    use_explicit_padding: pad explicitly and convolve with VALID.
    scope: variable scope; 'Mobilenet' by default.
    is_training: batch statistics in batch norm (and active dropout in `mobilenet`);
      None leaves both to an enclosing arg scope, as in TF-Slim.
    min_depth: the smallest width the multiplier may produce.
    divisible_by: widths are multiples of it.
    finegrain_classification_mode: keep the last layer at its full width when
      `multiplier` is below 1.
    reuse: reuse the variables of `scope`.

  Returns:
    (net, end_points): the last layer's output and the ordered end points.

  Raises:
    ValueError: bad images, multiplier, final_endpoint or output_stride.
  """
  net_name = getattr(scope, 'name', scope) or 'Mobilenet'
  inputs = input_checks.check_images(inputs, net_name, MIN_IMAGE_SIZE)
  with tf1.variable_scope(scope, 'Mobilenet', [inputs], reuse=reuse):
    return _build_layers(inputs, conv_defs, multiplier, final_endpoint, output_stride,
                         use_explicit_padding, min_depth, divisible_by,
                         finegrain_classification_mode, is_training, net_name)


@slim.add_arg_scope
def mobilenet(inputs, num_classes=1001, prediction_fn=slim.softmax, reuse=None,
              scope='Mobilenet', base_only=False, conv_defs=None, multiplier=1.0,
              final_endpoint=None, output_stride=None, use_explicit_padding=False,
              is_training=False, min_depth=8, divisible_by=8,
              finegrain_classification_mode=False):
  """Builds `conv_defs` with TF-Slim's MobileNet classifier.

  The arguments up to `base_only` are TF-Slim's, in its order; the rest are keywords there
  (its `**mobilenet_args`, passed on to `mobilenet_base`).

  Args:
    inputs: a [batch, height, width, 1 or 3] tensor.
    num_classes: number of predicted classes (1001 for the published checkpoints, class 0
      being background); 0 or None returns the pooled features [batch, 1, 1, channels].
    prediction_fn: turns the logits into `Predictions`; None leaves them out.
    reuse: reuse the variables of `scope`.
    scope: variable scope.
    base_only: return the last layer's output, before pooling.
    conv_defs: the network's table (required).
    multiplier, final_endpoint, output_stride, use_explicit_padding, min_depth,
      divisible_by, finegrain_classification_mode: see `mobilenet_base`.
    is_training: batch statistics in batch norm, active dropout; None leaves both to an
      enclosing arg scope.

  Returns:
    (logits, end_points): logits [batch, num_classes] (or the features, see above) and the
    ordered end points, ending with `global_pool`, `Logits`, `Predictions`.

  Raises:
    ValueError: bad images, missing conv_defs, or a bad argument of `mobilenet_base`.
  """
  net_name = getattr(scope, 'name', scope)
  if conv_defs is None:
    raise ValueError(f'{net_name}: conv_defs is required (e.g. mobilenet_v2.V2_DEF)')
  input_checks.check_flags(net_name, base_only=base_only)
  inputs = input_checks.check_images(inputs, net_name, MIN_IMAGE_SIZE)
  with tf1.variable_scope(scope, 'Mobilenet', [inputs], reuse=reuse):
    net, end_points = _build_layers(
        inputs, conv_defs, multiplier, final_endpoint, output_stride,
        use_explicit_padding, min_depth, divisible_by, finegrain_classification_mode,
        is_training, net_name)
    if base_only:
      return net, end_points
    with tf1.variable_scope('Logits'):
      net = end_points['global_pool'] = global_pool(net)
      if not num_classes:
        return net, end_points
      training = {} if is_training is None else {'is_training': is_training}
      net = slim.dropout(net, scope='Dropout', **training)
      logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                           biases_initializer=tf1.zeros_initializer(),
                           scope='Conv2d_1c_1x1')
      logits = tf.squeeze(logits, [1, 2])
      logits = end_points['Logits'] = tf.identity(logits, name='output')
    if prediction_fn:
      end_points['Predictions'] = prediction_fn(logits, scope='Predictions')
  return logits, end_points
