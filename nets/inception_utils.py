"""What the Inception family shares: the arg scope, and Inception modules written as data.

An Inception module is a tuple of branches; a branch is a sequence of layers run one after
the other; the branches' outputs are concatenated along the channels. Each net file states
its modules as tables of these specs (like the papers' tables) and `build_blocks` turns a
table into a graph with TF-Slim's scope names, so published checkpoints restore:

    Module([Conv(64, 1, '0a')],                                 # Branch_0/Conv2d_0a_1x1
           [Conv(48, 1, '0a'), Conv(64, 5, '0b')],              # Branch_1/Conv2d_0b_5x5
           [AvgPool(3, '0a'), Conv(32, 1, '0b')])               # Branch_2/AvgPool_0a_3x3

The same specs answer `min_input_size`: the smallest square input for which every
unpadded ('VALID') layer up to an end point still has something to slide over.

Usage:
  with slim.arg_scope(inception_utils.inception_arg_scope(weight_decay=4e-5)):
    logits, end_points = inception_v3.inception_v3(images, num_classes=1001)
"""

import tensorflow as tf
import tf_slim as slim

from . import input_checks
from . import layers

tf1 = tf.compat.v1

SAME = 'SAME'
VALID = 'VALID'


def inception_arg_scope(weight_decay=0.00004,
                        use_batch_norm=True,
                        batch_norm_decay=0.9997,
                        batch_norm_epsilon=0.001,
                        activation_fn=tf.nn.relu,
                        batch_norm_updates_collections=tf1.GraphKeys.UPDATE_OPS,
                        batch_norm_scale=False):
  """The layer defaults of Inception v1-v4: L2 decay, He initialization, BN then ReLU.

  Args:
    weight_decay: L2 regularization of the weights of convolutions and fully connected
      layers.
    use_batch_norm: normalize every convolution's output; without it convolutions get
      biases instead.
    batch_norm_decay: decay of the moving averages of the batch statistics.
    batch_norm_epsilon: added to the variance to avoid dividing by zero.
    activation_fn: activation of the convolutions.
    batch_norm_updates_collections: collection of the moving-average update ops (run them
      with the train op); None updates in place.
    batch_norm_scale: learn a `gamma` per channel; the published checkpoints have none.

  Returns:
    An arg scope for `slim.arg_scope`.
  """
  if use_batch_norm:
    normalizer_fn = layers.batch_norm
    normalizer_params = {
        'decay': batch_norm_decay,
        'epsilon': batch_norm_epsilon,
        'updates_collections': batch_norm_updates_collections,
        'scale': batch_norm_scale,
    }
  else:
    normalizer_fn, normalizer_params = None, {}
  with slim.arg_scope([slim.conv2d, slim.fully_connected],
                      weights_regularizer=slim.l2_regularizer(weight_decay)):
    with slim.arg_scope([slim.conv2d],
                        weights_initializer=slim.variance_scaling_initializer(),
                        activation_fn=activation_fn,
                        normalizer_fn=normalizer_fn,
                        normalizer_params=normalizer_params) as sc:
      return sc


def check_inputs(inputs, net_name, min_size, images=True):
  """`input_checks.check_images`; a feature map (`images=False`) may have any known channel
  count."""
  inputs = tf.convert_to_tensor(inputs)
  channels = (1, 3)
  if not images and inputs.shape.rank == 4 and inputs.shape[-1] is not None:
    channels = (inputs.shape[-1],)
  return input_checks.check_images(inputs, net_name, min_size, channels)


def trunc_normal(stddev):
  return tf1.truncated_normal_initializer(0.0, stddev)


def depth_fn(depth_multiplier, min_depth):
  """Returns `depth(d)`: `d` scaled by `depth_multiplier`, never below `min_depth`.

  Raises:
    ValueError: `depth_multiplier` is not positive.
  """
  if depth_multiplier <= 0:
    raise ValueError(f'depth_multiplier must be greater than zero, got {depth_multiplier}')
  return lambda depth: max(int(depth * depth_multiplier), min_depth)


class Context:
  """How specs become layers in one build: channel scaling and the channel axis."""

  def __init__(self, depth=None, concat_axis=3):
    self.depth = depth or (lambda d: d)
    self.concat_axis = concat_axis


def _pair(kernel):
  return tuple(kernel) if isinstance(kernel, (list, tuple)) else (kernel, kernel)


def _min_input(size, kernel, stride, padding):
  """Smallest input side that leaves an output of side `size` after one layer."""
  if padding == SAME:
    return (size - 1) * stride + 1
  return (size - 1) * stride + max(kernel)


class Conv:
  """A `slim.conv2d` (with the arg scope's normalizer and activation).

  Args:
    depth: output channels before `Context.depth` scales them.
    kernel: side, or (height, width).
    tag: the TF-Slim position tag ('0a', '1a', ...) that names it `Conv2d_<tag>_<h>x<w>`.
    stride, padding: as in `slim.conv2d`.
    name: the scope, where TF-Slim's name does not follow the pattern; without a tag and a
      name the scope is the end point's name.
    stddev: a truncated-normal initializer instead of the arg scope's, where TF-Slim uses one.
  """

  def __init__(self, depth, kernel, tag=None, stride=1, padding=SAME, name=None, stddev=None):
    self.depth, self.kernel = depth, _pair(kernel)
    self.stride, self.padding, self.stddev = stride, padding, stddev
    if name is None and tag is not None:
      name = f'Conv2d_{tag}_{self.kernel[0]}x{self.kernel[1]}'
    self.name = name

  def build(self, net, scope, ctx):
    extra = {'weights_initializer': trunc_normal(self.stddev)} if self.stddev else {}
    return slim.conv2d(net, ctx.depth(self.depth), list(self.kernel), stride=self.stride,
                       padding=self.padding, scope=self.name or scope, **extra)

  def min_input(self, size):
    return _min_input(size, self.kernel, self.stride, self.padding)


class _Pool:
  kind, layer = None, None

  def __init__(self, kernel, tag=None, stride=1, padding=SAME, name=None):
    self.kernel, self.stride, self.padding = _pair(kernel), stride, padding
    if name is None and tag is not None:
      name = f'{self.kind}Pool_{tag}_{self.kernel[0]}x{self.kernel[1]}'
    self.name = name

  def build(self, net, scope, ctx):
    del ctx
    return type(self).layer(net, list(self.kernel), stride=self.stride, padding=self.padding,
                            scope=self.name or scope)

  def min_input(self, size):
    return _min_input(size, self.kernel, self.stride, self.padding)


class MaxPool(_Pool):
  """A `slim.max_pool2d`, named `MaxPool_<tag>_<h>x<w>`."""
  kind, layer = 'Max', slim.max_pool2d


class AvgPool(_Pool):
  """A `slim.avg_pool2d`, named `AvgPool_<tag>_<h>x<w>`."""
  kind, layer = 'Avg', slim.avg_pool2d


def _chain_min_input(chain, size):
  for layer in reversed(chain):
    size = layer.min_input(size)
  return size


class Concat:
  """Layers that all read the same input, their outputs concatenated (a split branch)."""

  def __init__(self, *parts):
    self.parts = parts

  def build(self, net, scope, ctx):
    del scope
    return tf.concat([part.build(net, None, ctx) for part in self.parts],
                     axis=ctx.concat_axis)

  def min_input(self, size):
    return max(part.min_input(size) for part in self.parts)


class Module:
  """An Inception module: branches `Branch_0`, `Branch_1`, ... concatenated."""

  def __init__(self, *branches):
    self.branches = tuple(tuple(branch) for branch in branches)

  def build(self, net, scope, ctx):
    with tf1.variable_scope(scope):
      return self.concat_branches(net, ctx)

  def concat_branches(self, net, ctx):
    """The branches in the current scope, concatenated."""
    outputs = []
    for index, branch in enumerate(self.branches):
      with tf1.variable_scope(f'Branch_{index}'):
        output = net
        for layer in branch:
          output = layer.build(output, None, ctx)
      outputs.append(output)
    return tf.concat(outputs, axis=ctx.concat_axis)

  def min_input(self, size):
    return max(_chain_min_input(branch, size) for branch in self.branches)


def end_point_names(blocks):
  """The end points of a table of `(end_point, block)` rows (None: not an end point)."""
  return [name for name, _ in blocks if name]


def check_final_endpoint(blocks, final_endpoint, net_name):
  """Raises a clear ValueError unless `final_endpoint` names a row of `blocks`."""
  names = end_point_names(blocks)
  if final_endpoint not in names:
    raise ValueError(f'{net_name}: unknown final_endpoint {final_endpoint!r}; expected one '
                     f'of {", ".join(names)}')


def build_blocks(net, blocks, final_endpoint, ctx):
  """Builds the rows of `blocks` up to and including `final_endpoint`.

  A block is any spec with `build(net, scope, ctx)`; a row `(end_point, block)` builds it in
  the scope named `end_point` (or the block's own `scope`) and records its output.

  Returns:
    (net, end_points), end_points in build order.
  """
  end_points = {}
  for name, block in blocks:
    net = block.build(net, getattr(block, 'scope', None) or name, ctx)
    if name:
      end_points[name] = net
      if name == final_endpoint:
        break
  return net, end_points


def min_input_size(blocks, end_point, size=1):
  """Smallest square input for which `end_point`'s output is at least `size` x `size`."""
  names = [name for name, _ in blocks]
  for _, block in reversed(blocks[:names.index(end_point) + 1]):
    size = block.min_input(size)
  return size


def reduced_kernel_size(net, kernel_size):
  """`kernel_size`, clipped to the static spatial size of `net` (kept if unknown).

  A pooling or convolution whose kernel is the whole map at the default size then still
  reduces a smaller map to 1x1, so the nets run on inputs smaller than their default.
  """
  height, width = net.shape[1], net.shape[2]
  if height is None or width is None:
    return list(kernel_size)
  return [min(height, kernel_size[0]), min(width, kernel_size[1])]


def predictions(logits, prediction_fn, scope='Predictions'):
  """`prediction_fn(logits)` named like TF-Slim's (`slim.softmax` takes a scope)."""
  if prediction_fn is slim.softmax:
    return slim.softmax(logits, scope=scope)
  return prediction_fn(logits)


def conv_logits(net, end_points, *, net_name, num_classes, dropout_keep_prob,
                spatial_squeeze, global_pool, prediction_fn, pool_kernel):
  """The classifier of Inception v2 and v3: average pool, dropout, 1x1 conv to the logits.

  The pool's kernel is `pool_kernel` clipped to the map, so that smaller inputs still
  give one vector per image; dropout takes `is_training` from the arg scope.

  Returns:
    (logits, end_points), or the pooled features when num_classes is 0 or None.
  """
  with tf1.variable_scope('Logits'):
    if global_pool:
      net = tf.reduce_mean(net, [1, 2], keepdims=True, name='GlobalPool')
      end_points['global_pool'] = net
    else:
      kernel = reduced_kernel_size(net, pool_kernel)
      net = slim.avg_pool2d(net, kernel, padding=VALID,
                            scope='AvgPool_1a_{}x{}'.format(*kernel))
      end_points['AvgPool_1a'] = net
    if not num_classes:
      return net, end_points
    net = slim.dropout(net, keep_prob=dropout_keep_prob, scope='Dropout_1b')
    end_points['PreLogits'] = net
    logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                         scope='Conv2d_1c_1x1')
    if spatial_squeeze:
      logits = layers.squeeze_spatial(logits, net_name, name='SpatialSqueeze')
  end_points['Logits'] = logits
  end_points['Predictions'] = predictions(logits, prediction_fn)
  return logits, end_points


def global_average_pool(net, scope):
  """Averages each map to 1x1: a pool over the whole (static) map, else a mean."""
  kernel = net.shape[1:3]
  if kernel.is_fully_defined():
    return slim.avg_pool2d(net, kernel.as_list(), padding=VALID, scope=scope)
  return tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')


def fc_aux_logits(net, num_classes, *, pool_scope, conv_scope, logits_scope):
  """The auxiliary classifier of Inception-v4 and Inception-ResNet-v2.

  5x5 average pool (stride 3), 128 1x1 conv, 768 conv over the whole remaining map, fully
  connected logits. As in TF-Slim the 768 conv's kernel is the map's size (5x5 at 299).

  Raises:
    ValueError: the spatial size of `net` is not known statically.
  """
  net = slim.avg_pool2d(net, [5, 5], stride=3, padding=VALID, scope=pool_scope)
  net = slim.conv2d(net, 128, [1, 1], scope='Conv2d_1b_1x1')
  kernel = net.shape[1:3]
  if not kernel.is_fully_defined():
    raise ValueError(f'{tf1.get_variable_scope().name}: the auxiliary logits need a static '
                     'image size; pass create_aux_logits=False for images of unknown size')
  net = slim.conv2d(net, 768, kernel.as_list(), padding=VALID, scope=conv_scope)
  net = slim.flatten(net)
  return slim.fully_connected(net, num_classes, activation_fn=None, scope=logits_scope)
