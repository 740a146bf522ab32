"""CifarNet: the CIFAR-10 network of TensorFlow's convolutional-network tutorial.

It follows cuda-convnet's "layers-18pct" CIFAR-10 model (Krizhevsky, 2009/2012): two 5x5
convolutions with pooling and local response normalization, two fully connected layers.

Usage:
  with slim.arg_scope(cifarnet.cifarnet_arg_scope()):
    logits, end_points = cifarnet.cifarnet(images, num_classes=10)
"""

import tensorflow as tf
import tf_slim as slim

from . import input_checks
from . import layers
from . import registry

tf1 = tf.compat.v1

PAPER = ('Krizhevsky, Learning Multiple Layers of Features from Tiny Images, 2009; '
         'TensorFlow CIFAR-10 tutorial model')


def _lrn(net, name):
  # The tutorial's normalization: radius 4, alpha 0.001 / 9.
  return tf.nn.lrn(net, 4, bias=1.0, alpha=0.001 / 9.0, beta=0.75, name=name)


def cifarnet_arg_scope(weight_decay=0.004):
  """The tutorial's initializers; weight decay on the fully connected layers only."""
  with slim.arg_scope([slim.conv2d],
                      weights_initializer=tf1.truncated_normal_initializer(stddev=5e-2),
                      activation_fn=tf.nn.relu):
    with slim.arg_scope([slim.fully_connected],
                        biases_initializer=tf1.constant_initializer(0.1),
                        weights_initializer=tf1.truncated_normal_initializer(stddev=0.04),
                        weights_regularizer=slim.l2_regularizer(weight_decay),
                        activation_fn=tf.nn.relu) as sc:
      return sc


@registry.register('cifarnet', arg_scope=cifarnet_arg_scope, default_image_size=32,
                   preprocessing='cifarnet',
                   num_classes=10, logits_scope='CifarNet/logits',
                   paper=PAPER, min_image_size=4)
def cifarnet(images, num_classes=10, is_training=False, dropout_keep_prob=0.5,
             prediction_fn=slim.softmax, scope='CifarNet'):
  """CifarNet.

  Args:
    images: a tensor of size [batch_size, 32, 32, channels].
    num_classes: number of predicted classes; 0 or None returns the fc4 features.
    is_training: whether dropout is active.
    dropout_keep_prob: probability of keeping an activation in dropout.
    prediction_fn: turns the logits into predictions.
    scope: optional variable scope.

  Returns:
    net: the logits, or the fc4 features when num_classes is 0 or None.
    end_points: a dict of the layers' outputs, ending with Logits and Predictions.
  """
  input_checks.check_flag(is_training, 'is_training', scope, allow_tensor=True)
  images = input_checks.check_images(images, scope, cifarnet.min_image_size)
  end_points = {}
  with tf1.variable_scope(scope, 'CifarNet', [images]):
    net = end_points['conv1'] = slim.conv2d(images, 64, [5, 5], scope='conv1')
    net = end_points['pool1'] = slim.max_pool2d(net, [2, 2], 2, scope='pool1')
    net = _lrn(net, 'norm1')
    net = end_points['conv2'] = slim.conv2d(net, 64, [5, 5], scope='conv2')
    net = _lrn(net, 'norm2')
    net = end_points['pool2'] = slim.max_pool2d(net, [2, 2], 2, scope='pool2')
    net = end_points['Flatten'] = slim.flatten(net)
    net = end_points['fc3'] = slim.fully_connected(net, 384, scope='fc3')
    net = slim.dropout(net, dropout_keep_prob, is_training=is_training, scope='dropout3')
    net = end_points['fc4'] = slim.fully_connected(net, 192, scope='fc4')
    if not num_classes:
      return net, end_points
    logits = end_points['Logits'] = slim.fully_connected(
        net, num_classes, biases_initializer=tf1.zeros_initializer(),
        weights_initializer=tf1.truncated_normal_initializer(stddev=1 / 192.0),
        weights_regularizer=None, activation_fn=None, scope='logits')
    end_points['Predictions'] = prediction_fn(logits, scope='Predictions')
  return logits, end_points
