"""Inception-v4, as TF-Slim defines it.

Szegedy, Ioffe, Vanhoucke, Alemi: "Inception-v4, Inception-ResNet and the Impact of
Residual Connections on Learning", AAAI 2017. Figure 9: the stem (Figure 3), 4 x
Inception-A (Figure 4), Reduction-A (Figure 7, k=192, l=224, m=256, n=384), 7 x
Inception-B (Figure 5), Reduction-B (Figure 8), 3 x Inception-C (Figure 6). As in TF-Slim's
checkpoint, the 7x7 and 3x3 factorizations of the double branches start with the 7x1 / 3x1
half. An auxiliary classifier reads Mixed_6h.

Usage:
  with slim.arg_scope(inception_v4.inception_v4_arg_scope()):
    logits, end_points = inception_v4.inception_v4(images, num_classes=1001)
"""

import tensorflow as tf
import tf_slim as slim

from . import inception_utils
from . import input_checks
from . import layers
from . import registry
from .inception_utils import VALID, AvgPool, Concat, Conv, MaxPool, Module

tf1 = tf.compat.v1

PAPER = ('Szegedy et al., Inception-v4, Inception-ResNet and the Impact of Residual '
         'Connections on Learning, AAAI 2017')

inception_v4_arg_scope = inception_utils.inception_arg_scope

INCEPTION_A = Module(
    [Conv(96, 1, '0a')],
    [Conv(64, 1, '0a'), Conv(96, 3, '0b')],
    [Conv(64, 1, '0a'), Conv(96, 3, '0b'), Conv(96, 3, '0c')],
    [AvgPool(3, '0a'), Conv(96, 1, '0b')])

REDUCTION_A = Module(
    [Conv(384, 3, '1a', stride=2, padding=VALID)],
    [Conv(192, 1, '0a'), Conv(224, 3, '0b'), Conv(256, 3, '1a', stride=2, padding=VALID)],
    [MaxPool(3, '1a', stride=2, padding=VALID)])

INCEPTION_B = Module(
    [Conv(384, 1, '0a')],
    [Conv(192, 1, '0a'), Conv(224, (1, 7), '0b'), Conv(256, (7, 1), '0c')],
    [Conv(192, 1, '0a'), Conv(192, (7, 1), '0b'), Conv(224, (1, 7), '0c'),
     Conv(224, (7, 1), '0d'), Conv(256, (1, 7), '0e')],
    [AvgPool(3, '0a'), Conv(128, 1, '0b')])

REDUCTION_B = Module(
    [Conv(192, 1, '0a'), Conv(192, 3, '1a', stride=2, padding=VALID)],
    [Conv(256, 1, '0a'), Conv(256, (1, 7), '0b'), Conv(320, (7, 1), '0c'),
     Conv(320, 3, '1a', stride=2, padding=VALID)],
    [MaxPool(3, '1a', stride=2, padding=VALID)])

INCEPTION_C = Module(
    [Conv(256, 1, '0a')],
    [Conv(384, 1, '0a'), Concat(Conv(256, (1, 3), '0b'), Conv(256, (3, 1), '0c'))],
    [Conv(384, 1, '0a'), Conv(448, (3, 1), '0b'), Conv(512, (1, 3), '0c'),
     Concat(Conv(256, (1, 3), '0d'), Conv(256, (3, 1), '0e'))],
    [AvgPool(3, '0a'), Conv(256, 1, '0b')])

BLOCKS = (
    # Figure 3, the stem: 299 -> 35.
    ('Conv2d_1a_3x3', Conv(32, 3, stride=2, padding=VALID)),
    ('Conv2d_2a_3x3', Conv(32, 3, padding=VALID)),
    ('Conv2d_2b_3x3', Conv(64, 3)),
    ('Mixed_3a', Module(
        [MaxPool(3, '0a', stride=2, padding=VALID)],
        [Conv(96, 3, '0a', stride=2, padding=VALID)])),
    ('Mixed_4a', Module(
        [Conv(64, 1, '0a'), Conv(96, 3, '1a', padding=VALID)],
        [Conv(64, 1, '0a'), Conv(64, (1, 7), '0b'), Conv(64, (7, 1), '0c'),
         Conv(96, 3, '1a', padding=VALID)])),
    ('Mixed_5a', Module(
        [Conv(192, 3, '1a', stride=2, padding=VALID)],
        [MaxPool(3, '1a', stride=2, padding=VALID)])),
    # 35 x 35
    ('Mixed_5b', INCEPTION_A),
    ('Mixed_5c', INCEPTION_A),
    ('Mixed_5d', INCEPTION_A),
    ('Mixed_5e', INCEPTION_A),
    ('Mixed_6a', REDUCTION_A),
    # 17 x 17
    ('Mixed_6b', INCEPTION_B),
    ('Mixed_6c', INCEPTION_B),
    ('Mixed_6d', INCEPTION_B),
    ('Mixed_6e', INCEPTION_B),
    ('Mixed_6f', INCEPTION_B),
    ('Mixed_6g', INCEPTION_B),
    ('Mixed_6h', INCEPTION_B),
    ('Mixed_7a', REDUCTION_B),
    # 8 x 8
    ('Mixed_7b', INCEPTION_C),
    ('Mixed_7c', INCEPTION_C),
    ('Mixed_7d', INCEPTION_C),
)

# The auxiliary head's 5x5 pooling is unpadded: Mixed_6h must be at least 5x5.
MIN_IMAGE_SIZE_WITHOUT_AUX = inception_utils.min_input_size(BLOCKS, 'Mixed_7d')
MIN_IMAGE_SIZE = max(MIN_IMAGE_SIZE_WITHOUT_AUX,
                     inception_utils.min_input_size(BLOCKS, 'Mixed_6h', 5))


def inception_v4_base(inputs, final_endpoint='Mixed_7d', scope=None):
  """Inception-v4 up to `final_endpoint`.

  Args:
    inputs: a tensor of size [batch_size, height, width, channels].
    final_endpoint: the block to stop after, one of `BLOCKS`' end points.
    scope: optional variable scope.

  Returns:
    (net, end_points): the output of `final_endpoint` and the outputs of all blocks up to it.

  Raises:
    ValueError: unknown `final_endpoint`, or bad images.
  """
  inception_utils.check_final_endpoint(BLOCKS, final_endpoint, 'InceptionV4')
  inputs = input_checks.check_images(inputs, 'InceptionV4',
                                     inception_utils.min_input_size(BLOCKS, final_endpoint))
  with tf1.variable_scope(scope, 'InceptionV4', [inputs]):
    return inception_utils.build_blocks(inputs, BLOCKS, final_endpoint,
                                        inception_utils.Context())


@registry.register('inception_v4', arg_scope=inception_v4_arg_scope, default_image_size=299,
                   min_image_size=MIN_IMAGE_SIZE, preprocessing='inception', num_classes=1001,
                   logits_scope='InceptionV4/Logits', aux_logits_scope='InceptionV4/AuxLogits',
                   paper=PAPER)
def inception_v4(inputs, num_classes=1001, is_training=True, dropout_keep_prob=0.8,
                 reuse=None, scope='InceptionV4', create_aux_logits=True):
  """Inception-v4 classifier.

  Args:
    inputs: a tensor of size [batch_size, height, width, channels], at least 75x75
      (107x107 with the auxiliary head); the final pooling covers whatever map remains.
    num_classes: number of predicted classes; 0 or None returns the pooled features.
    is_training: batch statistics and dropout when true.
    dropout_keep_prob: probability of keeping an activation before the logits.
    reuse: reuse the variables of `scope`.
    scope: optional variable scope.
    create_aux_logits: build the auxiliary classifier on Mixed_6h (`end_points['AuxLogits']`,
      in training and inference graphs alike, as TF-Slim does).

  Returns:
    net: the logits, or the pooled features when num_classes is 0 or None.
    end_points: a dict of the blocks' outputs.
  """
  input_checks.check_flags(scope or 'InceptionV4', create_aux_logits=create_aux_logits)
  with_aux = bool(create_aux_logits and num_classes)
  inputs = input_checks.check_images(inputs, scope or 'InceptionV4',
                                     MIN_IMAGE_SIZE if with_aux else MIN_IMAGE_SIZE_WITHOUT_AUX)
  with tf1.variable_scope(scope, 'InceptionV4', [inputs], reuse=reuse) as sc:
    with slim.arg_scope([layers.batch_norm, slim.dropout], is_training=is_training):
      net, end_points = inception_v4_base(inputs, scope=sc)
      if with_aux:
        with tf1.variable_scope('AuxLogits'):
          end_points['AuxLogits'] = inception_utils.fc_aux_logits(
              end_points['Mixed_6h'], num_classes, pool_scope='AvgPool_1a_5x5',
              conv_scope='Conv2d_2a', logits_scope='Aux_logits')
      with tf1.variable_scope('Logits'):
        net = inception_utils.global_average_pool(net, scope='AvgPool_1a')
        end_points['global_pool'] = net
        if not num_classes:
          return net, end_points
        net = slim.dropout(net, dropout_keep_prob, scope='Dropout_1b')
        net = slim.flatten(net, scope='PreLogitsFlatten')
        end_points['PreLogitsFlatten'] = net
        logits = slim.fully_connected(net, num_classes, activation_fn=None, scope='Logits')
        end_points['Logits'] = logits
        end_points['Predictions'] = tf.nn.softmax(logits, name='Predictions')
  return logits, end_points
