"""Inception-ResNet-v2, as TF-Slim defines it.

Szegedy, Ioffe, Vanhoucke, Alemi: "Inception-v4, Inception-ResNet and the Impact of
Residual Connections on Learning", AAAI 2017. Figure 15's schema: 10 x Inception-ResNet-A
(Figure 16), Reduction-A (Figure 7, k=256, l=256, m=384, n=384), 20 x Inception-ResNet-B
(Figure 17), Reduction-B (Figure 18), 10 x Inception-ResNet-C (Figure 19), each residual
scaled down before it is added (section 3.3: 0.17, 0.10, 0.20). The stem is TF-Slim's (that
of Inception v3 with a 320-channel module), as in the published checkpoint. An auxiliary
classifier reads the output of the Inception-ResNet-B blocks (`PreAuxLogits`).

Usage:
  with slim.arg_scope(inception_resnet_v2.inception_resnet_v2_arg_scope()):
    logits, end_points = inception_resnet_v2.inception_resnet_v2(images, num_classes=1001)
  features, end_points = inception_resnet_v2.inception_resnet_v2_base(
      images, final_endpoint='PreAuxLogits', output_stride=8, align_feature_maps=True)
"""

import tensorflow as tf
import tf_slim as slim

from . import inception_utils
from . import input_checks
from . import layers
from . import registry
from .inception_utils import SAME, VALID, AvgPool, Conv, MaxPool, Module

tf1 = tf.compat.v1

PAPER = ('Szegedy et al., Inception-v4, Inception-ResNet and the Impact of Residual '
         'Connections on Learning, AAAI 2017')


def inception_resnet_v2_arg_scope(weight_decay=0.00004,
                                  batch_norm_decay=0.9997,
                                  batch_norm_epsilon=0.001,
                                  activation_fn=tf.nn.relu,
                                  batch_norm_updates_collections=tf1.GraphKeys.UPDATE_OPS,
                                  batch_norm_scale=False):
  """`inception_arg_scope`, with TF-Slim's Glorot initialization and decay on biases too.

  Args:
    weight_decay: L2 regularization of weights and biases.
    batch_norm_decay: decay of the moving averages of the batch statistics.
    batch_norm_epsilon: added to the variance to avoid dividing by zero.
    activation_fn: activation of the convolutions.
    batch_norm_updates_collections: collection of the moving-average update ops.
    batch_norm_scale: learn a `gamma` per channel; the published checkpoint has none.

  Returns:
    An arg scope for `slim.arg_scope`.
  """
  with slim.arg_scope(inception_utils.inception_arg_scope(
      weight_decay=weight_decay, batch_norm_decay=batch_norm_decay,
      batch_norm_epsilon=batch_norm_epsilon, activation_fn=activation_fn,
      batch_norm_updates_collections=batch_norm_updates_collections,
      batch_norm_scale=batch_norm_scale)):
    with slim.arg_scope([slim.conv2d, slim.fully_connected],
                        biases_regularizer=slim.l2_regularizer(weight_decay)):
      with slim.arg_scope([slim.conv2d],
                          weights_initializer=slim.xavier_initializer()) as sc:
        return sc


class Residual:
  """`activation(net + scale * up(branches(net)))`: up is a linear 1x1 conv back to the
  input's depth, so that the sum is defined.

  With relu6 the scaled residual is clipped to [-6, 6] as well, as TF-Slim does, which
  keeps every activation in the range a quantized relu6 net expects.
  """

  def __init__(self, module, scale, activation_fn, scope=None):
    self.module, self.scale, self.activation_fn, self.scope = (
        module, scale, activation_fn, scope)

  def build(self, net, scope, ctx):
    with tf1.variable_scope(scope):
      mixed = self.module.concat_branches(net, ctx)
      up = slim.conv2d(mixed, net.shape[3], [1, 1], normalizer_fn=None, activation_fn=None,
                       scope='Conv2d_1x1')
      scaled_up = up * self.scale
      if self.activation_fn is tf.nn.relu6:
        scaled_up = tf.clip_by_value(scaled_up, -6.0, 6.0)
      net += scaled_up
      if self.activation_fn:
        net = self.activation_fn(net)
    return net

  def min_input(self, size):
    return self.module.min_input(size)


class Repeat:
  """`count` copies of a block in `scope`, named `<name>_1` ... (slim.repeat's names).

  `rate` dilates the convolutions, for output_stride 8.
  """

  def __init__(self, block, count, name, scope, rate=1):
    self.block, self.count, self.name, self.scope, self.rate = block, count, name, scope, rate

  def build(self, net, scope, ctx):
    with tf1.variable_scope(scope), slim.arg_scope([slim.conv2d], rate=self.rate):
      for index in range(1, self.count + 1):
        net = self.block.build(net, f'{self.name}_{index}', ctx)
    return net

  def min_input(self, size):
    for _ in range(self.count):
      size = self.block.min_input(size)
    return size


# Figures 16, 17 and 19: the residual branches on the 35x35, 17x17 and 8x8 grids.
BRANCHES_35 = Module(
    [Conv(32, 1, name='Conv2d_1x1')],
    [Conv(32, 1, '0a'), Conv(32, 3, '0b')],
    [Conv(32, 1, '0a'), Conv(48, 3, '0b'), Conv(64, 3, '0c')])

BRANCHES_17 = Module(
    [Conv(192, 1, name='Conv2d_1x1')],
    [Conv(128, 1, '0a'), Conv(160, (1, 7), '0b'), Conv(192, (7, 1), '0c')])

BRANCHES_8 = Module(
    [Conv(192, 1, name='Conv2d_1x1')],
    [Conv(192, 1, '0a'), Conv(224, (1, 3), '0b'), Conv(256, (3, 1), '0c')])


def _blocks(padding=VALID, output_stride=16, activation_fn=tf.nn.relu):
  """The table of the net: `padding` for the stem and reductions, `output_stride` 8 keeps
  the 35x35 grid through Reduction-A and dilates the Inception-ResNet-B blocks instead."""
  stride_6a, rate_17 = (1, 2) if output_stride == 8 else (2, 1)
  return (
      ('Conv2d_1a_3x3', Conv(32, 3, stride=2, padding=padding)),
      ('Conv2d_2a_3x3', Conv(32, 3, padding=padding)),
      ('Conv2d_2b_3x3', Conv(64, 3)),
      ('MaxPool_3a_3x3', MaxPool(3, stride=2, padding=padding)),
      ('Conv2d_3b_1x1', Conv(80, 1, padding=padding)),
      ('Conv2d_4a_3x3', Conv(192, 3, padding=padding)),
      ('MaxPool_5a_3x3', MaxPool(3, stride=2, padding=padding)),
      ('Mixed_5b', Module(
          [Conv(96, 1, name='Conv2d_1x1')],
          [Conv(48, 1, '0a'), Conv(64, 5, '0b')],
          [Conv(64, 1, '0a'), Conv(96, 3, '0b'), Conv(96, 3, '0c')],
          [AvgPool(3, '0a'), Conv(64, 1, '0b')])),
      # 35 x 35 x 320
      (None, Repeat(Residual(BRANCHES_35, 0.17, activation_fn), 10, 'block35', 'Repeat')),
      ('Mixed_6a', Module(
          [Conv(384, 3, '1a', stride=stride_6a, padding=padding)],
          [Conv(256, 1, '0a'), Conv(256, 3, '0b'),
           Conv(384, 3, '1a', stride=stride_6a, padding=padding)],
          [MaxPool(3, '1a', stride=stride_6a, padding=padding)])),
      # 17 x 17 x 1088
      ('PreAuxLogits', Repeat(Residual(BRANCHES_17, 0.10, activation_fn), 20, 'block17',
                              'Repeat_1', rate=rate_17)),
      ('Mixed_7a', Module(
          [Conv(256, 1, '0a'), Conv(384, 3, '1a', stride=2, padding=padding)],
          [Conv(256, 1, '0a'), Conv(288, 3, '1a', stride=2, padding=padding)],
          [Conv(256, 1, '0a'), Conv(288, 3, '0b'),
           Conv(320, 3, '1a', stride=2, padding=padding)],
          [MaxPool(3, '1a', stride=2, padding=padding)])),
      # 8 x 8 x 2080; the last block adds its residual without an activation.
      (None, Repeat(Residual(BRANCHES_8, 0.20, activation_fn), 9, 'block8', 'Repeat_2')),
      (None, Residual(BRANCHES_8, 1.0, None, scope='Block8')),
      ('Conv2d_7b_1x1', Conv(1536, 1)),
  )


BLOCKS = _blocks()

# The auxiliary head's 5x5 pooling is unpadded: PreAuxLogits must be at least 5x5.
MIN_IMAGE_SIZE_WITHOUT_AUX = inception_utils.min_input_size(BLOCKS, 'Conv2d_7b_1x1')
MIN_IMAGE_SIZE = max(MIN_IMAGE_SIZE_WITHOUT_AUX,
                     inception_utils.min_input_size(BLOCKS, 'PreAuxLogits', 5))


def inception_resnet_v2_base(inputs, final_endpoint='Conv2d_7b_1x1', output_stride=16,
                             align_feature_maps=False, scope=None,
                             activation_fn=tf.nn.relu):
  """Inception-ResNet-v2 up to `final_endpoint`.

  Args:
    inputs: a tensor of size [batch_size, height, width, channels].
    final_endpoint: the block to stop after, one of `BLOCKS`' end points.
    output_stride: 16, or 8 (up to PreAuxLogits only) for denser features.
    align_feature_maps: pad the stem and reductions ('SAME'), so that each map is exactly
      the input divided by its stride.
    scope: optional variable scope.
    activation_fn: activation after each residual sum.

  Returns:
    (net, end_points): the output of `final_endpoint` and the outputs of all blocks up to it.

  Raises:
    ValueError: unknown `final_endpoint`, an output_stride other than 8 and 16, 8 beyond
      PreAuxLogits, or bad images.
  """
  if output_stride not in (8, 16):
    raise ValueError(f'InceptionResnetV2: output_stride must be 8 or 16, got {output_stride}')
  blocks = _blocks(SAME if align_feature_maps else VALID, output_stride, activation_fn)
  inception_utils.check_final_endpoint(blocks, final_endpoint, 'InceptionResnetV2')
  names = inception_utils.end_point_names(blocks)
  if output_stride == 8 and names.index(final_endpoint) > names.index('PreAuxLogits'):
    raise ValueError('InceptionResnetV2: output_stride=8 is supported up to the '
                     f'PreAuxLogits end point only, not {final_endpoint!r}')
  inputs = input_checks.check_images(inputs, 'InceptionResnetV2',
                                     inception_utils.min_input_size(blocks, final_endpoint))
  with tf1.variable_scope(scope, 'InceptionResnetV2', [inputs]):
    return inception_utils.build_blocks(inputs, blocks, final_endpoint,
                                        inception_utils.Context())


@registry.register('inception_resnet_v2', arg_scope=inception_resnet_v2_arg_scope,
                   default_image_size=299, min_image_size=MIN_IMAGE_SIZE,
                   preprocessing='inception', num_classes=1001,
                   logits_scope='InceptionResnetV2/Logits',
                   aux_logits_scope='InceptionResnetV2/AuxLogits', paper=PAPER)
def inception_resnet_v2(inputs, num_classes=1001, is_training=True, dropout_keep_prob=0.8,
                        reuse=None, scope='InceptionResnetV2', create_aux_logits=True,
                        activation_fn=tf.nn.relu):
  """Inception-ResNet-v2 classifier.

  Args:
    inputs: a tensor of size [batch_size, height, width, channels], at least 75x75
      (107x107 with the auxiliary head); the final pooling covers whatever map remains.
    num_classes: number of predicted classes; 0 or None returns the pooled features.
    is_training: batch statistics and dropout when true.
    dropout_keep_prob: probability of keeping an activation before the logits.
    reuse: reuse the variables of `scope`.
    scope: optional variable scope.
    create_aux_logits: build the auxiliary classifier on PreAuxLogits
      (`end_points['AuxLogits']`, in training and inference graphs alike, as TF-Slim does).
    activation_fn: activation after each residual sum.

  Returns:
    net: the logits, or the pooled features when num_classes is 0 or None.
    end_points: a dict of the blocks' outputs.
  """
  input_checks.check_flags(scope or 'InceptionResnetV2', create_aux_logits=create_aux_logits)
  with_aux = bool(create_aux_logits and num_classes)
  inputs = input_checks.check_images(inputs, scope or 'InceptionResnetV2',
                                     MIN_IMAGE_SIZE if with_aux else MIN_IMAGE_SIZE_WITHOUT_AUX)
  with tf1.variable_scope(scope, 'InceptionResnetV2', [inputs], reuse=reuse) as sc:
    with slim.arg_scope([layers.batch_norm, slim.dropout], is_training=is_training):
      net, end_points = inception_resnet_v2_base(inputs, scope=sc,
                                                 activation_fn=activation_fn)
      if with_aux:
        with tf1.variable_scope('AuxLogits'):
          end_points['AuxLogits'] = inception_utils.fc_aux_logits(
              end_points['PreAuxLogits'], num_classes, pool_scope='Conv2d_1a_3x3',
              conv_scope='Conv2d_2a_5x5', logits_scope='Logits')
      with tf1.variable_scope('Logits'):
        net = inception_utils.global_average_pool(net, scope='AvgPool_1a_8x8')
        end_points['global_pool'] = net
        if not num_classes:
          return net, end_points
        net = slim.flatten(net)
        net = slim.dropout(net, dropout_keep_prob, scope='Dropout')
        end_points['PreLogitsFlatten'] = net
        logits = slim.fully_connected(net, num_classes, activation_fn=None, scope='Logits')
        end_points['Logits'] = logits
        end_points['Predictions'] = tf.nn.softmax(logits, name='Predictions')
  return logits, end_points
