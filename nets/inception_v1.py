"""Inception v1 (GoogLeNet), as TF-Slim defines it, with batch normalization.

Szegedy et al.: "Going Deeper with Convolutions", CVPR 2015. The modules follow the paper's
Table 1; like TF-Slim (and its published checkpoint), the "5x5" branch uses a 3x3
convolution, every convolution is batch-normalized, and there are no auxiliary classifiers.

Usage:
  with slim.arg_scope(inception_v1.inception_v1_arg_scope()):
    logits, end_points = inception_v1.inception_v1(images, num_classes=1001)
  features, end_points = inception_v1.inception_v1_base(images, final_endpoint='Mixed_4f')
"""

import tensorflow as tf
import tf_slim as slim

from . import inception_utils
from . import input_checks
from . import layers
from . import registry
from .inception_utils import Conv, MaxPool, Module

tf1 = tf.compat.v1

PAPER = 'Szegedy et al., Going Deeper with Convolutions, CVPR 2015'

inception_v1_arg_scope = inception_utils.inception_arg_scope


def _module(conv_1x1, reduce_3x3, conv_3x3, reduce_5x5, conv_5x5, pool_proj,
            name_5x5='Conv2d_0b_3x3'):
  """One row of Table 1; TF-Slim's checkpoint names the 5x5 branch's 3x3 conv once oddly."""
  return Module(
      [Conv(conv_1x1, 1, '0a')],
      [Conv(reduce_3x3, 1, '0a'), Conv(conv_3x3, 3, '0b')],
      [Conv(reduce_5x5, 1, '0a'), Conv(conv_5x5, 3, name=name_5x5)],
      [MaxPool(3, '0a'), Conv(pool_proj, 1, '0b')])


ROOT_BLOCK = (
    ('Conv2d_1a_7x7', Conv(64, 7, stride=2)),
    ('MaxPool_2a_3x3', MaxPool(3, stride=2)),
    ('Conv2d_2b_1x1', Conv(64, 1)),
    ('Conv2d_2c_3x3', Conv(192, 3)),
    ('MaxPool_3a_3x3', MaxPool(3, stride=2)),
)

# Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
MODULES = (
    ('Mixed_3b', _module(64, 96, 128, 16, 32, 32)),
    ('Mixed_3c', _module(128, 128, 192, 32, 96, 64)),
    ('MaxPool_4a_3x3', MaxPool(3, stride=2)),
    ('Mixed_4b', _module(192, 96, 208, 16, 48, 64)),
    ('Mixed_4c', _module(160, 112, 224, 24, 64, 64)),
    ('Mixed_4d', _module(128, 128, 256, 24, 64, 64)),
    ('Mixed_4e', _module(112, 144, 288, 32, 64, 64)),
    ('Mixed_4f', _module(256, 160, 320, 32, 128, 128)),
    ('MaxPool_5a_2x2', MaxPool(2, stride=2)),
    ('Mixed_5b', _module(256, 160, 320, 32, 128, 128, name_5x5='Conv2d_0a_3x3')),
    ('Mixed_5c', _module(384, 192, 384, 48, 128, 128)),
)

BLOCKS = ROOT_BLOCK + MODULES

# The classifier's 7x7 average pool is unpadded: Mixed_5c must be at least 7x7.
MIN_IMAGE_SIZE = inception_utils.min_input_size(BLOCKS, 'Mixed_5c', 7)


def inception_v1_base(inputs, final_endpoint='Mixed_5c', include_root_block=True,
                      scope='InceptionV1'):
  """Inception v1 up to `final_endpoint`.

  Args:
    inputs: a tensor of size [batch_size, height, width, channels].
    final_endpoint: the block to stop after, one of `BLOCKS`' end points.
    include_root_block: build the convolutions and poolings before Mixed_3b; without them
      `inputs` feeds Mixed_3b directly.
    scope: optional variable scope.

  Returns:
    (net, end_points): the output of `final_endpoint` and the outputs of all blocks up to it.

  Raises:
    ValueError: unknown `final_endpoint`, or bad images.
  """
  blocks = BLOCKS if include_root_block else MODULES
  inception_utils.check_final_endpoint(blocks, final_endpoint, 'InceptionV1')
  inputs = inception_utils.check_inputs(
      inputs, 'InceptionV1', inception_utils.min_input_size(blocks, final_endpoint),
      images=include_root_block)
  with tf1.variable_scope(scope, 'InceptionV1', [inputs]):
    with slim.arg_scope([slim.conv2d, slim.fully_connected],
                        weights_initializer=inception_utils.trunc_normal(0.01)):
      return inception_utils.build_blocks(inputs, blocks, final_endpoint,
                                          inception_utils.Context())


@registry.register('inception_v1', arg_scope=inception_v1_arg_scope, default_image_size=224,
                   min_image_size=MIN_IMAGE_SIZE, preprocessing='inception', num_classes=1001,
                   logits_scope='InceptionV1/Logits', paper=PAPER)
def inception_v1(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.8,
                 prediction_fn=slim.softmax, spatial_squeeze=True, reuse=None,
                 scope='InceptionV1', global_pool=False):
  """Inception v1 classifier.

  Args:
    inputs: a tensor of size [batch_size, height, width, channels]; 193 to 224 pixels give
      the 7x7 map the final pooling expects (any size with global_pool=True).
    num_classes: number of predicted classes; 0 or None returns the pooled features.
    is_training: batch statistics and dropout when true.
    dropout_keep_prob: probability of keeping an activation before the logits.
    prediction_fn: turns the logits into `end_points['Predictions']`.
    spatial_squeeze: squeeze the logits to [batch_size, num_classes].
    reuse: reuse the variables of `scope`.
    scope: optional variable scope.
    global_pool: average the final map over space instead of the fixed 7x7 pooling.

  Returns:
    net: the logits, or the pooled features when num_classes is 0 or None.
    end_points: a dict of the blocks' outputs.
  """
  input_checks.check_flags(scope or 'InceptionV1', spatial_squeeze=spatial_squeeze,
                           global_pool=global_pool)
  min_size = inception_utils.min_input_size(BLOCKS, 'Mixed_5c', 1 if global_pool else 7)
  inputs = input_checks.check_images(inputs, scope or 'InceptionV1', min_size)
  with tf1.variable_scope(scope, 'InceptionV1', [inputs], reuse=reuse) as sc:
    with slim.arg_scope([layers.batch_norm, slim.dropout], is_training=is_training):
      net, end_points = inception_v1_base(inputs, scope=sc)
      with tf1.variable_scope('Logits'):
        if global_pool:
          net = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
          end_points['global_pool'] = net
        else:
          net = slim.avg_pool2d(net, [7, 7], stride=1, padding='VALID',
                                scope='AvgPool_0a_7x7')
          end_points['AvgPool_0a_7x7'] = net
        if not num_classes:
          return net, end_points
        net = slim.dropout(net, dropout_keep_prob, scope='Dropout_0b')
        logits = slim.conv2d(net, num_classes, [1, 1], activation_fn=None,
                             normalizer_fn=None, scope='Conv2d_0c_1x1')
        if spatial_squeeze:
          logits = layers.squeeze_spatial(logits, sc.name, name='SpatialSqueeze')
        end_points['Logits'] = logits
        end_points['Predictions'] = inception_utils.predictions(logits, prediction_fn)
  return logits, end_points
