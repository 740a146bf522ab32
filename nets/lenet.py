"""LeNet, as TF-Slim defines it: a LeNet-5-like network for 28x28 digits.

LeCun et al.: "Gradient-Based Learning Applied to Document Recognition", Proc. IEEE 1998;
with ReLU, max-pooling and dropout in place of the original's sigmoids and subsampling.

Usage:
  with slim.arg_scope(lenet.lenet_arg_scope()):
    logits, end_points = lenet.lenet(images, num_classes=10, is_training=True)
"""

import tensorflow as tf
import tf_slim as slim

from . import input_checks
from . import registry

tf1 = tf.compat.v1

PAPER = ('LeCun et al., Gradient-Based Learning Applied to Document Recognition, '
         'Proc. IEEE 1998')


def lenet_arg_scope(weight_decay=0.0):
  """ReLU, truncated normal weights (stddev 0.1), L2 weight decay."""
  with slim.arg_scope([slim.conv2d, slim.fully_connected],
                      weights_regularizer=slim.l2_regularizer(weight_decay),
                      weights_initializer=tf1.truncated_normal_initializer(stddev=0.1),
                      activation_fn=tf.nn.relu) as sc:
    return sc


@registry.register('lenet', arg_scope=lenet_arg_scope, default_image_size=28,
                   preprocessing='lenet', input_channels=1,
                   num_classes=10, logits_scope='LeNet/fc4', paper=PAPER, min_image_size=4)
def lenet(images, num_classes=10, is_training=False, dropout_keep_prob=0.5,
          prediction_fn=slim.softmax, scope='LeNet'):
  """LeNet.

  Args:
    images: a tensor of size [batch_size, 28, 28, channels].
    num_classes: number of predicted classes; 0 or None returns the fc3 features.
    is_training: whether dropout is active.
    dropout_keep_prob: probability of keeping an activation in dropout.
    prediction_fn: turns the logits into predictions.
    scope: optional variable scope.

  Returns:
    net: the logits, or the fc3 features when num_classes is 0 or None.
    end_points: a dict of the layers' outputs, ending with Logits and Predictions.
  """
  input_checks.check_flag(is_training, 'is_training', scope, allow_tensor=True)
  images = input_checks.check_images(images, scope, lenet.min_image_size)
  end_points = {}
  with tf1.variable_scope(scope, 'LeNet', [images]):
    net = end_points['conv1'] = slim.conv2d(images, 32, [5, 5], scope='conv1')
    net = end_points['pool1'] = slim.max_pool2d(net, [2, 2], 2, scope='pool1')
    net = end_points['conv2'] = slim.conv2d(net, 64, [5, 5], scope='conv2')
    net = end_points['pool2'] = slim.max_pool2d(net, [2, 2], 2, scope='pool2')
    net = end_points['Flatten'] = slim.flatten(net)
    net = end_points['fc3'] = slim.fully_connected(net, 1024, scope='fc3')
    if not num_classes:
      return net, end_points
    net = end_points['dropout3'] = slim.dropout(
        net, dropout_keep_prob, is_training=is_training, scope='dropout3')
    logits = end_points['Logits'] = slim.fully_connected(
        net, num_classes, activation_fn=None, scope='fc4')
  end_points['Predictions'] = prediction_fn(logits, scope='Predictions')
  return logits, end_points
