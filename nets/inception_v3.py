"""Inception v3, as TF-Slim defines it.

Szegedy et al.: "Rethinking the Inception Architecture for Computer Vision", CVPR 2016.
Three kinds of modules on three grids: 35x35 (Figure 5, with TF-Slim's extra 5x5 branch),
17x17 (Figure 6, n x n factorized into 1x7 and 7x1) and 8x8 (Figure 7, split 1x3 / 3x1
outputs), joined by the grid-size reductions of Figure 10. The stem is TF-Slim's (1x1 to 80
channels, as in the published checkpoint) rather than Table 1's. An auxiliary classifier
reads Mixed_6e.

Below 299x299 the final pooling and the auxiliary head shrink their kernels to the map, so
the net runs on inputs down to 75x75 (107x107 with the auxiliary head).

Usage:
  with slim.arg_scope(inception_v3.inception_v3_arg_scope()):
    logits, end_points = inception_v3.inception_v3(images, num_classes=1001)
  aux_logits = end_points['AuxLogits']
"""

import tensorflow as tf
import tf_slim as slim

from . import inception_utils
from . import input_checks
from . import layers
from . import registry
from .inception_utils import VALID, AvgPool, Concat, Conv, MaxPool, Module

tf1 = tf.compat.v1

PAPER = ('Szegedy et al., Rethinking the Inception Architecture for Computer Vision, '
         'CVPR 2016')

inception_v3_arg_scope = inception_utils.inception_arg_scope


def _module_35(pool_proj, branch_1=('Conv2d_0a_1x1', 'Conv2d_0b_5x5')):
  """Figure 5 plus a 1x1 -> 5x5 branch; one block of TF-Slim's checkpoint names it oddly."""
  return Module(
      [Conv(64, 1, '0a')],
      [Conv(48, 1, name=branch_1[0]), Conv(64, 5, name=branch_1[1])],
      [Conv(64, 1, '0a'), Conv(96, 3, '0b'), Conv(96, 3, '0c')],
      [AvgPool(3, '0a'), Conv(pool_proj, 1, '0b')])


def _module_17(width):
  """Figure 6 with n = 7: a 7x7 and a double 7x7, each factorized into 1x7 and 7x1."""
  return Module(
      [Conv(192, 1, '0a')],
      [Conv(width, 1, '0a'), Conv(width, (1, 7), '0b'), Conv(192, (7, 1), '0c')],
      [Conv(width, 1, '0a'), Conv(width, (7, 1), '0b'), Conv(width, (1, 7), '0c'),
       Conv(width, (7, 1), '0d'), Conv(192, (1, 7), '0e')],
      [AvgPool(3, '0a'), Conv(192, 1, '0b')])


def _module_8(split_tags=('0b', '0b')):
  """Figure 7: the 3x3 branches end in parallel 1x3 and 3x1 convolutions."""
  return Module(
      [Conv(320, 1, '0a')],
      [Conv(384, 1, '0a'),
       Concat(Conv(384, (1, 3), split_tags[0]), Conv(384, (3, 1), split_tags[1]))],
      [Conv(448, 1, '0a'), Conv(384, 3, '0b'),
       Concat(Conv(384, (1, 3), '0c'), Conv(384, (3, 1), '0d'))],
      [AvgPool(3, '0a'), Conv(192, 1, '0b')])


BLOCKS = (
    ('Conv2d_1a_3x3', Conv(32, 3, stride=2, padding=VALID)),
    ('Conv2d_2a_3x3', Conv(32, 3, padding=VALID)),
    ('Conv2d_2b_3x3', Conv(64, 3)),
    ('MaxPool_3a_3x3', MaxPool(3, stride=2, padding=VALID)),
    ('Conv2d_3b_1x1', Conv(80, 1, padding=VALID)),
    ('Conv2d_4a_3x3', Conv(192, 3, padding=VALID)),
    ('MaxPool_5a_3x3', MaxPool(3, stride=2, padding=VALID)),
    # 35 x 35
    ('Mixed_5b', _module_35(32)),
    ('Mixed_5c', _module_35(64, branch_1=('Conv2d_0b_1x1', 'Conv_1_0c_5x5'))),
    ('Mixed_5d', _module_35(64)),
    # Figure 10: 35 -> 17; TF-Slim's checkpoint calls both stride-2 3x3 convs "1x1".
    ('Mixed_6a', Module(
        [Conv(384, 3, stride=2, padding=VALID, name='Conv2d_1a_1x1')],
        [Conv(64, 1, '0a'), Conv(96, 3, '0b'),
         Conv(96, 3, stride=2, padding=VALID, name='Conv2d_1a_1x1')],
        [MaxPool(3, '1a', stride=2, padding=VALID)])),
    # 17 x 17
    ('Mixed_6b', _module_17(128)),
    ('Mixed_6c', _module_17(160)),
    ('Mixed_6d', _module_17(160)),
    ('Mixed_6e', _module_17(192)),
    # 17 -> 8
    ('Mixed_7a', Module(
        [Conv(192, 1, '0a'), Conv(320, 3, '1a', stride=2, padding=VALID)],
        [Conv(192, 1, '0a'), Conv(192, (1, 7), '0b'), Conv(192, (7, 1), '0c'),
         Conv(192, 3, '1a', stride=2, padding=VALID)],
        [MaxPool(3, '1a', stride=2, padding=VALID)])),
    # 8 x 8
    ('Mixed_7b', _module_8()),
    ('Mixed_7c', _module_8(split_tags=('0b', '0c'))),
)

# The auxiliary head's 5x5 pooling is unpadded: Mixed_6e must be at least 5x5.
MIN_IMAGE_SIZE_WITHOUT_AUX = inception_utils.min_input_size(BLOCKS, 'Mixed_7c')
MIN_IMAGE_SIZE = max(MIN_IMAGE_SIZE_WITHOUT_AUX,
                     inception_utils.min_input_size(BLOCKS, 'Mixed_6e', 5))


def inception_v3_base(inputs, final_endpoint='Mixed_7c', min_depth=16, depth_multiplier=1.0,
                      scope=None):
  """Inception v3 up to `final_endpoint`.

  Args:
    inputs: a tensor of size [batch_size, height, width, channels].
    final_endpoint: the block to stop after, one of `BLOCKS`' end points.
    min_depth: fewest channels of any convolution when depth_multiplier < 1.
    depth_multiplier: scales the channels of every convolution.
    scope: optional variable scope.

  Returns:
    (net, end_points): the output of `final_endpoint` and the outputs of all blocks up to it.

  Raises:
    ValueError: unknown `final_endpoint`, depth_multiplier <= 0, or bad images.
  """
  depth = inception_utils.depth_fn(depth_multiplier, min_depth)
  inception_utils.check_final_endpoint(BLOCKS, final_endpoint, 'InceptionV3')
  inputs = input_checks.check_images(inputs, 'InceptionV3',
                                     inception_utils.min_input_size(BLOCKS, final_endpoint))
  with tf1.variable_scope(scope, 'InceptionV3', [inputs]):
    return inception_utils.build_blocks(inputs, BLOCKS, final_endpoint,
                                        inception_utils.Context(depth))


def _aux_logits(net, num_classes, depth, spatial_squeeze, net_name):
  """Figure 8: pool, 1x1, then a conv over the remaining (5x5 at 299) map, to logits."""
  net = slim.avg_pool2d(net, [5, 5], stride=3, padding=VALID, scope='AvgPool_1a_5x5')
  net = slim.conv2d(net, depth(128), [1, 1], scope='Conv2d_1b_1x1')
  kernel = inception_utils.reduced_kernel_size(net, [5, 5])
  net = slim.conv2d(net, depth(768), kernel, padding=VALID,
                    weights_initializer=inception_utils.trunc_normal(0.01),
                    scope='Conv2d_2a_{}x{}'.format(*kernel))
  net = slim.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                    weights_initializer=inception_utils.trunc_normal(0.001),
                    scope='Conv2d_2b_1x1')
  if spatial_squeeze:
    net = layers.squeeze_spatial(net, net_name, name='SpatialSqueeze')
  return net


@registry.register('inception_v3', arg_scope=inception_v3_arg_scope, default_image_size=299,
                   min_image_size=MIN_IMAGE_SIZE, preprocessing='inception', num_classes=1001,
                   logits_scope='InceptionV3/Logits', aux_logits_scope='InceptionV3/AuxLogits',
                   paper=PAPER)
def inception_v3(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.8,
                 min_depth=16, depth_multiplier=1.0, prediction_fn=slim.softmax,
                 spatial_squeeze=True, reuse=None, create_aux_logits=True,
                 scope='InceptionV3', global_pool=False):
  """Inception v3 classifier.

  Args:
    inputs: a tensor of size [batch_size, height, width, channels], at least 75x75
      (107x107 with the auxiliary head).
    num_classes: number of predicted classes; 0 or None returns the pooled features.
    is_training: batch statistics and dropout when true.
    dropout_keep_prob: probability of keeping an activation before the logits.
    min_depth: fewest channels of any convolution when depth_multiplier < 1.
    depth_multiplier: scales the channels of every convolution.
    prediction_fn: turns the logits into `end_points['Predictions']`.
    spatial_squeeze: squeeze the logits to [batch_size, num_classes].
    reuse: reuse the variables of `scope`.
    create_aux_logits: build the auxiliary classifier on Mixed_6e (`end_points['AuxLogits']`,
      in training and inference graphs alike, as TF-Slim does).
    scope: optional variable scope.
    global_pool: average the final map over space (for inputs larger than 299).

  Returns:
    net: the logits, or the pooled features when num_classes is 0 or None.
    end_points: a dict of the blocks' outputs.
  """
  input_checks.check_flags(scope or 'InceptionV3', spatial_squeeze=spatial_squeeze,
                           create_aux_logits=create_aux_logits, global_pool=global_pool)
  with_aux = bool(create_aux_logits and num_classes)
  inputs = input_checks.check_images(inputs, scope or 'InceptionV3',
                                     MIN_IMAGE_SIZE if with_aux else MIN_IMAGE_SIZE_WITHOUT_AUX)
  depth = inception_utils.depth_fn(depth_multiplier, min_depth)
  with tf1.variable_scope(scope, 'InceptionV3', [inputs], reuse=reuse) as sc:
    with slim.arg_scope([layers.batch_norm, slim.dropout], is_training=is_training):
      net, end_points = inception_v3_base(inputs, scope=sc, min_depth=min_depth,
                                          depth_multiplier=depth_multiplier)
      if with_aux:
        with tf1.variable_scope('AuxLogits'):
          end_points['AuxLogits'] = _aux_logits(end_points['Mixed_6e'], num_classes, depth,
                                                spatial_squeeze, f'{sc.name}/AuxLogits')
      return inception_utils.conv_logits(
          net, end_points, net_name=sc.name, num_classes=num_classes,
          dropout_keep_prob=dropout_keep_prob, spatial_squeeze=spatial_squeeze,
          global_pool=global_pool, prediction_fn=prediction_fn, pool_kernel=[8, 8])
