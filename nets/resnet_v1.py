"""ResNet v1: resnet_v1_50, _101, _152 and _200, as TF-Slim defines them.

He, Zhang, Ren, Sun: "Deep Residual Learning for Image Recognition", CVPR 2016
(arXiv:1512.03385). A unit adds a bottleneck (1x1 reduce, 3x3, 1x1 expand, each batch
normalized) to its input and applies ReLU after the sum. Where TF-Slim (and the published
checkpoints) differ from the paper:
- The stride of a unit sits in its 3x3 convolution, not in the first 1x1 (as in
  fb.resnet.torch), so no activations are skipped by a strided 1x1.
- Each block subsamples in its last unit rather than its first, so the block end points
  hold the block's output at the next block's resolution.
- The 200-layer net uses the block sizes of the v2 paper; it has no published v1 weights.

The published checkpoints use 1000 classes and VGG preprocessing (mean subtraction).

Usage:
  with slim.arg_scope(resnet_v1.resnet_arg_scope()):
    logits, end_points = resnet_v1.resnet_v1_50(images, num_classes=1000,
                                                is_training=False)
  # Dense features for segmentation, at 1/16 of the input:
  net, end_points = resnet_v1.resnet_v1_101(images, None, global_pool=False,
                                            output_stride=16)
"""

import tensorflow as tf
import tf_slim as slim

from . import registry
from . import resnet_utils

tf1 = tf.compat.v1

PAPER = ('He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition, CVPR 2016 '
         '(arXiv:1512.03385)')

resnet_arg_scope = resnet_utils.resnet_arg_scope


@slim.add_arg_scope
def bottleneck(inputs, depth, depth_bottleneck, stride, rate=1, outputs_collections=None,
               scope=None, use_bounded_activations=False):
  """A v1 bottleneck unit: relu(shortcut + conv3(conv2(conv1(inputs)))).

  Args:
    inputs: a [batch, height, width, channels] tensor.
    depth: output channels of the unit.
    depth_bottleneck: channels of the 1x1 reduce and 3x3 convolutions.
    stride: the unit's stride (in its 3x3 convolution and the shortcut).
    rate: dilation rate of the 3x3 convolution (atrous).
    outputs_collections: collection for the unit's output (end point).
    scope: variable scope; 'bottleneck_v1' by default.
    use_bounded_activations: ReLU6 and clipped residuals, for quantized inference.

  Returns:
    The unit's output.
  """
  with tf1.variable_scope(scope, 'bottleneck_v1', [inputs]) as sc:
    depth_in = slim.utils.last_dimension(inputs.shape, min_rank=4)
    if depth == depth_in:
      shortcut = resnet_utils.subsample(inputs, stride, 'shortcut')
    else:
      # Projection shortcut (the paper's option B): a linear 1x1 convolution.
      shortcut = slim.conv2d(inputs, depth, [1, 1], stride=stride,
                             activation_fn=tf.nn.relu6 if use_bounded_activations else None,
                             scope='shortcut')
    residual = slim.conv2d(inputs, depth_bottleneck, [1, 1], stride=1, scope='conv1')
    residual = resnet_utils.conv2d_same(residual, depth_bottleneck, 3, stride, rate=rate,
                                        scope='conv2')
    residual = slim.conv2d(residual, depth, [1, 1], stride=1, activation_fn=None,
                           scope='conv3')
    if use_bounded_activations:
      residual = tf.clip_by_value(residual, -6.0, 6.0)
      output = tf.nn.relu6(shortcut + residual)
    else:
      output = tf.nn.relu(shortcut + residual)
    return slim.utils.collect_named_outputs(outputs_collections, sc.name, output)


def resnet_v1_block(scope, base_depth, num_units, stride):
  """A block of `num_units` v1 bottlenecks of width `base_depth` (output 4*base_depth)."""
  return resnet_utils.bottleneck_block(bottleneck, scope, base_depth, num_units, stride)


def resnet_v1(inputs, blocks, num_classes=None, is_training=True, global_pool=True,
              output_stride=None, include_root_block=True, spatial_squeeze=True,
              store_non_strided_activations=False, reuse=None, scope=None):
  """A ResNet v1 made of `blocks`.

  Args:
    inputs: a [batch, height, width, channels] tensor.
    blocks: a list of `resnet_utils.Block`s, e.g. from `resnet_v1_block`.
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
    store_non_strided_activations: see `resnet_utils.stack_blocks_dense`.
    reuse: reuse the variables of `scope`.
    scope: variable scope; 'resnet_v1' by default.

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
      default_scope='resnet_v1', preactivation=False)


resnet_v1.default_image_size = 224


# What every ResNet v1 shares in the registry; each variant adds its logits scope. Every
# layer pads, so even a 1x1 image builds (to 1x1 maps).
_REGISTRY_FIELDS = dict(arg_scope=resnet_arg_scope, default_image_size=224, min_image_size=1,
                        preprocessing='vgg', num_classes=1000, paper=PAPER)

# The four builders keep TF-Slim's positional orders, which differ: 152 and 200 take
# store_non_strided_activations before spatial_squeeze.
@registry.register('resnet_v1_50', logits_scope='resnet_v1_50/logits', **_REGISTRY_FIELDS)
def resnet_v1_50(inputs, num_classes=None, is_training=True, global_pool=True,
                 output_stride=None, spatial_squeeze=True,
                 store_non_strided_activations=False, min_base_depth=8, depth_multiplier=1,
                 reuse=None, scope='resnet_v1_50'):
  """ResNet v1, 50 layers; the arguments are `resnet_utils.imagenet_resnet`'s."""
  return resnet_utils.imagenet_resnet(
      resnet_v1, resnet_v1_block, 50, inputs, num_classes=num_classes,
      is_training=is_training, global_pool=global_pool, output_stride=output_stride,
      spatial_squeeze=spatial_squeeze,
      store_non_strided_activations=store_non_strided_activations,
      min_base_depth=min_base_depth, depth_multiplier=depth_multiplier, reuse=reuse,
      scope=scope)


@registry.register('resnet_v1_101', logits_scope='resnet_v1_101/logits', **_REGISTRY_FIELDS)
def resnet_v1_101(inputs, num_classes=None, is_training=True, global_pool=True,
                  output_stride=None, spatial_squeeze=True,
                  store_non_strided_activations=False, min_base_depth=8, depth_multiplier=1,
                  reuse=None, scope='resnet_v1_101'):
  """ResNet v1, 101 layers; the arguments are `resnet_utils.imagenet_resnet`'s."""
  return resnet_utils.imagenet_resnet(
      resnet_v1, resnet_v1_block, 101, inputs, num_classes=num_classes,
      is_training=is_training, global_pool=global_pool, output_stride=output_stride,
      spatial_squeeze=spatial_squeeze,
      store_non_strided_activations=store_non_strided_activations,
      min_base_depth=min_base_depth, depth_multiplier=depth_multiplier, reuse=reuse,
      scope=scope)


@registry.register('resnet_v1_152', logits_scope='resnet_v1_152/logits', **_REGISTRY_FIELDS)
def resnet_v1_152(inputs, num_classes=None, is_training=True, global_pool=True,
                  output_stride=None, store_non_strided_activations=False,
                  spatial_squeeze=True, min_base_depth=8, depth_multiplier=1, reuse=None,
                  scope='resnet_v1_152'):
  """ResNet v1, 152 layers; the arguments are `resnet_utils.imagenet_resnet`'s."""
  return resnet_utils.imagenet_resnet(
      resnet_v1, resnet_v1_block, 152, inputs, num_classes=num_classes,
      is_training=is_training, global_pool=global_pool, output_stride=output_stride,
      spatial_squeeze=spatial_squeeze,
      store_non_strided_activations=store_non_strided_activations,
      min_base_depth=min_base_depth, depth_multiplier=depth_multiplier, reuse=reuse,
      scope=scope)


@registry.register('resnet_v1_200', logits_scope='resnet_v1_200/logits', **_REGISTRY_FIELDS)
def resnet_v1_200(inputs, num_classes=None, is_training=True, global_pool=True,
                  output_stride=None, store_non_strided_activations=False,
                  spatial_squeeze=True, min_base_depth=8, depth_multiplier=1, reuse=None,
                  scope='resnet_v1_200'):
  """ResNet v1, 200 layers; the arguments are `resnet_utils.imagenet_resnet`'s."""
  return resnet_utils.imagenet_resnet(
      resnet_v1, resnet_v1_block, 200, inputs, num_classes=num_classes,
      is_training=is_training, global_pool=global_pool, output_stride=output_stride,
      spatial_squeeze=spatial_squeeze,
      store_non_strided_activations=store_non_strided_activations,
      min_base_depth=min_base_depth, depth_multiplier=depth_multiplier, reuse=reuse,
      scope=scope)
