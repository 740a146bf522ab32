"""Building blocks of the MobileNet v2 / v3 / EdgeTPU family.

`expanded_conv` is the inverted residual with linear bottleneck of Sandler et al.,
"MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018 (Figure 3b, Table 1):
a 1x1 expansion, a depthwise convolution and a linear 1x1 projection, with a shortcut when
input and output have the same shape. MobileNet v3 (Howard et al., "Searching for
MobileNetV3", ICCV 2019) adds a squeeze-and-excite stage after the depthwise convolution
(`squeeze_excite`); MobileNet-EdgeTPU replaces expansion and depthwise convolution by one
full convolution in its early stages (`fused=True`).

Variable and end-point names are TF-Slim's: `expand`, `depthwise`, `project`,
`squeeze_excite/Conv`, `squeeze_excite/Conv_1`; the block outputs `expansion_output`,
`depthwise_output` and `output`.

Usage:
  net = conv_blocks.expanded_conv(net, num_outputs=24, stride=2,
                                  expansion_size=conv_blocks.expand_input_by_factor(6),
                                  normalizer_fn=layers.batch_norm)
"""

import functools

import tensorflow as tf
import tf_slim as slim

tf1 = tf.compat.v1


def make_divisible(value, divisor=8, min_value=None):
  """Rounds a channel count to the nearest multiple of `divisor`.

  Hardware runs channel counts that are multiples of 8 faster; every width of the MobileNet
  family goes through this rounding, so that published checkpoints have these shapes.

  Args:
    value: the width before rounding (a float after a multiplier).
    divisor: the result is a multiple of it.
    min_value: the smallest result; `divisor` by default.

  Returns:
    An int, at least `min_value` and never more than 10% below `value`.
  """
  min_value = divisor if min_value is None else min_value
  rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
  # Rounding down by more than 10% would cost accuracy; take the next multiple instead.
  if rounded < 0.9 * value:
    rounded += divisor
  return int(rounded)


def _expanded_size(num_inputs, factor, divisible_by):
  return make_divisible(num_inputs * factor, divisible_by)


def expand_input_by_factor(factor, divisible_by=8):
  """An `expansion_size` of `factor` times the block's input channels.

  Expressing the expansion relative to the input keeps the paper's ratios when a depth
  multiplier changes the widths.

  Returns:
    `fn(num_inputs) -> int`.
  """
  return functools.partial(_expanded_size, factor=factor, divisible_by=divisible_by)


def fixed_padding(inputs, kernel_size, rate=1):
  """Pads height and width so that a VALID convolution gives SAME's output size.

  Unlike SAME, the padding does not depend on the input size, which keeps the receptive
  fields aligned across input sizes.
  """
  kernel = kernel_size if isinstance(kernel_size, (list, tuple)) else (kernel_size,) * 2
  effective = [k + (k - 1) * (rate - 1) for k in kernel]
  pads = [((k - 1) // 2, (k - 1) - (k - 1) // 2) for k in effective]
  return tf.pad(inputs, [[0, 0], pads[0], pads[1], [0, 0]])


@slim.add_arg_scope
def squeeze_excite(input_tensor, squeeze_factor=4, divisible_by=8,
                   inner_activation_fn=tf.nn.relu, gating_fn=tf.sigmoid,
                   scope='squeeze_excite'):
  """Squeeze-and-excite (Hu et al., 2018): reweights channels by a gate of their means.

  Args:
    input_tensor: a [batch, height, width, channels] tensor.
    squeeze_factor: the bottleneck has `channels / squeeze_factor` channels (rounded to
      `divisible_by`); MobileNet v3 uses 4.
    divisible_by: rounding of the bottleneck width.
    inner_activation_fn: activation of the bottleneck (`Conv`).
    gating_fn: activation of the gate (`Conv_1`); MobileNet v3 uses `hard_sigmoid`.
    scope: variable scope.

  Returns:
    `input_tensor` times the per-channel gate.
  """
  channels = input_tensor.shape[3]
  with tf1.variable_scope(scope, 'squeeze_excite', [input_tensor]):
    squeeze_channels = make_divisible(channels / squeeze_factor, divisible_by)
    pooled = tf.reduce_mean(input_tensor, [1, 2], keepdims=True, name='squeeze')
    # The gate has biases and no normalization: it sees one value per channel and image.
    gate_params = dict(normalizer_fn=None, biases_initializer=tf1.zeros_initializer())
    squeezed = slim.conv2d(pooled, squeeze_channels, [1, 1], activation_fn=inner_activation_fn,
                           scope='Conv', **gate_params)
    gate = slim.conv2d(squeezed, channels, [1, 1], activation_fn=gating_fn, scope='Conv_1',
                       **gate_params)
    return input_tensor * gate


@slim.add_arg_scope
def expanded_conv(input_tensor,
                  num_outputs,
                  expansion_size=expand_input_by_factor(6),
                  stride=1,
                  rate=1,
                  kernel_size=(3, 3),
                  residual=True,
                  fused=False,
                  normalizer_fn=None,
                  inner_activation_fn=None,
                  depthwise_activation_fn=None,
                  project_activation_fn=tf.identity,
                  expansion_transform=None,
                  use_explicit_padding=False,
                  padding='SAME',
                  endpoints=None,
                  scope=None):
  """Inverted residual block: expand (1x1), depthwise (k x k), project (1x1, linear).

  The expansion is left out when it would not widen the input (expansion factor 1, as in
  the first block of MobileNet v2 and v3).

  Args:
    input_tensor: a [batch, height, width, channels] tensor with known channels.
    num_outputs: channels of the projection.
    expansion_size: inner width, an int or `fn(input_channels) -> int`
      (`expand_input_by_factor`).
    stride: stride of the depthwise convolution (of the expansion when `fused`).
    rate: atrous rate of the spatial convolution.
    kernel_size: kernel of the spatial convolution.
    residual: add the input to the output when their shapes match (stride 1, same width).
    fused: replace expansion and depthwise convolution by one full k x k convolution
      (`expand`), as in the early stages of MobileNet-EdgeTPU.
    normalizer_fn: normalization of the three convolutions.
    inner_activation_fn: activation of the expansion and the depthwise convolution; None
      keeps the enclosing arg_scope's `slim.conv2d` activation.
    depthwise_activation_fn: activation of the depthwise convolution, if it differs.
    project_activation_fn: activation of the projection; linear, as the paper argues
      non-linearities in the narrow layer destroy information.
    expansion_transform: `fn(tensor) -> tensor` applied between the depthwise convolution
      and the projection (MobileNet v3's squeeze-and-excite).
    use_explicit_padding: pad explicitly (`fixed_padding`) and convolve with VALID.
    padding: padding of the spatial convolution when not explicit.
    endpoints: optional dict that receives `expansion_output`, `depthwise_output` and
      `output`.
    scope: variable scope; 'expanded_conv' by default.

  Returns:
    The block's output tensor, named `output`.

  Raises:
    ValueError: unknown input channels, or a fused block with a stride but nothing to
      carry it.
  """
  endpoints = {} if endpoints is None else endpoints
  with tf1.variable_scope(scope, 'expanded_conv', [input_tensor]):
    input_channels = input_tensor.shape[3]
    if input_channels is None:
      raise ValueError(f'expanded_conv: the channels of {input_tensor.name} must be known')
    inner_size = expansion_size(input_channels) if callable(expansion_size) else expansion_size
    if use_explicit_padding:
      padding = 'VALID'

    def spatial_input(net):
      return fixed_padding(net, kernel_size, rate) if use_explicit_padding else net

    def activation(fn):
      # None leaves the activation to the arg_scope, as a plain slim.conv2d call would.
      return {} if fn is None else {'activation_fn': fn}

    net = input_tensor
    if inner_size > input_channels:
      if fused:
        net = slim.conv2d(spatial_input(net), inner_size, kernel_size, stride=stride,
                          rate=rate, padding=padding, normalizer_fn=normalizer_fn,
                          scope='expand', **activation(inner_activation_fn))
      else:
        net = slim.conv2d(net, inner_size, [1, 1], normalizer_fn=normalizer_fn,
                          scope='expand', **activation(inner_activation_fn))
      net = endpoints['expansion_output'] = tf.identity(net, name='expansion_output')
    elif fused and stride != 1:
      raise ValueError(f'expanded_conv: a fused block without expansion has no spatial '
                       f'convolution to carry stride {stride}')

    if not fused:
      net = slim.separable_conv2d(
          spatial_input(net), None, kernel_size, depth_multiplier=1, stride=stride,
          rate=rate, padding=padding, normalizer_fn=normalizer_fn, scope='depthwise',
          **activation(depthwise_activation_fn or inner_activation_fn))
      net = endpoints['depthwise_output'] = tf.identity(net, name='depthwise_output')

    if expansion_transform is not None:
      net = expansion_transform(net)
    net = slim.conv2d(net, num_outputs, [1, 1], normalizer_fn=normalizer_fn,
                      activation_fn=project_activation_fn, scope='project')
    if residual and stride == 1 and input_channels == num_outputs:
      net += input_tensor
    net = endpoints['output'] = tf.identity(net, name='output')
    return net
