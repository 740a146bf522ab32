"""MobileNet v1: mobilenet_v1 and its 0.75 / 0.5 / 0.25 width variants, as TF-Slim has them.

Howard et al.: "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision
Applications", arXiv:1704.04861, 2017. A full 3x3 convolution followed by 13 depthwise
separable convolutions (a 3x3 depthwise convolution, then a 1x1 pointwise one, each batch
normalized and followed by ReLU6), average pooling and a 1x1 convolution as classifier.
`MOBILENETV1_CONV_DEFS` is the paper's Table 1.

The width multiplier alpha (`depth_multiplier`, Section 3.3) thins every layer: a layer of
N channels gets int(alpha * N), but never fewer than `min_depth`. The published
checkpoints of all four widths keep the scope 'MobilenetV1', use 1001 classes and
Inception preprocessing.

Usage:
  with slim.arg_scope(mobilenet_v1.mobilenet_v1_arg_scope(is_training=False)):
    logits, end_points = mobilenet_v1.mobilenet_v1_050(images, num_classes=1001,
                                                       is_training=False)
  # Features at stride 16 for detection:
  net, end_points = mobilenet_v1.mobilenet_v1_base(images, output_stride=16)
"""

import collections

import tensorflow as tf
import tf_slim as slim

from . import input_checks
from . import layers
from . import registry
from . import resnet_utils

tf1 = tf.compat.v1

PAPER = ('Howard et al., MobileNets: Efficient Convolutional Neural Networks for Mobile '
         'Vision Applications, arXiv:1704.04861, 2017')

# A full convolution, and a depthwise separable one (depthwise kernel, then 1x1 to depth).
Conv = collections.namedtuple('Conv', ['kernel', 'stride', 'depth'])
DepthSepConv = collections.namedtuple('DepthSepConv', ['kernel', 'stride', 'depth'])

# The paper's Table 1 (layer i is end point Conv2d_i, or Conv2d_i_depthwise/_pointwise).
MOBILENETV1_CONV_DEFS = [
    Conv(kernel=[3, 3], stride=2, depth=32),
    DepthSepConv(kernel=[3, 3], stride=1, depth=64),
    DepthSepConv(kernel=[3, 3], stride=2, depth=128),
    DepthSepConv(kernel=[3, 3], stride=1, depth=128),
    DepthSepConv(kernel=[3, 3], stride=2, depth=256),
    DepthSepConv(kernel=[3, 3], stride=1, depth=256),
    DepthSepConv(kernel=[3, 3], stride=2, depth=512),
    DepthSepConv(kernel=[3, 3], stride=1, depth=512),
    DepthSepConv(kernel=[3, 3], stride=1, depth=512),
    DepthSepConv(kernel=[3, 3], stride=1, depth=512),
    DepthSepConv(kernel=[3, 3], stride=1, depth=512),
    DepthSepConv(kernel=[3, 3], stride=1, depth=512),
    DepthSepConv(kernel=[3, 3], stride=2, depth=1024),
    DepthSepConv(kernel=[3, 3], stride=1, depth=1024),
]


def _padded(net, kernel, rate, use_explicit_padding):
  """`net` padded for a VALID convolution when padding is explicit (see fixed_padding)."""
  if not use_explicit_padding:
    return net
  if kernel[0] != kernel[1]:
    raise ValueError(f'use_explicit_padding needs square kernels, got {kernel}')
  return resnet_utils.fixed_padding(net, kernel[0], rate)


def _endpoint_names(conv_defs):
  """The end point names of the layers `conv_defs` describes, in order."""
  names = []
  for index, conv_def in enumerate(conv_defs):
    if isinstance(conv_def, DepthSepConv):
      names += [f'Conv2d_{index}_depthwise', f'Conv2d_{index}_pointwise']
    elif isinstance(conv_def, Conv):
      names.append(f'Conv2d_{index}')
    else:
      raise ValueError(f'unknown conv_def {conv_def!r}: expected Conv or DepthSepConv')
  return names


def mobilenet_v1_base(inputs,
                      final_endpoint='Conv2d_13_pointwise',
                      min_depth=8,
                      depth_multiplier=1.0,
                      conv_defs=None,
                      output_stride=None,
                      use_explicit_padding=False,
                      scope=None):
  """The MobileNet v1 convolutions, from the input up to `final_endpoint`.

  Args:
    inputs: a [batch, height, width, channels] tensor.
    final_endpoint: the last layer to build: 'Conv2d_0', 'Conv2d_<i>_depthwise' or
      'Conv2d_<i>_pointwise' for i in 1..13 (with the default conv_defs).
    min_depth: the fewest channels a layer gets when depth_multiplier thins it.
    depth_multiplier: the paper's width multiplier alpha, > 0.
    conv_defs: a list of `Conv` / `DepthSepConv`; MOBILENETV1_CONV_DEFS by default.
    output_stride: 8, 16 or 32: once the running stride reaches it, later strides become
      dilations (atrous convolution), for dense prediction. None means 32.
    use_explicit_padding: pad evenly and convolve with VALID, so the output does not
      depend on the parity of the input size (see resnet_utils.fixed_padding).
    scope: variable scope; 'MobilenetV1' by default.

  Returns:
    net: the output of `final_endpoint`.
    end_points: the layers' outputs up to it, in order.

  Raises:
    ValueError: depth_multiplier <= 0, an unknown final_endpoint or output_stride.
  """
  if depth_multiplier <= 0:
    raise ValueError(f'depth_multiplier must be greater than zero, got {depth_multiplier}')
  if output_stride not in (None, 8, 16, 32):
    raise ValueError(f'output_stride must be 8, 16 or 32, got {output_stride}')
  conv_defs = conv_defs or MOBILENETV1_CONV_DEFS
  endpoint_names = _endpoint_names(conv_defs)
  # Checked up front so that a typo does not build the whole net before failing.
  if final_endpoint not in endpoint_names:
    raise ValueError(f'unknown final_endpoint {final_endpoint!r}; expected one of '
                     f'{", ".join(endpoint_names)}')

  def depth(channels):
    return max(int(channels * depth_multiplier), min_depth)

  padding = 'VALID' if use_explicit_padding else 'SAME'
  end_points = collections.OrderedDict()
  current_stride = 1
  rate = 1
  net = inputs
  with tf1.variable_scope(scope, 'MobilenetV1', [inputs]):
    with slim.arg_scope([slim.conv2d, slim.separable_conv2d], padding=padding):
      for index, conv_def in enumerate(conv_defs):
        if output_stride is not None and current_stride == output_stride:
          layer_stride, layer_rate = 1, rate
          rate *= conv_def.stride
        else:
          layer_stride, layer_rate = conv_def.stride, 1
          current_stride *= conv_def.stride

        if isinstance(conv_def, Conv):
          end_point = f'Conv2d_{index}'
          net = slim.conv2d(_padded(net, conv_def.kernel, layer_rate, use_explicit_padding),
                            depth(conv_def.depth), conv_def.kernel, stride=layer_stride,
                            rate=layer_rate, scope=end_point)
          end_points[end_point] = net
          if end_point == final_endpoint:
            return net, end_points
        elif isinstance(conv_def, DepthSepConv):
          end_point = f'Conv2d_{index}_depthwise'
          # num_outputs=None: only the depthwise filter, one per input channel.
          net = slim.separable_conv2d(
              _padded(net, conv_def.kernel, layer_rate, use_explicit_padding), None,
              conv_def.kernel, depth_multiplier=1, stride=layer_stride, rate=layer_rate,
              scope=end_point)
          end_points[end_point] = net
          if end_point == final_endpoint:
            return net, end_points
          end_point = f'Conv2d_{index}_pointwise'
          net = slim.conv2d(net, depth(conv_def.depth), [1, 1], stride=1, scope=end_point)
          end_points[end_point] = net
          if end_point == final_endpoint:
            return net, end_points
  raise AssertionError(f'{final_endpoint} was checked but not built')


def _reduced_kernel_size_for_small_input(net, kernel_size):
  """The pooling kernel clipped to the map, so that inputs below 224 still pool to 1x1."""
  height, width = net.shape[1], net.shape[2]
  if height is None or width is None:
    return kernel_size
  return [min(height, kernel_size[0]), min(width, kernel_size[1])]


def mobilenet_v1_arg_scope(is_training=True,
                           weight_decay=0.00004,
                           stddev=0.09,
                           regularize_depthwise=False,
                           batch_norm_decay=0.9997,
                           batch_norm_epsilon=0.001,
                           batch_norm_updates_collections=tf1.GraphKeys.UPDATE_OPS,
                           normalizer_fn=layers.batch_norm):
  """Defaults of the MobileNet v1 layers, as the published checkpoints were trained.

  Args:
    is_training: batch statistics in batch normalization; None leaves it to the caller's
      arg_scope (the builders set it from their `is_training`).
    weight_decay: L2 regularization of the full and pointwise convolution weights.
    stddev: standard deviation of the truncated normal weight initializer.
    regularize_depthwise: regularize the depthwise filters too. The paper puts "very
      little or no weight decay" on them, since they have so few parameters.
    batch_norm_decay: decay of the moving statistics.
    batch_norm_epsilon: added to the variance.
    batch_norm_updates_collections: where the moving-average updates go.
    normalizer_fn: the normalization after each convolution.

  Returns:
    An arg_scope for the MobileNet v1 builders.
  """
  batch_norm_params = {
      'center': True,
      'scale': True,
      'decay': batch_norm_decay,
      'epsilon': batch_norm_epsilon,
      'updates_collections': batch_norm_updates_collections,
  }
  if is_training is not None:
    batch_norm_params['is_training'] = is_training
  regularizer = slim.l2_regularizer(weight_decay)
  with slim.arg_scope([slim.conv2d, slim.separable_conv2d],
                      weights_initializer=tf1.truncated_normal_initializer(stddev=stddev),
                      activation_fn=tf.nn.relu6, normalizer_fn=normalizer_fn):
    with slim.arg_scope([layers.batch_norm], **batch_norm_params):
      with slim.arg_scope([slim.conv2d], weights_regularizer=regularizer):
        with slim.arg_scope([slim.separable_conv2d],
                            weights_regularizer=regularizer if regularize_depthwise
                            else None) as sc:
          return sc


# What every MobileNet v1 shares in the registry: the widths keep the scope 'MobilenetV1'.
# Every layer pads and the pool shrinks to the map, so any size builds.
_REGISTRY_FIELDS = dict(arg_scope=mobilenet_v1_arg_scope, default_image_size=224,
                        min_image_size=1, preprocessing='inception', num_classes=1001,
                        logits_scope='MobilenetV1/Logits', paper=PAPER)


@registry.register('mobilenet_v1', **_REGISTRY_FIELDS)
def mobilenet_v1(inputs,
                 num_classes=1000,
                 dropout_keep_prob=0.999,
                 is_training=True,
                 min_depth=8,
                 depth_multiplier=1.0,
                 conv_defs=None,
                 prediction_fn=slim.softmax,
                 spatial_squeeze=True,
                 reuse=None,
                 scope='MobilenetV1',
                 global_pool=False,
                 use_explicit_padding=False):
  """MobileNet v1 with its classifier.

  Args:
    inputs: a [batch, height, width, channels] tensor; 224x224 as trained. Every layer
      pads and the 7x7 stride-2 pooling shrinks to smaller maps, so any size up to 256
      gives 1x1 logits; above it use global_pool=True.
    num_classes: classes of the 1x1 logits layer; 0 or None returns the pooled features.
    dropout_keep_prob: probability of keeping an activation before the logits.
    is_training: batch statistics and dropout.
    min_depth: the fewest channels a layer gets when depth_multiplier thins it.
    depth_multiplier: the paper's width multiplier alpha, > 0.
    conv_defs: a list of `Conv` / `DepthSepConv`; MOBILENETV1_CONV_DEFS by default. The
      classifier follows the last one.
    prediction_fn: maps the logits to end_points['Predictions'] (None: no predictions).
    spatial_squeeze: squeeze the logits to [batch, num_classes].
    reuse: reuse the variables of `scope`.
    scope: variable scope.
    global_pool: average the last map over space instead of a 7x7 pool (any input size).
    use_explicit_padding: see `mobilenet_v1_base`.

  Returns:
    net: the logits, or the pooled features when num_classes is 0 or None.
    end_points: the layers' outputs, in order, ending with 'Logits', 'Predictions'.

  Raises:
    ValueError: bad images or arguments, or a map larger than 1x1 to squeeze.
  """
  net_name = scope if isinstance(scope, str) else 'MobilenetV1'
  input_checks.check_flags(net_name, spatial_squeeze=spatial_squeeze, global_pool=global_pool,
                           use_explicit_padding=use_explicit_padding)
  # Every layer pads and the pool shrinks to the map, so any size builds.
  inputs = input_checks.check_images(inputs, net_name, 1)
  with tf1.variable_scope(scope, 'MobilenetV1', [inputs], reuse=reuse) as sc:
    with slim.arg_scope([layers.batch_norm, slim.dropout], is_training=is_training):
      # The classifier sits on the last layer of conv_defs, however many there are.
      final_endpoint = _endpoint_names(conv_defs or MOBILENETV1_CONV_DEFS)[-1]
      net, end_points = mobilenet_v1_base(inputs, final_endpoint, scope=sc,
                                          min_depth=min_depth,
                                          depth_multiplier=depth_multiplier,
                                          conv_defs=conv_defs,
                                          use_explicit_padding=use_explicit_padding)
      with tf1.variable_scope('Logits'):
        if global_pool:
          net = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
          end_points['global_pool'] = net
        else:
          # The paper's 7x7 average pool over the 224x224 input's last map.
          kernel_size = _reduced_kernel_size_for_small_input(net, [7, 7])
          net = slim.avg_pool2d(net, kernel_size, padding='VALID', scope='AvgPool_1a')
          end_points['AvgPool_1a'] = net
        if not num_classes:
          return net, end_points
        net = slim.dropout(net, keep_prob=dropout_keep_prob, scope='Dropout_1b')
        logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                             normalizer_fn=None, scope='Conv2d_1c_1x1')
        if spatial_squeeze:
          logits = layers.squeeze_spatial(logits, net_name, name='SpatialSqueeze')
      end_points['Logits'] = logits
      if prediction_fn:
        end_points['Predictions'] = prediction_fn(logits, scope='Predictions')
  return logits, end_points


@registry.register('mobilenet_v1_075', **_REGISTRY_FIELDS)
def mobilenet_v1_075(inputs, num_classes=1000, dropout_keep_prob=0.999, is_training=True,
                     min_depth=8, depth_multiplier=0.75, conv_defs=None, prediction_fn=slim.softmax,
                     spatial_squeeze=True, reuse=None, scope='MobilenetV1', global_pool=False,
                     use_explicit_padding=False):
  """MobileNet v1 at width 0.75; the arguments are `mobilenet_v1`'s."""
  return mobilenet_v1(inputs, num_classes, dropout_keep_prob, is_training, min_depth,
                      depth_multiplier, conv_defs, prediction_fn, spatial_squeeze, reuse,
                      scope, global_pool, use_explicit_padding)


@registry.register('mobilenet_v1_050', **_REGISTRY_FIELDS)
def mobilenet_v1_050(inputs, num_classes=1000, dropout_keep_prob=0.999, is_training=True,
                     min_depth=8, depth_multiplier=0.5, conv_defs=None, prediction_fn=slim.softmax,
                     spatial_squeeze=True, reuse=None, scope='MobilenetV1', global_pool=False,
                     use_explicit_padding=False):
  """MobileNet v1 at width 0.5; the arguments are `mobilenet_v1`'s."""
  return mobilenet_v1(inputs, num_classes, dropout_keep_prob, is_training, min_depth,
                      depth_multiplier, conv_defs, prediction_fn, spatial_squeeze, reuse,
                      scope, global_pool, use_explicit_padding)


@registry.register('mobilenet_v1_025', **_REGISTRY_FIELDS)
def mobilenet_v1_025(inputs, num_classes=1000, dropout_keep_prob=0.999, is_training=True,
                     min_depth=8, depth_multiplier=0.25, conv_defs=None, prediction_fn=slim.softmax,
                     spatial_squeeze=True, reuse=None, scope='MobilenetV1', global_pool=False,
                     use_explicit_padding=False):
  """MobileNet v1 at width 0.25; the arguments are `mobilenet_v1`'s."""
  return mobilenet_v1(inputs, num_classes, dropout_keep_prob, is_training, min_depth,
                      depth_multiplier, conv_defs, prediction_fn, spatial_squeeze, reuse,
                      scope, global_pool, use_explicit_padding)
