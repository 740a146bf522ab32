"""AlexNet: TF-Slim's `alexnet_v2` and the network of the 2012 paper.

Krizhevsky, Sutskever, Hinton: "ImageNet Classification with Deep Convolutional Neural
Networks", NIPS 2012. `alexnet_v2` follows Krizhevsky's "One weird trick for parallelizing
convolutional neural networks" (2014), as TF-Slim defines it: no response normalization,
64/192 filters in the first two layers, fully connected layers as convolutions.

`alexnet` is the 2012 paper's network, which TF-Slim never had; `alexnet_bn` replaces its
local response normalization by batch normalization. Where the paper is ambiguous:
- Input size: the paper says 224x224, but conv1 (11x11, stride 4, no padding) only tiles
  227x227 exactly; 227 is the default, as in Caffe's reference model.
- LRN: the paper's formula b = a / (k + alpha * sum(a^2))^beta is used literally
  (`tf.nn.lrn` with depth_radius 2 for n=5, bias 2, alpha 1e-4, beta 0.75). Caffe divides
  alpha by n; we do not.
- Padding: conv2 (5x5) and conv3-5 (3x3) keep the spatial size (SAME), which gives the
  paper's 27x27 and 13x13 maps; pooling is 3x3 stride 2 without padding (overlapping).
- Biases of 1: the paper names "the fully-connected hidden layers", i.e. fc6 and fc7; the
  output layer fc8 starts at 0.
- Dropout 0.5 on the outputs of fc6 and fc7 ("the first two fully-connected layers").
- `groups=2` reproduces the two-GPU split: conv2, conv4 and conv5 see only their own tower's
  half of the channels; conv3 and the fully connected layers see both towers.
- alexnet_bn: batch normalization (before the ReLU) takes the place of LRN after conv1 and
  conv2 only, so that the two nets differ in exactly that.

Usage:
  with slim.arg_scope(alexnet.alexnet_arg_scope()):
    logits, end_points = alexnet.alexnet(images, num_classes=1000, is_training=True)
"""

import tensorflow as tf
import tf_slim as slim

from . import input_checks
from . import layers
from . import registry

tf1 = tf.compat.v1

PAPER_2012 = ('Krizhevsky et al., ImageNet Classification with Deep Convolutional Neural '
              'Networks, NIPS 2012')
PAPER_2014 = 'Krizhevsky, One weird trick for parallelizing convolutional neural networks, 2014'


def alexnet_v2_arg_scope(weight_decay=0.0005):
  """TF-Slim's defaults for alexnet_v2: ReLU, biases 0.1, L2 decay, SAME convs, VALID pools."""
  with slim.arg_scope([slim.conv2d, slim.fully_connected],
                      activation_fn=tf.nn.relu,
                      biases_initializer=tf1.constant_initializer(0.1),
                      weights_regularizer=slim.l2_regularizer(weight_decay)):
    with slim.arg_scope([slim.conv2d], padding='SAME'):
      with slim.arg_scope([slim.max_pool2d], padding='VALID') as arg_sc:
        return arg_sc


@registry.register('alexnet_v2', arg_scope=alexnet_v2_arg_scope, default_image_size=224,
                   min_image_size=195, preprocessing='vgg', num_classes=1000, logits_scope='alexnet_v2/fc8', paper=PAPER_2014)
def alexnet_v2(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.5,
               spatial_squeeze=True, scope='alexnet_v2', global_pool=False):
  """TF-Slim's AlexNet v2.

  Args:
    inputs: a tensor of size [batch_size, height, width, channels]; 224x224 gives a 1x1
      map before the logits.
    num_classes: number of predicted classes; 0 or None returns the fc7 features.
    is_training: whether dropout is active.
    dropout_keep_prob: probability of keeping an activation in dropout.
    spatial_squeeze: squeeze the logits to [batch_size, num_classes].
    scope: optional variable scope.
    global_pool: average the fc7 features over space (for inputs larger than 224).

  Returns:
    net: the logits, or the features when num_classes is 0 or None.
    end_points: a dict of the layers' outputs.
  """
  inputs = input_checks.check_images(inputs, scope, alexnet_v2.min_image_size)
  with tf1.variable_scope(scope, 'alexnet_v2', [inputs]) as sc:
    end_points_collection = sc.original_name_scope + '_end_points'
    with slim.arg_scope([slim.conv2d, slim.fully_connected, slim.max_pool2d],
                        outputs_collections=[end_points_collection]):
      net = slim.conv2d(inputs, 64, [11, 11], 4, padding='VALID', scope='conv1')
      net = slim.max_pool2d(net, [3, 3], 2, scope='pool1')
      net = slim.conv2d(net, 192, [5, 5], scope='conv2')
      net = slim.max_pool2d(net, [3, 3], 2, scope='pool2')
      net = slim.conv2d(net, 384, [3, 3], scope='conv3')
      net = slim.conv2d(net, 384, [3, 3], scope='conv4')
      net = slim.conv2d(net, 256, [3, 3], scope='conv5')
      net = slim.max_pool2d(net, [3, 3], 2, scope='pool5')
      return layers.convolutional_classifier(
          net, sc, end_points_collection, num_classes=num_classes, is_training=is_training,
          dropout_keep_prob=dropout_keep_prob, spatial_squeeze=spatial_squeeze,
          global_pool=global_pool, fc6_kernel=5, fc6_depth=4096,
          fc_params=dict(weights_initializer=tf1.truncated_normal_initializer(stddev=0.005),
                         biases_initializer=tf1.constant_initializer(0.1)))


def alexnet_arg_scope(weight_decay=0.0005):
  """The 2012 paper's defaults: ReLU, weights N(0, 0.01), biases 0, weight decay 5e-4."""
  with slim.arg_scope([slim.conv2d, layers.grouped_conv2d, slim.fully_connected],
                      activation_fn=tf.nn.relu,
                      weights_initializer=tf1.random_normal_initializer(stddev=0.01),
                      biases_initializer=tf1.zeros_initializer(),
                      weights_regularizer=slim.l2_regularizer(weight_decay)):
    with slim.arg_scope([slim.conv2d, layers.grouped_conv2d], padding='SAME'):
      with slim.arg_scope([slim.max_pool2d], padding='VALID') as arg_sc:
        return arg_sc


def alexnet_bn_arg_scope(weight_decay=0.0005, batch_norm_decay=0.999):
  """`alexnet_arg_scope` plus the decay of alexnet_bn's moving statistics."""
  with slim.arg_scope(alexnet_arg_scope(weight_decay)):
    with slim.arg_scope([layers.batch_norm], decay=batch_norm_decay) as arg_sc:
      return arg_sc


def _conv(net, depth, kernel, groups, scope, **kwargs):
  """A convolution split into `groups` towers, or a plain one."""
  if groups > 1:
    return layers.grouped_conv2d(net, depth, kernel, groups, scope=scope, **kwargs)
  return slim.conv2d(net, depth, kernel, scope=scope, **kwargs)


def _alexnet_2012(inputs, num_classes, is_training, dropout_keep_prob, spatial_squeeze,
                  scope, global_pool, groups, batch_norm):
  """The 2012 network; `batch_norm` puts batch normalization where LRN was."""
  inputs = input_checks.check_images(inputs, scope, alexnet.min_image_size)
  ones = tf1.constant_initializer(1.0)
  if batch_norm:
    # Normalization replaces LRN in the first two layers only; with it, biases are redundant.
    normalized = dict(normalizer_fn=layers.batch_norm,
                      normalizer_params={'is_training': is_training, 'scale': True})

    def response_norm(net, name):
      del name
      return net
  else:
    normalized = {}

    def response_norm(net, name):
      return tf.nn.lrn(net, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, name=name)

  with tf1.variable_scope(scope, 'alexnet', [inputs]) as sc:
    end_points_collection = sc.original_name_scope + '_end_points'
    with slim.arg_scope([slim.conv2d, layers.grouped_conv2d, slim.max_pool2d],
                        outputs_collections=[end_points_collection]):
      net = slim.conv2d(inputs, 96, [11, 11], 4, padding='VALID', scope='conv1', **normalized)
      net = response_norm(net, 'norm1')
      net = slim.max_pool2d(net, [3, 3], 2, scope='pool1')
      net = _conv(net, 256, [5, 5], groups, 'conv2', biases_initializer=ones, **normalized)
      net = response_norm(net, 'norm2')
      net = slim.max_pool2d(net, [3, 3], 2, scope='pool2')
      net = slim.conv2d(net, 384, [3, 3], scope='conv3')
      net = _conv(net, 384, [3, 3], groups, 'conv4', biases_initializer=ones)
      net = _conv(net, 256, [3, 3], groups, 'conv5', biases_initializer=ones)
      net = slim.max_pool2d(net, [3, 3], 2, scope='pool5')
      net, end_points = layers.convolutional_classifier(
          net, sc, end_points_collection, num_classes=num_classes, is_training=is_training,
          dropout_keep_prob=dropout_keep_prob, spatial_squeeze=spatial_squeeze,
          global_pool=global_pool, fc6_kernel=6, fc6_depth=4096,
          fc_params=dict(biases_initializer=ones))
  if num_classes:
    end_points['Logits'] = net
    end_points['Predictions'] = slim.softmax(net, scope='Predictions')
  return net, end_points


@registry.register('alexnet', arg_scope=alexnet_arg_scope, default_image_size=227,
                   preprocessing='alexnet', num_classes=1000, logits_scope='alexnet/fc8', paper=PAPER_2012)
def alexnet(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.5,
            spatial_squeeze=True, scope='alexnet', global_pool=False, groups=1):
  """AlexNet as the 2012 paper describes it, with local response normalization.

  Args:
    inputs: a tensor of size [batch_size, 227, 227, channels].
    num_classes: number of predicted classes; 0 or None returns the fc7 features.
    is_training: whether dropout is active.
    dropout_keep_prob: probability of keeping an activation in dropout.
    spatial_squeeze: squeeze the logits to [batch_size, num_classes].
    scope: optional variable scope.
    global_pool: average the fc7 features over space (for inputs larger than 227).
    groups: 2 splits conv2, conv4 and conv5 into the paper's two towers.

  Returns:
    net: the logits, or the features when num_classes is 0 or None.
    end_points: a dict of the layers' outputs, ending with Logits and Predictions.
  """
  return _alexnet_2012(inputs, num_classes, is_training, dropout_keep_prob,
                       spatial_squeeze, scope, global_pool, groups, batch_norm=False)


@registry.register('alexnet_bn', arg_scope=alexnet_bn_arg_scope, default_image_size=227,
                   preprocessing='alexnet', num_classes=1000, logits_scope='alexnet_bn/fc8', paper=PAPER_2012)
def alexnet_bn(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.5,
               spatial_squeeze=True, scope='alexnet_bn', global_pool=False, groups=1):
  """`alexnet` with batch normalization in place of local response normalization.

  Arguments and outputs as for `alexnet`.
  """
  return _alexnet_2012(inputs, num_classes, is_training, dropout_keep_prob,
                       spatial_squeeze, scope, global_pool, groups, batch_norm=True)
