"""ResNet v2 (pre-activation): resnet_v2_50, _101, _152 and _200, as TF-Slim defines them.

He, Zhang, Ren, Sun: "Identity Mappings in Deep Residual Networks", ECCV 2016
(arXiv:1603.05027). Batch normalization and ReLU come before each convolution
("pre-activation"), so the shortcut path from input to output is a pure sum of identities
(or 1x1 projections where the depth changes) and the last unit is followed by one more
batch normalization and ReLU ('postnorm'). As in TF-Slim:
- The root 7x7 convolution is linear (no normalization): the first unit's pre-activation
  normalizes it. Its projection shortcut and every unit's last 1x1 convolution are linear
  too, with biases.
- The stride of a unit sits in its 3x3 convolution, and each block subsamples in its last
  unit (see resnet_v1).

Preprocessing: the published v2 checkpoints were trained with Inception preprocessing
(scale to [-1, 1]) and 1001 classes (0 is background), so this module registers them
with 'inception'. TF-Slim's own nets_factory maps resnet_v2_* to 'vgg' preprocessing,
which feeds the checkpoints mean-subtracted 0-255 pixels they never saw in training;
pass `--preprocessing_name=vgg` to reproduce that. TF-Slim's published accuracies for
these checkpoints were measured at an evaluation size of 299 (the default size stays 224,
TF-Slim's).

Usage:
  with slim.arg_scope(resnet_v2.resnet_arg_scope()):
    logits, end_points = resnet_v2.resnet_v2_50(images, num_classes=1001,
                                                is_training=False)
"""

import tensorflow as tf
import tf_slim as slim

from . import layers
from . import registry
from . import resnet_utils

tf1 = tf.compat.v1

PAPER = ('He, Zhang, Ren, Sun, Identity Mappings in Deep Residual Networks, ECCV 2016 '
         '(arXiv:1603.05027)')

resnet_arg_scope = resnet_utils.resnet_arg_scope


@slim.add_arg_scope
def bottleneck(inputs, depth, depth_bottleneck, stride, rate=1, outputs_collections=None,
               scope=None):
  """A v2 (pre-activation) bottleneck unit: shortcut + conv3(conv2(conv1(preact))).

  Args:
    inputs: a [batch, height, width, channels] tensor.
    depth: output channels of the unit.
    depth_bottleneck: channels of the 1x1 reduce and 3x3 convolutions.
    stride: the unit's stride (in its 3x3 convolution and the shortcut).
    rate: dilation rate of the 3x3 convolution (atrous).
    outputs_collections: collection for the unit's output (end point).
    scope: variable scope; 'bottleneck_v2' by default.

  Returns:
    The unit's output (a sum, neither normalized nor activated).
  """
  with tf1.variable_scope(scope, 'bottleneck_v2', [inputs]) as sc:
    depth_in = slim.utils.last_dimension(inputs.shape, min_rank=4)
    preact = layers.batch_norm(inputs, activation_fn=tf.nn.relu, scope='preact')
    if depth == depth_in:
      shortcut = resnet_utils.subsample(inputs, stride, 'shortcut')
    else:
      shortcut = slim.conv2d(preact, depth, [1, 1], stride=stride, normalizer_fn=None,
                             activation_fn=None, scope='shortcut')
    residual = slim.conv2d(preact, depth_bottleneck, [1, 1], stride=1, scope='conv1')
    residual = resnet_utils.conv2d_same(residual, depth_bottleneck, 3, stride, rate=rate,
                                        scope='conv2')
    residual = slim.conv2d(residual, depth, [1, 1], stride=1, normalizer_fn=None,
                           activation_fn=None, scope='conv3')
    output = shortcut + residual
    return slim.utils.collect_named_outputs(outputs_collections, sc.name, output)


def resnet_v2_block(scope, base_depth, num_units, stride):
  """A block of `num_units` v2 bottlenecks of width `base_depth` (output 4*base_depth)."""
  return resnet_utils.bottleneck_block(bottleneck, scope, base_depth, num_units, stride)


def resnet_v2(inputs, blocks, num_classes=None, is_training=True, global_pool=True,
              output_stride=None, include_root_block=True, spatial_squeeze=True,
              reuse=None, scope=None, store_non_strided_activations=False):
  """A ResNet v2 made of `blocks`.

  Args:
    inputs: a [batch, height, width, channels] tensor.
    blocks: a list of `resnet_utils.Block`s, e.g. from `resnet_v2_block`.
    num_classes: classes of the 1x1 logits layer; 0 or None returns the features.
    is_training: batch statistics (and moving-average updates) in batch normalization;
      None leaves it to an enclosing `slim.arg_scope([slim.batch_norm], is_training=...)`.
    global_pool: average the last feature map over space (for classification).
    output_stride: stride of the last feature map relative to the input, for dense
      prediction (atrous convolution): one of the strides the net passes through
      (4, 8, 16 or 32 for ImageNet blocks with the root block); None is the last one.
    include_root_block: start with the 7x7 stride-2 convolution and 3x3 max-pool;
      False feeds `inputs` to the first block directly.
    spatial_squeeze: squeeze the logits to [batch, num_classes]; needs a 1x1 map.
    reuse: reuse the variables of `scope`.
    scope: variable scope; 'resnet_v2' by default.
    store_non_strided_activations: see `resnet_utils.stack_blocks_dense`. TF-Slim's v2
      has no such argument, so it comes after TF-Slim's positional ones.

  Returns:
    net: the logits, or the features ([batch, 1, 1, C] with global_pool) when
      num_classes is 0 or None.
    end_points: the layers' outputs, in order, under TF-Slim's keys.

  Raises:
    ValueError: bad images, or an output_stride the blocks cannot reach.
  """
  return resnet_utils.build_resnet(
      inputs, blocks, bottleneck, num_classes=num_classes, is_training=is_training,
      global_pool=global_pool, output_stride=output_stride,
      include_root_block=include_root_block, spatial_squeeze=spatial_squeeze,
      store_non_strided_activations=store_non_strided_activations, reuse=reuse, scope=scope,
      default_scope='resnet_v2', preactivation=True)


resnet_v2.default_image_size = 224


# What every ResNet v2 shares in the registry; each variant adds its logits scope. Every
# layer pads, so even a 1x1 image builds (to 1x1 maps).
_REGISTRY_FIELDS = dict(arg_scope=resnet_arg_scope, default_image_size=224, min_image_size=1,
                        preprocessing='inception', num_classes=1001, paper=PAPER)

# TF-Slim's positional order; the arguments its v2 builders lack come after it.
@registry.register('resnet_v2_50', logits_scope='resnet_v2_50/logits', **_REGISTRY_FIELDS)
def resnet_v2_50(inputs, num_classes=None, is_training=True, global_pool=True,
                 output_stride=None, spatial_squeeze=True, reuse=None, scope='resnet_v2_50',
                 store_non_strided_activations=False, min_base_depth=8, depth_multiplier=1):
  """ResNet v2, 50 layers; the arguments are `resnet_utils.imagenet_resnet`'s."""
  return resnet_utils.imagenet_resnet(
      resnet_v2, resnet_v2_block, 50, inputs, num_classes=num_classes,
      is_training=is_training, global_pool=global_pool, output_stride=output_stride,
      spatial_squeeze=spatial_squeeze,
      store_non_strided_activations=store_non_strided_activations,
      min_base_depth=min_base_depth, depth_multiplier=depth_multiplier, reuse=reuse,
      scope=scope)


@registry.register('resnet_v2_101', logits_scope='resnet_v2_101/logits', **_REGISTRY_FIELDS)
def resnet_v2_101(inputs, num_classes=None, is_training=True, global_pool=True,
                  output_stride=None, spatial_squeeze=True, reuse=None,
                  scope='resnet_v2_101', store_non_strided_activations=False,
                  min_base_depth=8, depth_multiplier=1):
  """ResNet v2, 101 layers; the arguments are `resnet_utils.imagenet_resnet`'s."""
  return resnet_utils.imagenet_resnet(
      resnet_v2, resnet_v2_block, 101, inputs, num_classes=num_classes,
      is_training=is_training, global_pool=global_pool, output_stride=output_stride,
      spatial_squeeze=spatial_squeeze,
      store_non_strided_activations=store_non_strided_activations,
      min_base_depth=min_base_depth, depth_multiplier=depth_multiplier, reuse=reuse,
      scope=scope)


@registry.register('resnet_v2_152', logits_scope='resnet_v2_152/logits', **_REGISTRY_FIELDS)
def resnet_v2_152(inputs, num_classes=None, is_training=True, global_pool=True,
                  output_stride=None, spatial_squeeze=True, reuse=None,
                  scope='resnet_v2_152', store_non_strided_activations=False,
                  min_base_depth=8, depth_multiplier=1):
  """ResNet v2, 152 layers; the arguments are `resnet_utils.imagenet_resnet`'s."""
  return resnet_utils.imagenet_resnet(
      resnet_v2, resnet_v2_block, 152, inputs, num_classes=num_classes,
      is_training=is_training, global_pool=global_pool, output_stride=output_stride,
      spatial_squeeze=spatial_squeeze,
      store_non_strided_activations=store_non_strided_activations,
      min_base_depth=min_base_depth, depth_multiplier=depth_multiplier, reuse=reuse,
      scope=scope)


@registry.register('resnet_v2_200', logits_scope='resnet_v2_200/logits', **_REGISTRY_FIELDS)
def resnet_v2_200(inputs, num_classes=None, is_training=True, global_pool=True,
                  output_stride=None, spatial_squeeze=True, reuse=None,
                  scope='resnet_v2_200', store_non_strided_activations=False,
                  min_base_depth=8, depth_multiplier=1):
  """ResNet v2, 200 layers; the arguments are `resnet_utils.imagenet_resnet`'s."""
  return resnet_utils.imagenet_resnet(
      resnet_v2, resnet_v2_block, 200, inputs, num_classes=num_classes,
      is_training=is_training, global_pool=global_pool, output_stride=output_stride,
      spatial_squeeze=spatial_squeeze,
      store_non_strided_activations=store_non_strided_activations,
      min_base_depth=min_base_depth, depth_multiplier=depth_multiplier, reuse=reuse,
      scope=scope)
