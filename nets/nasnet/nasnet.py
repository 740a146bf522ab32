"""NASNet-A for CIFAR-10 and ImageNet (mobile and large), as TF-Slim defines them.

Zoph, Vasudevan, Shlens, Le: "Learning Transferable Architectures for Scalable Image
Recognition", CVPR 2018. A controller searched for two cells on CIFAR-10; NASNet-A stacks
them: N normal cells per stage, a reduction cell (stride 2, filters doubled) between stages
(Figure 2). The ImageNet models start with a strided 3x3 convolution and two reduction cells
as stem; CIFAR with a 3x3 convolution. "N @ F" in the paper's tables is N normal cells per
stage and F filters in the penultimate layer: nasnet_cifar is 6 @ 768, nasnet_mobile
4 @ 1056, nasnet_large 6 @ 4032. An auxiliary classifier reads the last cell before the
second reduction during training.

The builders are registered under their model names (`nasnet_large(images, num_classes,
is_training, final_endpoint, config, current_step)`) and keep TF-Slim's names as aliases
(`build_nasnet_large`), its positional arguments and its variable names, so that the
published checkpoints restore. A `config` (`large_imagenet_config()` etc.,
changed with `set_hparam`) sets drop-path, the auxiliary head and use_bounded_activation.

Usage:
  from . import nasnet
  with slim.arg_scope(nasnet.nasnet_large_arg_scope()):
    logits, end_points = nasnet.build_nasnet_large(images, num_classes=1001,
                                                   is_training=False)
  # Features of the cell before the second reduction:
  net, end_points = nasnet.build_nasnet_mobile(images, 1001, final_endpoint='Cell_7')
"""

import tf_slim as slim

from .. import layers
from .. import registry
from . import nasnet_utils
from .nasnet_utils import (AVG_3x3, IDENTITY, MAX_3x3, SEP_3x3, SEP_5x5, SEP_7x7,
                                      Cell, CellStep, ConvStem, Input, NasNetConfig)

PAPER = ('Zoph et al., Learning Transferable Architectures for Scalable Image Recognition, '
         'CVPR 2018')

# Figure 4 (NASNet-A). State 0 is h_i (the previous cell's output), 1 is h_{i-1}, 2 + b the
# output of block b.
NORMAL_CELL = Cell(
    blocks=(
        (Input(SEP_5x5, 0), Input(SEP_3x3, 1)),
        (Input(SEP_5x5, 1), Input(SEP_3x3, 1)),
        (Input(AVG_3x3, 0), Input(IDENTITY, 1)),
        (Input(AVG_3x3, 1), Input(AVG_3x3, 1)),
        (Input(SEP_3x3, 0), Input(IDENTITY, 0)),
    ),
    concat=(1, 2, 3, 4, 5, 6))

REDUCTION_CELL = Cell(
    blocks=(
        (Input(SEP_5x5, 0), Input(SEP_7x7, 1)),
        (Input(MAX_3x3, 0), Input(SEP_7x7, 1)),
        (Input(AVG_3x3, 0), Input(SEP_5x5, 1)),
        (Input(IDENTITY, 3), Input(AVG_3x3, 2)),
        (Input(SEP_3x3, 2), Input(MAX_3x3, 0)),
    ),
    concat=(3, 4, 5, 6))


def cifar_config():
  """NASNet-A 6 @ 768 for CIFAR-10 (600 epochs at batch 32 set total_training_steps)."""
  return NasNetConfig(
      stem_multiplier=3.0, drop_path_keep_prob=0.6, num_cells=18, use_aux_head=1,
      num_conv_filters=32, dense_dropout_keep_prob=1.0, filter_scaling_rate=2.0,
      num_reduction_layers=2, skip_reduction_layer_input=0, total_training_steps=937500)


def mobile_imagenet_config():
  """NASNet-A 4 @ 1056 for ImageNet at 224x224, without drop-path."""
  return NasNetConfig(
      stem_multiplier=1.0, drop_path_keep_prob=1.0, num_cells=12, use_aux_head=1,
      num_conv_filters=44, dense_dropout_keep_prob=0.5, filter_scaling_rate=2.0,
      num_reduction_layers=2, skip_reduction_layer_input=0, total_training_steps=250000)


def large_imagenet_config():
  """NASNet-A 6 @ 4032 for ImageNet at 331x331."""
  return NasNetConfig(
      stem_multiplier=3.0, drop_path_keep_prob=0.7, num_cells=18, use_aux_head=1,
      num_conv_filters=168, dense_dropout_keep_prob=0.5, filter_scaling_rate=2.0,
      num_reduction_layers=2, skip_reduction_layer_input=1, total_training_steps=250000)


def _nasnet_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon):
  """Convolutions without bias or activation (the cells place ReLU and batch norm
  themselves), He initialization by fan-out, L2 decay; the logits layer is 'FC'."""
  with slim.arg_scope([slim.fully_connected, slim.conv2d, slim.separable_conv2d],
                      weights_regularizer=slim.l2_regularizer(weight_decay),
                      weights_initializer=slim.variance_scaling_initializer(mode='FAN_OUT')):
    with slim.arg_scope([slim.fully_connected], activation_fn=None, scope='FC'):
      with slim.arg_scope([slim.conv2d, slim.separable_conv2d], activation_fn=None,
                          biases_initializer=None):
        with slim.arg_scope([layers.batch_norm], decay=batch_norm_decay,
                            epsilon=batch_norm_epsilon, scale=True) as sc:
          return sc


def nasnet_cifar_arg_scope(weight_decay=5e-4, batch_norm_decay=0.9, batch_norm_epsilon=1e-5):
  """The layer defaults NASNet-A was trained with on CIFAR-10.

  Args:
    weight_decay: L2 regularization of all weights.
    batch_norm_decay: decay of the batch-norm moving statistics.
    batch_norm_epsilon: added to the variance to avoid dividing by zero.

  Returns:
    An arg scope for `slim.arg_scope`.
  """
  return _nasnet_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon)


def nasnet_mobile_arg_scope(weight_decay=4e-5, batch_norm_decay=0.9997,
                            batch_norm_epsilon=1e-3):
  """The layer defaults of NASNet-A mobile on ImageNet (arguments as nasnet_cifar_arg_scope)."""
  return _nasnet_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon)


def nasnet_large_arg_scope(weight_decay=5e-5, batch_norm_decay=0.9997,
                           batch_norm_epsilon=1e-3):
  """The layer defaults of NASNet-A large on ImageNet (arguments as nasnet_cifar_arg_scope)."""
  return _nasnet_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon)


CIFAR = 'cifar'
IMAGENET = 'imagenet'
_NUM_STEM_CELLS = 2


def stem(config, stem_type):
  """The convolution before the cells: strided and VALID on ImageNet, as TF-Slim has it."""
  if stem_type == IMAGENET:
    return ConvStem('conv0', 'conv0_bn', int(32 * config.stem_multiplier), stride=2,
                    padding='VALID')
  return ConvStem('l1_stem_3x3', 'l1_stem_bn',
                  int(config.num_conv_filters * config.stem_multiplier), stride=1,
                  padding='SAME')


def stem_cells(config, cell):
  """The ImageNet stem's two stride-2 cells, with a quarter and half the filters."""
  rate = config.filter_scaling_rate
  return [CellStep(cell, f'cell_stem_{index}',
                   'Stem' if index == _NUM_STEM_CELLS - 1 else None, stride=2,
                   filter_scaling=rate ** (index - _NUM_STEM_CELLS))
          for index in range(_NUM_STEM_CELLS)]


def aux_cell_index(steps, config):
  """Index in `steps` of the cell before the second reduction (the auxiliary head's input)."""
  reductions = nasnet_utils.calc_reduction_layers(config.num_cells,
                                                  config.num_reduction_layers)
  if len(reductions) < 2:
    return None
  scope = f'cell_{reductions[1] - 1}'
  return next(index for index, step in enumerate(steps) if step.scope == scope)


def plan(config, stem_type):
  """The cells of NASNet-A in build order: stem cells, then stages of normal cells with a
  reduction cell between them."""
  steps = stem_cells(config, REDUCTION_CELL) if stem_type == IMAGENET else []
  reductions = nasnet_utils.calc_reduction_layers(config.num_cells,
                                                  config.num_reduction_layers)
  filter_scaling = 1.0
  for cell_num in range(config.num_cells):
    after_reduction = cell_num in reductions
    if after_reduction:
      filter_scaling *= config.filter_scaling_rate
      index = reductions.index(cell_num)
      steps.append(CellStep(REDUCTION_CELL, f'reduction_cell_{index}',
                            f'Reduction_Cell_{index}', stride=2,
                            filter_scaling=filter_scaling))
    # skip_reduction_layer_input: the cell after a reduction pairs it with the output from
    # before the reduction's own inputs, not with the reduction's first input.
    prev_back = 3 if after_reduction and config.skip_reduction_layer_input else 2
    steps.append(CellStep(NORMAL_CELL, f'cell_{cell_num}', f'Cell_{cell_num}', stride=1,
                          filter_scaling=filter_scaling, prev_back=prev_back))
  return steps


def _build(images, net_name, config, stem_type, num_classes, is_training, final_endpoint,
           current_step):
  steps = plan(config, stem_type)
  return nasnet_utils.build_network(
      images, net_name=net_name, stem=stem(config, stem_type), steps=steps,
      aux_after=aux_cell_index(steps, config), config=config, num_classes=num_classes,
      is_training=is_training, final_endpoint=final_endpoint, current_step=current_step)


def _metadata(config, stem_type):
  """The smallest input with the auxiliary head, and the head's scope."""
  steps = plan(config, stem_type)
  aux = aux_cell_index(steps, config)
  return {'min_image_size': nasnet_utils.min_image_size(stem(config, stem_type), steps, aux),
          'aux_logits_scope': f'aux_{steps[aux].scope.split("_")[-1]}'}


BUILDER_DOC_ARGS = """
  Args:
    images: [batch, height, width, 3] images.
    num_classes: number of predicted classes; 0 or None returns the pooled features.
    is_training: True for the training graph (batch statistics, dropout, drop-path and
      the auxiliary head, `end_points['AuxLogits']`); False for inference.
    final_endpoint: stop after this end point ('Stem', 'Cell_3', 'Reduction_Cell_0',
      'global_pool', ...) and return its output.
    config: a `NasNetConfig`; None uses the {config} defaults.
    current_step: the step drop-path's schedule reads; None reads the global step.

  Returns:
    net: the logits (the pooled features without classes, or the output of
      final_endpoint).
    end_points: the outputs of the cells, 'global_pool', 'Logits', 'Predictions'.

  Raises:
    ValueError: unknown final_endpoint or bad images.
    TypeError: is_training is not True or False (None included: it decides drop-path and
      the auxiliary head).
"""


@registry.register('nasnet_cifar', arg_scope=nasnet_cifar_arg_scope, default_image_size=32,
                   preprocessing='cifarnet', num_classes=10, logits_scope='final_layer',
                   paper=PAPER, **_metadata(cifar_config(), CIFAR))
def nasnet_cifar(images, num_classes, is_training=True, config=None, current_step=None,
                 final_endpoint=None):
  """NASNet-A 6 @ 768 for 32x32 CIFAR-10 images."""
  return _build(images, 'nasnet_cifar', config or cifar_config(), CIFAR, num_classes,
                is_training, final_endpoint, current_step)


@registry.register('nasnet_mobile', arg_scope=nasnet_mobile_arg_scope, default_image_size=224,
                   preprocessing='inception', num_classes=1001, logits_scope='final_layer',
                   paper=PAPER, **_metadata(mobile_imagenet_config(), IMAGENET))
def nasnet_mobile(images, num_classes, is_training=True, final_endpoint=None,
                  config=None, current_step=None):
  """NASNet-A 4 @ 1056 for 224x224 ImageNet images."""
  return _build(images, 'nasnet_mobile', config or mobile_imagenet_config(), IMAGENET,
                num_classes, is_training, final_endpoint, current_step)


@registry.register('nasnet_large', arg_scope=nasnet_large_arg_scope, default_image_size=331,
                   preprocessing='inception', num_classes=1001, logits_scope='final_layer',
                   paper=PAPER, **_metadata(large_imagenet_config(), IMAGENET))
def nasnet_large(images, num_classes, is_training=True, final_endpoint=None,
                 config=None, current_step=None):
  """NASNet-A 6 @ 4032 for 331x331 ImageNet images."""
  return _build(images, 'nasnet_large', config or large_imagenet_config(), IMAGENET,
                num_classes, is_training, final_endpoint, current_step)


nasnet_cifar.__doc__ += BUILDER_DOC_ARGS.format(config='cifar_config()')
nasnet_mobile.__doc__ += BUILDER_DOC_ARGS.format(config='mobile_imagenet_config()')
nasnet_large.__doc__ += BUILDER_DOC_ARGS.format(config='large_imagenet_config()')

# TF-Slim's names.
build_nasnet_cifar = nasnet_cifar
build_nasnet_mobile = nasnet_mobile
build_nasnet_large = nasnet_large
