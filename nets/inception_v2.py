"""Inception v2 (BN-Inception), as TF-Slim defines it.

Ioffe, Szegedy: "Batch Normalization: Accelerating Deep Network Training by Reducing
Internal Covariate Shift", ICML 2015 (Figure 5 / the Inception table of the appendix). The
5x5 convolutions of Inception v1 become two stacked 3x3 ("double 3x3"), every layer is
batch-normalized, and modules 3c and 4e reduce the grid with stride-2 branches next to a
max pool. TF-Slim's checkpoint makes the 7x7 root convolution depthwise-separable; pass
`use_separable_conv=False` for the plain convolution of the paper.

Usage:
  with slim.arg_scope(inception_v2.inception_v2_arg_scope()):
    logits, end_points = inception_v2.inception_v2(images, num_classes=1001)
  features, end_points = inception_v2.inception_v2_base(images, final_endpoint='Mixed_4e')
"""

import tensorflow as tf
import tf_slim as slim

from . import inception_utils
from . import input_checks
from . import layers
from . import registry
from .inception_utils import AvgPool, Conv, MaxPool, Module

tf1 = tf.compat.v1

PAPER = ('Ioffe, Szegedy, Batch Normalization: Accelerating Deep Network Training by '
         'Reducing Internal Covariate Shift, ICML 2015')

inception_v2_arg_scope = inception_utils.inception_arg_scope


class SeparableConv(Conv):
  """The root's 7x7 convolution, depthwise then pointwise.

  The depthwise step makes at most 8 channels per input channel, and never more channels
  than the pointwise step outputs, so that the factorization stays cheaper than the conv.
  Outside the arg scope's normalizer, as in TF-Slim: a bias and a ReLU, no batch norm.
  """

  def build(self, net, scope, ctx):
    depth = ctx.depth(self.depth)
    depthwise_multiplier = min(depth // net.shape[-1], 8)
    return slim.separable_conv2d(
        net, depth, list(self.kernel), depth_multiplier=depthwise_multiplier,
        stride=self.stride, padding=self.padding,
        weights_initializer=inception_utils.trunc_normal(self.stddev), scope=scope)


def _module(conv_1x1, reduce_3x3, conv_3x3, reduce_double, conv_double, pool, pool_proj):
  """A row of the paper's table: #1x1, #3x3 reduce, #3x3, double #3x3 reduce and double
  #3x3, pool + proj."""
  return Module(
      [Conv(conv_1x1, 1, '0a')],
      [Conv(reduce_3x3, 1, '0a', stddev=0.09), Conv(conv_3x3, 3, '0b')],
      [Conv(reduce_double, 1, '0a', stddev=0.09), Conv(conv_double, 3, '0b'),
       Conv(conv_double, 3, '0c')],
      [pool(3, '0a'), Conv(pool_proj, 1, '0b', stddev=0.1)])


def _reduction(reduce_3x3, conv_3x3, reduce_double, conv_double):
  """A "pass through" row: stride-2 3x3 and double 3x3 branches beside a 3x3 max pool."""
  return Module(
      [Conv(reduce_3x3, 1, '0a', stddev=0.09), Conv(conv_3x3, 3, '1a', stride=2)],
      [Conv(reduce_double, 1, '0a', stddev=0.09), Conv(conv_double, 3, '0b'),
       Conv(conv_double, 3, '1a', stride=2)],
      [MaxPool(3, '1a', stride=2)])


def _root_block(use_separable_conv):
  root_conv = SeparableConv if use_separable_conv else Conv
  return (
      ('Conv2d_1a_7x7', root_conv(64, 7, stride=2, stddev=1.0)),
      ('MaxPool_2a_3x3', MaxPool(3, stride=2)),
      ('Conv2d_2b_1x1', Conv(64, 1, stddev=0.1)),
      ('Conv2d_2c_3x3', Conv(192, 3)),
      ('MaxPool_3a_3x3', MaxPool(3, stride=2)),
  )


# The paper's 3a..5b are TF-Slim's Mixed_3b..Mixed_5c.
MODULES = (
    ('Mixed_3b', _module(64, 64, 64, 64, 96, AvgPool, 32)),
    ('Mixed_3c', _module(64, 64, 96, 64, 96, AvgPool, 64)),
    ('Mixed_4a', _reduction(128, 160, 64, 96)),
    ('Mixed_4b', _module(224, 64, 96, 96, 128, AvgPool, 128)),
    ('Mixed_4c', _module(192, 96, 128, 96, 128, AvgPool, 128)),
    ('Mixed_4d', _module(160, 128, 160, 128, 160, AvgPool, 96)),
    ('Mixed_4e', _module(96, 128, 192, 160, 192, AvgPool, 96)),
    ('Mixed_5a', _reduction(128, 192, 192, 256)),
    ('Mixed_5b', _module(352, 192, 320, 160, 224, AvgPool, 128)),
    ('Mixed_5c', _module(352, 192, 320, 192, 224, MaxPool, 128)),
)

BLOCKS = _root_block(True) + MODULES

# Every layer is padded and the final pooling shrinks to the map: any size builds.
MIN_IMAGE_SIZE = inception_utils.min_input_size(BLOCKS, 'Mixed_5c')


def inception_v2_base(inputs, final_endpoint='Mixed_5c', min_depth=16, depth_multiplier=1.0,
                      use_separable_conv=True, data_format='NHWC', include_root_block=True,
                      scope=None):
  """Inception v2 up to `final_endpoint`.

  Args:
    inputs: a tensor of size [batch_size, height, width, channels] ([batch_size, channels,
      height, width] with data_format='NCHW').
    final_endpoint: the block to stop after, one of `BLOCKS`' end points.
    min_depth: fewest channels of any convolution when depth_multiplier < 1.
    depth_multiplier: scales the channels of every convolution.
    use_separable_conv: depthwise-separable root convolution, as in TF-Slim's checkpoint.
    data_format: 'NHWC' or 'NCHW' (GPU only; needs use_separable_conv=False).
    include_root_block: build the layers before Mixed_3b; without them `inputs` feeds
      Mixed_3b directly.
    scope: optional variable scope.

  Returns:
    (net, end_points): the output of `final_endpoint` and the outputs of all blocks up to it.

  Raises:
    ValueError: unknown `final_endpoint` or data_format, depth_multiplier <= 0, a
      separable root with NCHW, or bad images.
  """
  depth = inception_utils.depth_fn(depth_multiplier, min_depth)
  if data_format not in ('NHWC', 'NCHW'):
    raise ValueError(f"InceptionV2: data_format must be 'NHWC' or 'NCHW', got {data_format!r}")
  if data_format == 'NCHW' and use_separable_conv and include_root_block:
    raise ValueError('InceptionV2: the separable root convolution needs NHWC; pass '
                     'use_separable_conv=False for NCHW')
  blocks = (_root_block(use_separable_conv) if include_root_block else ()) + MODULES
  inception_utils.check_final_endpoint(blocks, final_endpoint, 'InceptionV2')
  inputs = tf.convert_to_tensor(inputs)
  inception_utils.check_inputs(
      inputs if data_format == 'NHWC' else tf.transpose(inputs, [0, 2, 3, 1]),
      'InceptionV2', inception_utils.min_input_size(blocks, final_endpoint),
      images=include_root_block)
  context = inception_utils.Context(depth, concat_axis=3 if data_format == 'NHWC' else 1)
  with tf1.variable_scope(scope, 'InceptionV2', [inputs]):
    with slim.arg_scope([slim.conv2d, slim.separable_conv2d, slim.max_pool2d,
                         slim.avg_pool2d, layers.batch_norm], data_format=data_format):
      return inception_utils.build_blocks(inputs, blocks, final_endpoint, context)


@registry.register('inception_v2', arg_scope=inception_v2_arg_scope, default_image_size=224,
                   min_image_size=MIN_IMAGE_SIZE, preprocessing='inception', num_classes=1001,
                   logits_scope='InceptionV2/Logits', paper=PAPER)
def inception_v2(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.8,
                 min_depth=16, depth_multiplier=1.0, prediction_fn=slim.softmax,
                 spatial_squeeze=True, reuse=None, scope='InceptionV2', global_pool=False,
                 use_separable_conv=True):
  """Inception v2 classifier.

  Args:
    inputs: a tensor of size [batch_size, height, width, channels]; below 224 the final
      7x7 pooling shrinks to the map.
    num_classes: number of predicted classes; 0 or None returns the pooled features.
    is_training: batch statistics and dropout when true.
    dropout_keep_prob: probability of keeping an activation before the logits.
    min_depth: fewest channels of any convolution when depth_multiplier < 1.
    depth_multiplier: scales the channels of every convolution.
    prediction_fn: turns the logits into `end_points['Predictions']`.
    spatial_squeeze: squeeze the logits to [batch_size, num_classes].
    reuse: reuse the variables of `scope`.
    scope: optional variable scope.
    global_pool: average the final map over space (for inputs larger than 224).
    use_separable_conv: depthwise-separable root convolution, as in TF-Slim's checkpoint.

  Returns:
    net: the logits, or the pooled features when num_classes is 0 or None.
    end_points: a dict of the blocks' outputs.
  """
  input_checks.check_flags(scope or 'InceptionV2', spatial_squeeze=spatial_squeeze,
                           global_pool=global_pool, use_separable_conv=use_separable_conv)
  inputs = input_checks.check_images(inputs, scope or 'InceptionV2', MIN_IMAGE_SIZE)
  with tf1.variable_scope(scope, 'InceptionV2', [inputs], reuse=reuse) as sc:
    with slim.arg_scope([layers.batch_norm, slim.dropout], is_training=is_training):
      net, end_points = inception_v2_base(
          inputs, scope=sc, min_depth=min_depth, depth_multiplier=depth_multiplier,
          use_separable_conv=use_separable_conv)
      return inception_utils.conv_logits(
          net, end_points, net_name=sc.name, num_classes=num_classes,
          dropout_keep_prob=dropout_keep_prob, spatial_squeeze=spatial_squeeze,
          global_pool=global_pool, prediction_fn=prediction_fn, pool_kernel=[7, 7])
