"""MobileNet v2: `mobilenet_v2`, `mobilenet_v2_140` and `mobilenet_v2_035`, as TF-Slim has them.

Sandler, Howard, Zhu, Zhmoginov, Chen: "MobileNetV2: Inverted Residuals and Linear
Bottlenecks", CVPR 2018. The network is the paper's Table 2, built by the engine in
`nets/mobilenet/mobilenet.py` from `V2_DEF`. The 1.4 variant widens every layer; the 0.35
variant narrows every layer but the last (`finegrain_classification_mode`), which the
paper found to matter for small multipliers.

Usage:
  with slim.arg_scope(mobilenet_v2.training_scope(is_training=False)):
    logits, end_points = mobilenet_v2.mobilenet(images)            # 1001 classes
    features, end_points = mobilenet_v2.mobilenet_base(images)     # [batch, 7, 7, 1280]
"""

import copy

import tensorflow as tf
import tf_slim as slim

from .. import layers
from .. import registry
from . import conv_blocks
from . import mobilenet as lib

op = lib.op
expand_input = conv_blocks.expand_input_by_factor

PAPER = ('Sandler et al., MobileNetV2: Inverted Residuals and Linear Bottlenecks, '
         'CVPR 2018')

training_scope = lib.training_scope

# Table 2 of the paper: expansion factor t, output channels c, repeats n, stride s of the
# first repeat.
BOTTLENECKS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)

V2_DEF = dict(
    defaults={
        (slim.conv2d, slim.fully_connected, slim.separable_conv2d): dict(
            normalizer_fn=layers.batch_norm, activation_fn=tf.nn.relu6),
        (conv_blocks.expanded_conv,): dict(
            expansion_size=expand_input(6), normalizer_fn=layers.batch_norm, residual=True),
    },
    spec=(
        [op(slim.conv2d, num_outputs=32, kernel_size=[3, 3], stride=2)]
        + [op(conv_blocks.expanded_conv, expansion_size=expand_input(t), num_outputs=c,
              stride=s if repeat == 0 else 1)
           for t, c, n, s in BOTTLENECKS for repeat in range(n)]
        + [op(slim.conv2d, num_outputs=1280, kernel_size=[1, 1], stride=1)]),
)


def mobilenet(input_tensor, num_classes=1001, depth_multiplier=1.0, scope='MobilenetV2',
              conv_defs=None, finegrain_classification_mode=False, min_depth=8,
              divisible_by=8, activation_fn=None, **kwargs):
  """MobileNet v2.

  Args:
    input_tensor: a [batch, height, width, 1 or 3] tensor; 224x224 as published.
    num_classes: number of predicted classes; 0 or None returns the pooled features.
    depth_multiplier: scales every layer's width (0.35 ... 1.4 in the paper).
    scope: variable scope.
    conv_defs: a table to build instead of `V2_DEF`.
    finegrain_classification_mode: keep the last layer at 1280 channels when
      `depth_multiplier` is below 1.
    min_depth: the smallest width the multiplier may produce.
    divisible_by: widths are multiples of it.
    activation_fn: replaces ReLU6 in every layer.
    **kwargs: `is_training`, `reuse`, `base_only`, `prediction_fn`, `final_endpoint`,
      `output_stride`, `use_explicit_padding` (see `mobilenet.mobilenet`).

  Returns:
    (logits, end_points).
  """
  conv_defs = V2_DEF if conv_defs is None else conv_defs
  if activation_fn is not None:
    conv_defs = copy.deepcopy(conv_defs)
    for fns, params in conv_defs['defaults'].items():
      if slim.conv2d in fns:
        params['activation_fn'] = activation_fn
  return lib.mobilenet(input_tensor, num_classes=num_classes,
                       multiplier=depth_multiplier, scope=scope, conv_defs=conv_defs,
                       finegrain_classification_mode=finegrain_classification_mode,
                       min_depth=min_depth, divisible_by=divisible_by, **kwargs)


# As in TF-Slim, whose nets_factory registers `mobilenet` itself as mobilenet_v2.
mobilenet.default_image_size = 224


def mobilenet_base(input_tensor, depth_multiplier=1.0, **kwargs):
  """The layers of MobileNet v2 without pooling and classifier: (net, end_points)."""
  return mobilenet(input_tensor, depth_multiplier=depth_multiplier, base_only=True, **kwargs)


# What every MobileNet v2 shares in the registry: the widths keep the scope 'MobilenetV2'.
_REGISTRY_FIELDS = dict(arg_scope=training_scope, default_image_size=224,
                        min_image_size=lib.MIN_IMAGE_SIZE, preprocessing='inception',
                        num_classes=1001, logits_scope='MobilenetV2/Logits', paper=PAPER)


@registry.register('mobilenet_v2', **_REGISTRY_FIELDS)
def mobilenet_v2(input_tensor, num_classes=1001, depth_multiplier=1.0, scope='MobilenetV2',
                 conv_defs=None, finegrain_classification_mode=False, min_depth=8,
                 divisible_by=8, activation_fn=None, **kwargs):
  """MobileNet v2 as published (width 1.0); the arguments are `mobilenet`'s."""
  return mobilenet(input_tensor, num_classes, depth_multiplier, scope, conv_defs,
                   finegrain_classification_mode, min_depth, divisible_by, activation_fn,
                   **kwargs)


@registry.register('mobilenet_v2_140', **_REGISTRY_FIELDS)
def mobilenet_v2_140(input_tensor, num_classes=1001, depth_multiplier=1.4, scope='MobilenetV2',
                     conv_defs=None, finegrain_classification_mode=False, min_depth=8,
                     divisible_by=8, activation_fn=None, **kwargs):
  """MobileNet v2 at width 1.4; the arguments are `mobilenet`'s."""
  return mobilenet(input_tensor, num_classes, depth_multiplier, scope, conv_defs,
                   finegrain_classification_mode, min_depth, divisible_by, activation_fn,
                   **kwargs)


# In TF-Slim's module but not in its registry, so not in ours.
def mobilenet_v2_050(input_tensor, num_classes=1001, depth_multiplier=0.5, scope='MobilenetV2',
                     conv_defs=None, finegrain_classification_mode=True, min_depth=8,
                     divisible_by=8, activation_fn=None, **kwargs):
  """MobileNet v2 at width 0.5 (the last layer at full width); see `mobilenet`."""
  return mobilenet(input_tensor, num_classes, depth_multiplier, scope, conv_defs,
                   finegrain_classification_mode, min_depth, divisible_by, activation_fn,
                   **kwargs)


@registry.register('mobilenet_v2_035', **_REGISTRY_FIELDS)
def mobilenet_v2_035(input_tensor, num_classes=1001, depth_multiplier=0.35, scope='MobilenetV2',
                     conv_defs=None, finegrain_classification_mode=True, min_depth=8,
                     divisible_by=8, activation_fn=None, **kwargs):
  """MobileNet v2 at width 0.35 (the last layer at full width); see `mobilenet`."""
  return mobilenet(input_tensor, num_classes, depth_multiplier, scope, conv_defs,
                   finegrain_classification_mode, min_depth, divisible_by, activation_fn,
                   **kwargs)
