"""What the video networks I3D and S3D-G share: 3-D layers and Inception-v1 inflated in time.

Carreira & Zisserman ("Quo Vadis, Action Recognition?", CVPR 2017) make a video network of
Inception-v1 by giving every convolution and pooling a time axis; Xie et al. ("Rethinking
Spatiotemporal Feature Learning", ECCV 2018) split each 3-D convolution into a spatial
k x k and a temporal k x 1 x 1 one and gate features by their clip-wide average. Both
keep Inception-v1's module depths and scope names, so an ImageNet Inception-v1 checkpoint
inflates into them. `BLOCKS` is that table: the root layers with their time kernels
written out, the modules' depths taken from `inception_v1.MODULES`.

Clips are [batch, frames, height, width, channels] ('NDHWC'); kernels and strides are
(time, height, width). Variable names are TF-Slim's (`temporal/weights`,
`self_gating/transformer_W/weights`), so its checkpoints restore.

Usage:
  net, end_points = i3d_utils.build_blocks(clips, final_endpoint='Mixed_4f', ...)
  net = i3d_utils.conv3d_spatiotemporal(net, 64, [3, 3, 3], separable=True, scope='Conv')
"""

import numpy as np
import tensorflow as tf
import tf_slim as slim

from . import inception_utils
from . import inception_v1
from . import layers

tf1 = tf.compat.v1

NDHWC = 'NDHWC'
NCDHW = 'NCDHW'
DATA_FORMATS = (NDHWC, NCDHW)


def _triple(value):
  return tuple(value) if isinstance(value, (list, tuple)) else (value,) * 3


def center_initializer():
  """Initializes a k x 1 x 1 temporal convolution (in == out channels) to the identity.

  The separable convolution then starts as its spatial part alone, which Xie et al. found
  needed for it to train; k must be odd so that there is a centre frame.
  """

  def initializer(shape, dtype=tf.float32, partition_info=None):
    del partition_info
    shape = [int(d) for d in shape]
    if len(shape) != 5 or shape[1:3] != [1, 1] or shape[3] != shape[4] or shape[0] % 2 == 0:
      raise ValueError(f'center_initializer: needs a [k, 1, 1, c, c] kernel with k odd, '
                       f'got {shape}')
    kernel = np.zeros(shape, np.float32)
    kernel[shape[0] // 2, 0, 0] = np.eye(shape[3], dtype=np.float32)
    return tf.constant(kernel, dtype=dtype)

  return initializer


def _merge_axes(tensor, first):
  """`tensor` with axes `first` and `first + 1` merged into one."""
  shape = tensor.shape.as_list()
  dynamic = tf.shape(tensor)
  dims = [d if d is not None else dynamic[i] for i, d in enumerate(shape)]
  merged = (shape[first] * shape[first + 1]
            if None not in shape[first:first + 2] else -1)
  return tf.reshape(tensor, dims[:first] + [merged] + dims[first + 2:])


@slim.add_arg_scope
def batch_norm(inputs, data_format=NDHWC, **kwargs):
  """`layers.batch_norm` of a 5-D clip batch, with its arguments, variables and arg scope.

  Frames join the rows of the map ([N, T, H, W, C] is normalized as [N, T * H, W, C]),
  which leaves each channel's statistics, taken over batch, time and space, unchanged.
  Settings of `layers.batch_norm` in an arg scope (is_training) apply.
  """
  if data_format not in DATA_FORMATS:
    raise ValueError(f'batch_norm: data_format must be NDHWC or NCDHW, not {data_format!r}')
  inputs = tf.convert_to_tensor(inputs)
  if inputs.shape.rank != 5:
    return layers.batch_norm(inputs, **kwargs)
  if data_format == NDHWC:
    outputs = layers.batch_norm(_merge_axes(inputs, 1), data_format='NHWC', **kwargs)
  else:
    outputs = layers.batch_norm(_merge_axes(inputs, 2), data_format='NCHW', **kwargs)
  outputs = tf.reshape(outputs, tf.shape(inputs))
  outputs.set_shape(inputs.shape)
  return outputs


@slim.add_arg_scope
def conv3d_spatiotemporal(inputs, num_outputs, kernel_size, stride=1, padding='SAME',
                          activation_fn=None, normalizer_fn=None, normalizer_params=None,
                          weights_regularizer=None, separable=False, data_format=NDHWC,
                          scope=''):
  """A 3-D convolution, or with `separable` its spatial and temporal halves (S3D).

  Separable: a 1 x kh x kw convolution (with the normalizer) in `scope`, then a
  kt x 1 x 1 one with biases and no normalizer in `scope/temporal`, which starts as the
  identity (`center_initializer`). A temporal kernel of 1 leaves only the spatial half.

  Args:
    inputs: a 5-D tensor in `data_format`.
    num_outputs: output channels of both halves.
    kernel_size: (time, height, width), or one int for all three.
    stride: (time, height, width), or one int for all three.
    padding: 'SAME' or 'VALID'.
    activation_fn: applied after each half.
    normalizer_fn, normalizer_params: the normalizer of the (spatial) convolution.
    weights_regularizer: regularizer of both halves' weights.
    separable: split the convolution in space and time.
    data_format: 'NDHWC' or 'NCDHW'.
    scope: variable scope of the (spatial) convolution.

  Returns:
    The output tensor.
  """
  kernel, strides = _triple(kernel_size), _triple(stride)
  common = dict(padding=padding, activation_fn=activation_fn,
                weights_regularizer=weights_regularizer, data_format=data_format)
  if not separable or kernel[0] == 1:
    return slim.conv3d(inputs, num_outputs, list(kernel), stride=list(strides),
                       normalizer_fn=normalizer_fn, normalizer_params=normalizer_params,
                       scope=scope, **common)
  net = slim.conv3d(inputs, num_outputs, [1, kernel[1], kernel[2]],
                    stride=[1, strides[1], strides[2]], normalizer_fn=normalizer_fn,
                    normalizer_params=normalizer_params, scope=scope, **common)
  return slim.conv3d(net, num_outputs, [kernel[0], 1, 1], stride=[strides[0], 1, 1],
                     normalizer_fn=None, weights_initializer=center_initializer(),
                     scope=f'{scope}/temporal', **common)


@slim.add_arg_scope
def inception_block_v1_3d(inputs, num_outputs_0_0a, num_outputs_1_0a, num_outputs_1_0b,
                          num_outputs_2_0a, num_outputs_2_0b, num_outputs_3_0b,
                          temporal_kernel_size=3, self_gating_fn=None, data_format=NDHWC,
                          scope=''):
  """An Inception-v1 module in 3-D, optionally gated (S3D-G), with TF-Slim's names.

  Branch_0: 1x1x1. Branch_1 and Branch_2: 1x1x1 then a t x 3 x 3 `conv3d_spatiotemporal`
  (its `separable` from the arg scope). Branch_3: 3x3x3 max pool then 1x1x1. Each
  branch's output goes through `self_gating_fn(net, scope)` when one is given.

  Returns:
    The branches' outputs concatenated along the channels.
  """
  convs_3x3 = ((num_outputs_1_0a, num_outputs_1_0b), (num_outputs_2_0a, num_outputs_2_0b))

  def gated(net, scope_name):
    return self_gating_fn(net, scope=scope_name) if self_gating_fn else net

  with tf1.variable_scope(scope):
    branches = []
    with tf1.variable_scope('Branch_0'):
      branches.append(gated(slim.conv3d(inputs, num_outputs_0_0a, [1, 1, 1],
                                        data_format=data_format, scope='Conv2d_0a_1x1'),
                            'Conv2d_0a_1x1'))
    for index, (reduce_depth, depth) in enumerate(convs_3x3, start=1):
      with tf1.variable_scope(f'Branch_{index}'):
        net = slim.conv3d(inputs, reduce_depth, [1, 1, 1], data_format=data_format,
                          scope='Conv2d_0a_1x1')
        net = conv3d_spatiotemporal(net, depth, [temporal_kernel_size, 3, 3],
                                    data_format=data_format, scope='Conv2d_0b_3x3')
        branches.append(gated(net, 'Conv2d_0b_3x3'))
    with tf1.variable_scope('Branch_3'):
      net = slim.max_pool3d(inputs, [3, 3, 3], stride=1, padding='SAME',
                            data_format=data_format, scope='MaxPool_0a_3x3')
      net = slim.conv3d(net, num_outputs_3_0b, [1, 1, 1], data_format=data_format,
                        scope='Conv2d_0b_1x1')
      branches.append(gated(net, 'Conv2d_0b_1x1'))
    return tf.concat(branches, axis=data_format.index('C'))


def reduced_kernel_size_3d(input_tensor, kernel_size):
  """`kernel_size` (time, height, width) clipped to the static size of a 5-D NDHWC map."""
  sizes = input_tensor.shape.as_list()[1:4]
  if None in sizes:
    return list(kernel_size)
  return [min(size, kernel) for size, kernel in zip(sizes, kernel_size)]


class BuildContext:
  """The settings of one build that the rows of `BLOCKS` read.

  Attributes:
    depth: `depth(d)`, the scaled channel count.
    data_format: 'NDHWC' or 'NCDHW'.
    first_temporal_kernel_size: time kernel of Conv2d_1a_7x7.
    temporal_kernel_size: time kernel of the 3x3 convolutions (1 before
      `temporal_conv_startat`, then 3).
    gating_fn: `fn(net, scope)` gating a layer's output, or None (before `gating_startat`).
  """

  def __init__(self, depth, data_format, first_temporal_kernel_size):
    self.depth = depth
    self.data_format = data_format
    self.first_temporal_kernel_size = first_temporal_kernel_size
    self.temporal_kernel_size = 1
    self.gating_fn = None


class FirstConv:
  """Conv2d_1a_7x7: a kt x 7 x 7 convolution, never separable (too slow on the raw frames)."""
  spatiotemporal = False

  def __init__(self, depth, kernel, stride):
    self.depth, self.kernel, self.stride = depth, kernel, stride

  def build(self, net, scope, ctx):
    return conv3d_spatiotemporal(net, ctx.depth(self.depth),
                                 [ctx.first_temporal_kernel_size, *self.kernel],
                                 stride=self.stride, separable=False,
                                 data_format=ctx.data_format, scope=scope)


class Conv:
  """A plain `slim.conv3d`."""
  spatiotemporal = False

  def __init__(self, depth, kernel):
    self.depth, self.kernel = depth, list(kernel)

  def build(self, net, scope, ctx):
    return slim.conv3d(net, ctx.depth(self.depth), self.kernel,
                       data_format=ctx.data_format, scope=scope)


class SpatiotemporalConv:
  """A t x k x k `conv3d_spatiotemporal` (t from the context), gated once gating started."""
  spatiotemporal = True

  def __init__(self, depth, spatial_kernel):
    self.depth, self.spatial_kernel = depth, list(spatial_kernel)

  def build(self, net, scope, ctx):
    net = conv3d_spatiotemporal(net, ctx.depth(self.depth),
                                [ctx.temporal_kernel_size, *self.spatial_kernel],
                                data_format=ctx.data_format, scope=scope)
    return ctx.gating_fn(net, scope=scope) if ctx.gating_fn else net


class MaxPool:
  """A `slim.max_pool3d`."""
  spatiotemporal = False

  def __init__(self, kernel, stride):
    self.kernel, self.stride = list(kernel), list(_triple(stride))

  def build(self, net, scope, ctx):
    return slim.max_pool3d(net, self.kernel, stride=self.stride, padding='SAME',
                           data_format=ctx.data_format, scope=scope)


class InceptionModule:
  """`inception_block_v1_3d` with an Inception-v1 module's depths."""
  spatiotemporal = True

  def __init__(self, conv_1x1, reduce_3x3, conv_3x3, reduce_5x5, conv_5x5, pool_proj):
    self.depths = (conv_1x1, reduce_3x3, conv_3x3, reduce_5x5, conv_5x5, pool_proj)

  @classmethod
  def inflate(cls, name):
    """Inception-v1's module `name` (its Table 1 row), for 3-D."""
    module = dict(inception_v1.MODULES)[name]
    (conv_1x1,), (reduce_3x3, conv_3x3), (reduce_5x5, conv_5x5), (_, pool_proj) = (
        module.branches)
    return cls(*(conv.depth for conv in (conv_1x1, reduce_3x3, conv_3x3, reduce_5x5,
                                          conv_5x5, pool_proj)))

  def build(self, net, scope, ctx):
    return inception_block_v1_3d(
        net, *(ctx.depth(d) for d in self.depths),
        temporal_kernel_size=ctx.temporal_kernel_size, self_gating_fn=ctx.gating_fn,
        data_format=ctx.data_format, scope=scope)


# Inception-v1 inflated (Carreira & Zisserman, Fig. 3). The first two poolings keep every
# frame; Conv2d_1a_7x7 and the two later poolings halve the frames as they halve the map:
# 64 x 224 x 224 clips leave 8 x 7 x 7 after Mixed_5c.
BLOCKS = (
    ('Conv2d_1a_7x7', FirstConv(64, (7, 7), stride=2)),
    ('MaxPool_2a_3x3', MaxPool((1, 3, 3), stride=(1, 2, 2))),
    ('Conv2d_2b_1x1', Conv(64, (1, 1, 1))),
    ('Conv2d_2c_3x3', SpatiotemporalConv(192, (3, 3))),
    ('MaxPool_3a_3x3', MaxPool((1, 3, 3), stride=(1, 2, 2))),
    ('Mixed_3b', InceptionModule.inflate('Mixed_3b')),
    ('Mixed_3c', InceptionModule.inflate('Mixed_3c')),
    ('MaxPool_4a_3x3', MaxPool((3, 3, 3), stride=2)),
    ('Mixed_4b', InceptionModule.inflate('Mixed_4b')),
    ('Mixed_4c', InceptionModule.inflate('Mixed_4c')),
    ('Mixed_4d', InceptionModule.inflate('Mixed_4d')),
    ('Mixed_4e', InceptionModule.inflate('Mixed_4e')),
    ('Mixed_4f', InceptionModule.inflate('Mixed_4f')),
    ('MaxPool_5a_2x2', MaxPool((2, 2, 2), stride=2)),
    ('Mixed_5b', InceptionModule.inflate('Mixed_5b')),
    ('Mixed_5c', InceptionModule.inflate('Mixed_5c')),
)

END_POINTS = tuple(name for name, _ in BLOCKS)
# Where temporal convolutions and gating may start (TF-Slim's *_startat arguments).
SPATIOTEMPORAL_BLOCKS = tuple(name for name, block in BLOCKS if block.spatiotemporal)


def check_clips(inputs, net_name, data_format=NDHWC, channels=(1, 2, 3)):
  """Validates a batch of clips; 2 channels is the optical-flow stream of Carreira &
  Zisserman.

  Raises:
    ValueError: one line saying what was expected (or an unknown data_format).
  """
  if data_format not in DATA_FORMATS:
    raise ValueError(f'{net_name}: data_format must be NDHWC or NCDHW, got {data_format!r}')
  inputs = tf.convert_to_tensor(inputs)
  shape = inputs.shape
  if shape.rank != 5:
    layout = ('[batch, frames, height, width, channels]' if data_format == NDHWC
              else '[batch, channels, frames, height, width]')
    raise ValueError(f'{net_name}: clips must be a 5-D batch {layout}, got shape {shape}')
  sizes = dict(zip(data_format, shape))
  if sizes['C'] is None or sizes['C'] not in channels:
    expected = ' or '.join(str(c) for c in channels)
    raise ValueError(f'{net_name}: clips must have {expected} channels, got shape {shape}')
  for side, key in (('frame count', 'D'), ('height', 'H'), ('width', 'W')):
    if sizes[key] is not None and sizes[key] < 1:
      raise ValueError(f'{net_name}: clip {side} {sizes[key]} is too small; this net needs '
                       f'at least 1x1 pixels and 1 frame')
  return inputs


def _check_startat(name, value):
  if value is not None and value not in SPATIOTEMPORAL_BLOCKS:
    raise ValueError(f'{name}={value!r}: expected None (never) or one of '
                     f'{", ".join(SPATIOTEMPORAL_BLOCKS)}')


def build_blocks(inputs, *, final_endpoint, first_temporal_kernel_size,
                 temporal_conv_startat, gating_startat, gating_fn, depth, data_format):
  """Builds `BLOCKS` up to `final_endpoint` in the current variable scope.

  Temporal 3x3 convolutions start at the block `temporal_conv_startat`, gating (with
  `gating_fn`) at `gating_startat`; None means never (TF-Slim's I3D never gates).

  Returns:
    (net, end_points), end_points in build order.

  Raises:
    ValueError: an unknown end point or start block, a first temporal kernel other than
      1, 3, 5 or 7, or an unknown data format.
  """
  inception_utils.check_final_endpoint(BLOCKS, final_endpoint, 'InceptionV1')
  _check_startat('temporal_conv_startat', temporal_conv_startat)
  _check_startat('gating_startat', gating_startat)
  if first_temporal_kernel_size not in (1, 3, 5, 7):
    raise ValueError(f'first_temporal_kernel_size must be 1, 3, 5 or 7, got '
                     f'{first_temporal_kernel_size}')
  if data_format not in DATA_FORMATS:
    raise ValueError(f'data_format must be NDHWC or NCDHW, got {data_format!r}')
  ctx = BuildContext(depth, data_format, first_temporal_kernel_size)
  end_points = {}
  net = inputs
  with slim.arg_scope([batch_norm], data_format=data_format):
    for name, block in BLOCKS:
      if name == temporal_conv_startat:
        ctx.temporal_kernel_size = 3
      if name == gating_startat:
        ctx.gating_fn = gating_fn
      net = block.build(net, name, ctx)
      end_points[name] = net
      if name == final_endpoint:
        break
  return net, end_points


def logits_3d(net, end_points, *, net_name, num_classes, dropout_keep_prob,
              spatial_squeeze, prediction_fn, data_format):
  """The classifier of I3D and S3D-G, in the current scope's `Logits`.

  A 2 x 7 x 7 average pool (clipped to the map), dropout, a 1x1x1 convolution, and the
  logits averaged over the remaining frames. Without classes, the pooled features
  averaged over the frames ([batch, 1, 1, channels]) come back instead.

  Returns:
    (logits, end_points).
  """
  with tf1.variable_scope('Logits'):
    if data_format == NCDHW:
      net = tf.transpose(net, [0, 2, 3, 4, 1])
    net = slim.avg_pool3d(net, reduced_kernel_size_3d(net, [2, 7, 7]), stride=1,
                          padding='VALID', scope='AvgPool_0a_7x7')
    if not num_classes:
      return tf.reduce_mean(net, axis=1, name='TemporalPool'), end_points
    net = slim.dropout(net, dropout_keep_prob, scope='Dropout_0b')
    logits = slim.conv3d(net, num_classes, [1, 1, 1], activation_fn=None,
                         normalizer_fn=None, scope='Conv2d_0c_1x1')
    # Linear, so averaging the logits over time is classifying the clip-average feature.
    logits = tf.reduce_mean(logits, axis=1, name='TemporalPool')
    if spatial_squeeze:
      logits = layers.squeeze_spatial(logits, net_name, name='SpatialSqueeze')
    end_points['Logits'] = logits
    end_points['Predictions'] = inception_utils.predictions(logits, prediction_fn)
  return logits, end_points


def video_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon, separable):
  """The layer defaults of I3D and S3D-G: L2 decay, batch norm without gamma, then ReLU."""
  batch_norm_params = {
      'decay': batch_norm_decay,
      'epsilon': batch_norm_epsilon,
      # TF-Slim collects the moving statistics here too; code that reads them still works.
      'variables_collections': {'moving_mean': ['moving_vars'],
                                'moving_variance': ['moving_vars']},
  }
  with slim.arg_scope([slim.conv3d, conv3d_spatiotemporal],
                      weights_regularizer=slim.l2_regularizer(weight_decay),
                      activation_fn=tf.nn.relu, normalizer_fn=batch_norm,
                      normalizer_params=batch_norm_params):
    with slim.arg_scope([conv3d_spatiotemporal], separable=separable) as sc:
      return sc
