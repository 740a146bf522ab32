"""VGG: vgg_a (11 layers), vgg_16 and vgg_19, as TF-Slim defines them.

Simonyan, Zisserman: "Very Deep Convolutional Networks for Large-Scale Image Recognition",
ICLR 2015 (configurations A, D and E). The fully connected layers are convolutions, so the
published TF-Slim checkpoints (converted from Caffe) restore with their 4-D fc weights.

Usage:
  with slim.arg_scope(vgg.vgg_arg_scope()):
    logits, end_points = vgg.vgg_16(images, num_classes=1000, is_training=False)
"""

import tensorflow as tf
import tf_slim as slim

from . import input_checks
from . import layers
from . import registry

tf1 = tf.compat.v1

PAPER = ('Simonyan, Zisserman, Very Deep Convolutional Networks for Large-Scale Image '
         'Recognition, ICLR 2015')

# The paper's Table 1: 3x3 convolutions per block (each block ends in 2x2 max-pooling).
BLOCKS = {
    'vgg_a': ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)),
    'vgg_16': ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)),
    'vgg_19': ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512)),
}


def vgg_arg_scope(weight_decay=0.0005):
  """ReLU, L2 weight decay, zero biases, SAME convolutions."""
  with slim.arg_scope([slim.conv2d, slim.fully_connected],
                      activation_fn=tf.nn.relu,
                      weights_regularizer=slim.l2_regularizer(weight_decay),
                      biases_initializer=tf1.zeros_initializer()):
    with slim.arg_scope([slim.conv2d], padding='SAME') as arg_sc:
      return arg_sc


def vgg(inputs, blocks, num_classes, is_training, dropout_keep_prob, spatial_squeeze, reuse,
        scope, default_scope, fc_conv_padding, global_pool):
  """The VGG configuration `blocks`: the builder every registered VGG calls.

  Args:
    inputs: a tensor of size [batch_size, height, width, channels]; 224x224 gives a 1x1
      map before the logits.
    blocks: the configuration's row of BLOCKS: (convolutions, depth) per block.
    num_classes: number of predicted classes; 0 or None returns the fc7 features.
    is_training: whether dropout is active.
    dropout_keep_prob: probability of keeping an activation in dropout.
    spatial_squeeze: squeeze the logits to [batch_size, num_classes].
    reuse: reuse the variables of `scope`.
    scope: variable scope, or None for `default_scope`.
    default_scope: the configuration's name.
    fc_conv_padding: padding of fc6: 'VALID' as trained, 'SAME' for dense outputs.
    global_pool: average the fc7 features over space (for inputs larger than 224).

  Returns:
    net: the logits, or the features when num_classes is 0 or None.
    end_points: a dict of the layers' outputs.
  """
  # With SAME fc6 padding any input of five poolings' worth (32) yields a map.
  min_size = 224 if fc_conv_padding == 'VALID' else 32
  inputs = input_checks.check_images(inputs, scope or default_scope, min_size)
  with tf1.variable_scope(scope, default_scope, [inputs], reuse=reuse) as sc:
    end_points_collection = sc.original_name_scope + '_end_points'
    with slim.arg_scope([slim.conv2d, slim.fully_connected, slim.max_pool2d],
                        outputs_collections=end_points_collection):
      net = inputs
      for index, (repeats, depth) in enumerate(blocks, start=1):
        net = slim.repeat(net, repeats, slim.conv2d, depth, [3, 3], scope=f'conv{index}')
        net = slim.max_pool2d(net, [2, 2], scope=f'pool{index}')
      return layers.convolutional_classifier(
          net, sc, end_points_collection, num_classes=num_classes, is_training=is_training,
          dropout_keep_prob=dropout_keep_prob, spatial_squeeze=spatial_squeeze,
          global_pool=global_pool, fc6_kernel=7, fc6_depth=4096,
          fc_conv_padding=fc_conv_padding)


# What every VGG shares in the registry; each variant adds its logits scope.
_REGISTRY_FIELDS = dict(arg_scope=vgg_arg_scope, default_image_size=224, preprocessing='vgg',
                        num_classes=1000, paper=PAPER)


@registry.register('vgg_a', logits_scope='vgg_a/fc8', **_REGISTRY_FIELDS)
def vgg_a(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.5,
          spatial_squeeze=True, reuse=None, scope='vgg_a', fc_conv_padding='VALID',
          global_pool=False):
  """VGG configuration A, 11 layers; the arguments are `vgg`'s."""
  return vgg(inputs, BLOCKS['vgg_a'], num_classes, is_training, dropout_keep_prob,
             spatial_squeeze, reuse, scope, 'vgg_a', fc_conv_padding, global_pool)


@registry.register('vgg_16', logits_scope='vgg_16/fc8', **_REGISTRY_FIELDS)
def vgg_16(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.5,
           spatial_squeeze=True, reuse=None, scope='vgg_16', fc_conv_padding='VALID',
           global_pool=False):
  """VGG configuration D, 16 layers; the arguments are `vgg`'s."""
  return vgg(inputs, BLOCKS['vgg_16'], num_classes, is_training, dropout_keep_prob,
             spatial_squeeze, reuse, scope, 'vgg_16', fc_conv_padding, global_pool)


@registry.register('vgg_19', logits_scope='vgg_19/fc8', **_REGISTRY_FIELDS)
def vgg_19(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.5,
           spatial_squeeze=True, reuse=None, scope='vgg_19', fc_conv_padding='VALID',
           global_pool=False):
  """VGG configuration E, 19 layers; the arguments are `vgg`'s."""
  return vgg(inputs, BLOCKS['vgg_19'], num_classes, is_training, dropout_keep_prob,
             spatial_squeeze, reuse, scope, 'vgg_19', fc_conv_padding, global_pool)


# TF-Slim's aliases, after the paper's configuration letters.
vgg_d = vgg_16
vgg_e = vgg_19
