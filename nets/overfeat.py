"""OverFeat (the "fast" model), as TF-Slim defines it.

Sermanet et al.: "OverFeat: Integrated Recognition, Localization and Detection using
Convolutional Networks", ICLR 2014. The fully connected layers are convolutions, which is
how OverFeat classifies densely over larger images.

Usage:
  with slim.arg_scope(overfeat.overfeat_arg_scope()):
    logits, end_points = overfeat.overfeat(images, num_classes=1000)
"""

import tensorflow as tf
import tf_slim as slim

from . import input_checks
from . import layers
from . import registry

tf1 = tf.compat.v1

PAPER = ('Sermanet et al., OverFeat: Integrated Recognition, Localization and Detection '
         'using Convolutional Networks, ICLR 2014')


def overfeat_arg_scope(weight_decay=0.0005):
  """ReLU, L2 weight decay, zero biases, SAME convolutions, VALID pooling."""
  with slim.arg_scope([slim.conv2d, slim.fully_connected],
                      activation_fn=tf.nn.relu,
                      weights_regularizer=slim.l2_regularizer(weight_decay),
                      biases_initializer=tf1.zeros_initializer()):
    with slim.arg_scope([slim.conv2d], padding='SAME'):
      with slim.arg_scope([slim.max_pool2d], padding='VALID') as arg_sc:
        return arg_sc


@registry.register('overfeat', arg_scope=overfeat_arg_scope, default_image_size=231,
                   preprocessing='vgg',
                   num_classes=1000, logits_scope='overfeat/fc8', paper=PAPER)
def overfeat(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.5,
             spatial_squeeze=True, scope='overfeat', global_pool=False, reuse=None):
  """OverFeat's fast model.

  Args:
    inputs: a tensor of size [batch_size, height, width, channels]; 231x231 gives a 1x1
      map before the logits.
    num_classes: number of predicted classes; 0 or None returns the fc7 features.
    is_training: whether dropout is active.
    dropout_keep_prob: probability of keeping an activation in dropout.
    spatial_squeeze: squeeze the logits to [batch_size, num_classes].
    scope: optional variable scope.
    global_pool: average the fc7 features over space (for inputs larger than 231).
    reuse: reuse the variables of `scope` (after TF-Slim's arguments: its overfeat has
      none).

  Returns:
    net: the logits, or the features when num_classes is 0 or None.
    end_points: a dict of the layers' outputs.
  """
  inputs = input_checks.check_images(inputs, scope, overfeat.min_image_size)
  with tf1.variable_scope(scope, 'overfeat', [inputs], reuse=reuse) as sc:
    end_points_collection = sc.original_name_scope + '_end_points'
    with slim.arg_scope([slim.conv2d, slim.fully_connected, slim.max_pool2d],
                        outputs_collections=end_points_collection):
      net = slim.conv2d(inputs, 64, [11, 11], 4, padding='VALID', scope='conv1')
      net = slim.max_pool2d(net, [2, 2], scope='pool1')
      net = slim.conv2d(net, 256, [5, 5], padding='VALID', scope='conv2')
      net = slim.max_pool2d(net, [2, 2], scope='pool2')
      net = slim.conv2d(net, 512, [3, 3], scope='conv3')
      net = slim.conv2d(net, 1024, [3, 3], scope='conv4')
      net = slim.conv2d(net, 1024, [3, 3], scope='conv5')
      net = slim.max_pool2d(net, [2, 2], scope='pool5')
      return layers.convolutional_classifier(
          net, sc, end_points_collection, num_classes=num_classes, is_training=is_training,
          dropout_keep_prob=dropout_keep_prob, spatial_squeeze=spatial_squeeze,
          global_pool=global_pool, fc6_kernel=6, fc6_depth=3072,
          fc_params=dict(weights_initializer=tf1.truncated_normal_initializer(stddev=0.005),
                         biases_initializer=tf1.constant_initializer(0.1)))
