"""MobileNet v3 (large, small, minimalistic) and MobileNet-EdgeTPU, as TF-Slim has them.

Howard et al.: "Searching for MobileNetV3", ICCV 2019. `V3_LARGE` and `V3_SMALL` are the
paper's Tables 1 and 2: inverted residuals with squeeze-and-excite in some blocks and the
hard-swish non-linearity in the deeper half, then a 1x1 convolution, a global pool and a
1x1 convolution without batch norm before the classifier. The minimalistic variants drop
what some hardware runs slowly: no squeeze-and-excite, no hard-swish, only 3x3 kernels.

MobileNet-EdgeTPU (Gupta & Tan, "Efficient-EdgeTPU", Google AI blog, 2019) was searched
for the Edge TPU accelerator: ReLU throughout, no squeeze-and-excite, and "fused" inverted
bottlenecks -- one full 3x3 convolution instead of 1x1 expansion plus depthwise
convolution -- in the high-resolution stages, where the accelerator runs them faster.

All are built by the engine in `nets/mobilenet/mobilenet.py`.

Usage:
  with slim.arg_scope(mobilenet_v3.training_scope(is_training=False)):
    logits, end_points = mobilenet_v3.large(images)
    logits, end_points = mobilenet_v3.edge_tpu(images)
"""

import functools

import tensorflow as tf
import tf_slim as slim

from .. import layers
from .. import registry
from . import conv_blocks
from . import mobilenet as lib

op = lib.op

PAPER_V3 = 'Howard et al., Searching for MobileNetV3, ICCV 2019'
PAPER_EDGETPU = ('Gupta, Tan, Introducing the Next Generation of On-Device Vision Models: '
                 'MobileNetV3 and MobileNetEdgeTPU, Google AI Blog, 2019')

training_scope = lib.training_scope


def hard_sigmoid(x, name='hard_sigmoid'):
  """ReLU6(x + 3) / 6: a piecewise-linear sigmoid that quantizes well (Howard et al., 5.2)."""
  with tf.name_scope(name):
    return tf.nn.relu6(x + 3.0) * (1.0 / 6.0)


def hard_swish(x, name='hard_swish'):
  """x * ReLU6(x + 3) / 6, the paper's cheap stand-in for swish (Howard et al., 5.2)."""
  with tf.name_scope(name):
    return x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0)


# The paper's squeeze-and-excite: a bottleneck of a quarter of the expansion's channels,
# gated by the hard sigmoid.
squeeze_excite = functools.partial(conv_blocks.squeeze_excite, squeeze_factor=4,
                                   inner_activation_fn=tf.nn.relu, gating_fn=hard_sigmoid)

_ACTIVATIONS = {'RE': tf.nn.relu, 'HS': hard_swish}

# Tables 1 and 2 of the paper, one row per bottleneck: kernel, expansion size, output
# channels, squeeze-and-excite, non-linearity (RE: ReLU, HS: hard-swish), stride.
LARGE_BLOCKS = (
    (3, 16, 16, False, 'RE', 1),
    (3, 64, 24, False, 'RE', 2),
    (3, 72, 24, False, 'RE', 1),
    (5, 72, 40, True, 'RE', 2),
    (5, 120, 40, True, 'RE', 1),
    (5, 120, 40, True, 'RE', 1),
    (3, 240, 80, False, 'HS', 2),
    (3, 200, 80, False, 'HS', 1),
    (3, 184, 80, False, 'HS', 1),
    (3, 184, 80, False, 'HS', 1),
    (3, 480, 112, True, 'HS', 1),
    (3, 672, 112, True, 'HS', 1),
    (5, 672, 160, True, 'HS', 2),
    (5, 960, 160, True, 'HS', 1),
    (5, 960, 160, True, 'HS', 1),
)
SMALL_BLOCKS = (
    (3, 16, 16, True, 'RE', 2),
    (3, 72, 24, False, 'RE', 2),
    (3, 88, 24, False, 'RE', 1),
    (5, 96, 40, True, 'HS', 2),
    (5, 240, 40, True, 'HS', 1),
    (5, 240, 40, True, 'HS', 1),
    (5, 120, 48, True, 'HS', 1),
    (5, 144, 48, True, 'HS', 1),
    (5, 288, 96, True, 'HS', 2),
    (5, 576, 96, True, 'HS', 1),
    (5, 576, 96, True, 'HS', 1),
)

_DEFAULTS = {
    (slim.conv2d, slim.fully_connected, slim.separable_conv2d): dict(
        normalizer_fn=layers.batch_norm, activation_fn=tf.nn.relu),
    (conv_blocks.expanded_conv,): dict(normalizer_fn=layers.batch_norm, residual=True),
}


def _v3_def(blocks, last_conv, head_conv, minimalistic=False):
  """A table of the paper as conv_defs: stem, bottlenecks, 1x1 conv, pool, 1x1 conv."""
  def activation(name):
    return tf.nn.relu if minimalistic else _ACTIVATIONS[name]

  spec = [op(slim.conv2d, num_outputs=16, kernel_size=(3, 3), stride=2,
             activation_fn=activation('HS'))]
  input_channels = 16
  for kernel, expansion, channels, se, nonlinearity, stride in blocks:
    spec.append(op(
        conv_blocks.expanded_conv,
        # As a factor of the input, so that a depth multiplier keeps the ratio.
        expansion_size=conv_blocks.expand_input_by_factor(expansion / input_channels),
        num_outputs=channels, stride=stride,
        kernel_size=(3, 3) if minimalistic else (kernel, kernel),
        inner_activation_fn=activation(nonlinearity),
        expansion_transform=squeeze_excite if se and not minimalistic else None))
    input_channels = channels
  spec += [
      # Table 2 marks squeeze-and-excite on the small model's last 1x1 convolution; the
      # published checkpoints have none, so neither do we.
      op(slim.conv2d, num_outputs=last_conv, kernel_size=(1, 1), stride=1,
         activation_fn=activation('HS')),
      # TF-Slim's name for this pooling layer.
      op(lib.reduce_to_1x1, scope='AvgPool2D'),
      # After the pool each image is a single vector: no batch norm, a bias instead.
      op(slim.conv2d, num_outputs=head_conv, kernel_size=(1, 1), stride=1,
         normalizer_fn=None, activation_fn=activation('HS')),
  ]
  return dict(defaults=dict(_DEFAULTS), spec=spec)


V3_LARGE = _v3_def(LARGE_BLOCKS, 960, 1280)
V3_SMALL = _v3_def(SMALL_BLOCKS, 576, 1024)
V3_LARGE_MINIMALISTIC = _v3_def(LARGE_BLOCKS, 960, 1280, minimalistic=True)
V3_SMALL_MINIMALISTIC = _v3_def(SMALL_BLOCKS, 576, 1024, minimalistic=True)

# MobileNet-EdgeTPU, one row per bottleneck: fused, expansion factor, output channels,
# stride, kernel. A fused block with factor 1 is a bare 1x1 projection.
EDGETPU_BLOCKS = (
    (True, 1, 16, 1, 3),
    (True, 8, 32, 2, 3),
    (True, 4, 32, 1, 3),
    (True, 4, 32, 1, 3),
    (True, 4, 32, 1, 3),
    (True, 8, 48, 2, 3),
    (True, 4, 48, 1, 3),
    (True, 4, 48, 1, 3),
    (True, 4, 48, 1, 3),
    (False, 8, 96, 2, 3),
    (False, 4, 96, 1, 3),
    (False, 4, 96, 1, 3),
    (False, 4, 96, 1, 3),
    (False, 8, 96, 1, 3),
    (False, 4, 96, 1, 3),
    (False, 4, 96, 1, 3),
    (False, 4, 96, 1, 3),
    (False, 8, 160, 2, 5),
    (False, 4, 160, 1, 5),
    (False, 4, 160, 1, 5),
    (False, 4, 160, 1, 5),
    (False, 8, 192, 1, 3),
)

V3_EDGETPU = dict(
    defaults=dict(_DEFAULTS),
    spec=(
        [op(slim.conv2d, num_outputs=32, kernel_size=(3, 3), stride=2)]
        + [op(conv_blocks.expanded_conv, fused=fused,
              expansion_size=conv_blocks.expand_input_by_factor(factor),
              num_outputs=channels, stride=stride, kernel_size=(kernel, kernel))
           for fused, factor, channels, stride, kernel in EDGETPU_BLOCKS]
        + [op(slim.conv2d, num_outputs=1280, kernel_size=(1, 1), stride=1)]),
)


def mobilenet(input_tensor, num_classes=1001, depth_multiplier=1.0, scope='MobilenetV3',
              conv_defs=None, finegrain_classification_mode=False, **kwargs):
  """MobileNet v3 (`V3_LARGE` unless `conv_defs` says otherwise).

  Args:
    input_tensor: a [batch, height, width, 1 or 3] tensor; 224x224 as published.
    num_classes: number of predicted classes; 0 or None returns the pooled features.
    depth_multiplier: scales every layer's width.
    scope: variable scope.
    conv_defs: the table: V3_LARGE, V3_SMALL, their minimalistic forms or V3_EDGETPU.
    finegrain_classification_mode: keep the last layer at its full width when
      `depth_multiplier` is below 1. (TF-Slim's v3 also keeps it from growing when the
      multiplier is above 1; here it grows, as in v2.)
    **kwargs: `is_training`, `reuse`, `base_only`, `prediction_fn`, `min_depth`,
      `divisible_by`, `final_endpoint`, `output_stride`, `use_explicit_padding`
      (see `mobilenet.mobilenet`).

  Returns:
    (logits, end_points).
  """
  return lib.mobilenet(input_tensor, num_classes=num_classes,
                       multiplier=depth_multiplier, scope=scope,
                       conv_defs=V3_LARGE if conv_defs is None else conv_defs,
                       finegrain_classification_mode=finegrain_classification_mode, **kwargs)


def mobilenet_base(input_tensor, depth_multiplier=1.0, **kwargs):
  """The layers of MobileNet v3 without the classifier: (net, end_points)."""
  return mobilenet(input_tensor, depth_multiplier=depth_multiplier, base_only=True, **kwargs)


# What every MobileNet v3 and EdgeTPU shares in the registry; each adds its logits scope
# and paper.
_REGISTRY_FIELDS = dict(arg_scope=training_scope, default_image_size=224,
                        min_image_size=lib.MIN_IMAGE_SIZE, preprocessing='inception',
                        num_classes=1001)

# TF-Slim's variants take mobilenet's first four arguments by position.
@registry.register('mobilenet_v3_large', logits_scope='MobilenetV3/Logits', paper=PAPER_V3,
                   **_REGISTRY_FIELDS)
def mobilenet_v3_large(input_tensor, num_classes=1001, depth_multiplier=1.0, scope='MobilenetV3',
                       conv_defs=V3_LARGE, finegrain_classification_mode=False, **kwargs):
  """MobileNet v3 large (Table 1). The arguments are `mobilenet`'s."""
  return mobilenet(input_tensor, num_classes, depth_multiplier, scope, conv_defs,
                   finegrain_classification_mode, **kwargs)


@registry.register('mobilenet_v3_small', logits_scope='MobilenetV3/Logits', paper=PAPER_V3,
                   **_REGISTRY_FIELDS)
def mobilenet_v3_small(input_tensor, num_classes=1001, depth_multiplier=1.0, scope='MobilenetV3',
                       conv_defs=V3_SMALL, finegrain_classification_mode=False, **kwargs):
  """MobileNet v3 small (Table 2). The arguments are `mobilenet`'s."""
  return mobilenet(input_tensor, num_classes, depth_multiplier, scope, conv_defs,
                   finegrain_classification_mode, **kwargs)


@registry.register('mobilenet_v3_large_minimalistic', logits_scope='MobilenetV3/Logits',
                   paper=PAPER_V3, **_REGISTRY_FIELDS)
def mobilenet_v3_large_minimalistic(input_tensor, num_classes=1001, depth_multiplier=1.0,
                                    scope='MobilenetV3', conv_defs=V3_LARGE_MINIMALISTIC,
                                    finegrain_classification_mode=False, **kwargs):
  """MobileNet v3 large without squeeze-and-excite, hard-swish and 5x5 kernels.

  The arguments are `mobilenet`'s.
  """
  return mobilenet(input_tensor, num_classes, depth_multiplier, scope, conv_defs,
                   finegrain_classification_mode, **kwargs)


@registry.register('mobilenet_v3_small_minimalistic', logits_scope='MobilenetV3/Logits',
                   paper=PAPER_V3, **_REGISTRY_FIELDS)
def mobilenet_v3_small_minimalistic(input_tensor, num_classes=1001, depth_multiplier=1.0,
                                    scope='MobilenetV3', conv_defs=V3_SMALL_MINIMALISTIC,
                                    finegrain_classification_mode=False, **kwargs):
  """MobileNet v3 small without squeeze-and-excite, hard-swish and 5x5 kernels.

  The arguments are `mobilenet`'s.
  """
  return mobilenet(input_tensor, num_classes, depth_multiplier, scope, conv_defs,
                   finegrain_classification_mode, **kwargs)


@registry.register('mobilenet_edgetpu', logits_scope='MobilenetEdgeTPU/Logits', paper=PAPER_EDGETPU,
                   **_REGISTRY_FIELDS)
def mobilenet_edgetpu(input_tensor, num_classes=1001, depth_multiplier=1.0,
                      scope='MobilenetEdgeTPU',
                      conv_defs=V3_EDGETPU, finegrain_classification_mode=False, **kwargs):
  """MobileNet-EdgeTPU. The arguments are `mobilenet`'s."""
  return mobilenet(input_tensor, num_classes, depth_multiplier, scope, conv_defs,
                   finegrain_classification_mode, **kwargs)


@registry.register('mobilenet_edgetpu_075', logits_scope='MobilenetEdgeTPU/Logits',
                   paper=PAPER_EDGETPU, **_REGISTRY_FIELDS)
def mobilenet_edgetpu_075(input_tensor, num_classes=1001, depth_multiplier=0.75,
                          scope='MobilenetEdgeTPU',
                          conv_defs=V3_EDGETPU, finegrain_classification_mode=True, **kwargs):
  """MobileNet-EdgeTPU at 0.75 width, last layer at full width; see `mobilenet`."""
  return mobilenet(input_tensor, num_classes, depth_multiplier, scope, conv_defs,
                   finegrain_classification_mode, **kwargs)


# TF-Slim's names.
large = mobilenet_v3_large
small = mobilenet_v3_small
large_minimalistic = mobilenet_v3_large_minimalistic
small_minimalistic = mobilenet_v3_small_minimalistic
edge_tpu = mobilenet_edgetpu
edge_tpu_075 = mobilenet_edgetpu_075
