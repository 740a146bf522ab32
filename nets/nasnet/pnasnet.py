"""PNASNet-5 for ImageNet (mobile and large), as TF-Slim defines it.

Liu, Zoph, Neumann, Shlens, Hua, Li, Fei-Fei, Yuille, Huang, Murphy: "Progressive Neural
Architecture Search", ECCV 2018. The search grew cells block by block, ranking candidates
with a learned predictor; PNASNet-5 is its best cell (Figure 1). Unlike NASNet-A there is
one cell: where the map is halved, the same cell runs with stride 2 and twice the filters.
The stem is NASNet's ImageNet stem, built from this cell. pnasnet_mobile has 3 cells per
stage and 54 filters at 224x224; pnasnet_large 4 cells per stage and 216 filters at
331x331.

Usage:
  from . import pnasnet
  with slim.arg_scope(pnasnet.pnasnet_large_arg_scope()):
    logits, end_points = pnasnet.build_pnasnet_large(images, num_classes=1001,
                                                     is_training=False)
"""

from .. import registry
from . import nasnet
from . import nasnet_utils
from .nasnet_utils import (IDENTITY, MAX_3x3, SEP_3x3, SEP_5x5, SEP_7x7, Cell,
                                      CellStep, Input, NasNetConfig)

PAPER = 'Liu et al., Progressive Neural Architecture Search, ECCV 2018'

# Figure 1. State 0 is h_i (the previous cell's output), 1 is h_{i-1}, 2 + b the output
# of block b; the output concatenates the five blocks.
PNASNET_CELL = Cell(
    blocks=(
        (Input(SEP_5x5, 1), Input(MAX_3x3, 1)),
        (Input(SEP_7x7, 0), Input(MAX_3x3, 0)),
        (Input(SEP_5x5, 0), Input(SEP_3x3, 0)),
        (Input(SEP_3x3, 4), Input(MAX_3x3, 0)),
        (Input(SEP_3x3, 1), Input(IDENTITY, 0)),
    ),
    concat=(2, 3, 4, 5, 6))


def large_imagenet_config():
  """PNASNet-5 large: 4 cells per stage, 216 filters, for 331x331 ImageNet images."""
  return NasNetConfig(
      stem_multiplier=3.0, drop_path_keep_prob=0.6, num_cells=12, use_aux_head=1,
      num_conv_filters=216, dense_dropout_keep_prob=0.5, filter_scaling_rate=2.0,
      num_reduction_layers=2, skip_reduction_layer_input=1, total_training_steps=250000)


def mobile_imagenet_config():
  """PNASNet-5 mobile: 3 cells per stage, 54 filters, for 224x224 ImageNet images."""
  return NasNetConfig(
      stem_multiplier=1.0, drop_path_keep_prob=1.0, num_cells=9, use_aux_head=1,
      num_conv_filters=54, dense_dropout_keep_prob=0.5, filter_scaling_rate=2.0,
      num_reduction_layers=2, skip_reduction_layer_input=1, total_training_steps=250000)


def pnasnet_large_arg_scope(weight_decay=4e-5, batch_norm_decay=0.9997,
                            batch_norm_epsilon=0.001):
  """NASNet's layer defaults, with PNASNet large's weight decay.

  Args:
    weight_decay: L2 regularization of all weights.
    batch_norm_decay: decay of the batch-norm moving statistics.
    batch_norm_epsilon: added to the variance to avoid dividing by zero.

  Returns:
    An arg scope for `slim.arg_scope`.
  """
  return nasnet.nasnet_large_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon)


def pnasnet_mobile_arg_scope(weight_decay=4e-5, batch_norm_decay=0.9997,
                             batch_norm_epsilon=0.001):
  """NASNet mobile's layer defaults (arguments as pnasnet_large_arg_scope)."""
  return nasnet.nasnet_mobile_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon)


def plan(config):
  """The cells of PNASNet-5 in build order; a reduction is the cell at stride 2."""
  steps = nasnet.stem_cells(config, PNASNET_CELL)
  reductions = nasnet_utils.calc_reduction_layers(config.num_cells,
                                                  config.num_reduction_layers)
  filter_scaling = 1.0
  for cell_num in range(config.num_cells):
    is_reduction = cell_num in reductions
    if is_reduction:
      filter_scaling *= config.filter_scaling_rate
    # Without skip_reduction_layer_input TF-Slim's reduction cells keep the second input of
    # the cell before them, the output three back.
    prev_back = 3 if is_reduction and not config.skip_reduction_layer_input else 2
    steps.append(CellStep(PNASNET_CELL, f'cell_{cell_num}', f'Cell_{cell_num}',
                          stride=2 if is_reduction else 1, filter_scaling=filter_scaling,
                          prev_back=prev_back))
  return steps


def _build(images, net_name, config, num_classes, is_training, final_endpoint, current_step):
  steps = plan(config)
  return nasnet_utils.build_network(
      images, net_name=net_name, stem=nasnet.stem(config, nasnet.IMAGENET), steps=steps,
      aux_after=nasnet.aux_cell_index(steps, config), config=config,
      num_classes=num_classes, is_training=is_training, final_endpoint=final_endpoint,
      current_step=current_step)


def _metadata(config):
  steps = plan(config)
  aux = nasnet.aux_cell_index(steps, config)
  return {'min_image_size': nasnet_utils.min_image_size(nasnet.stem(config, nasnet.IMAGENET),
                                                        steps, aux),
          'aux_logits_scope': f'aux_{steps[aux].scope.split("_")[-1]}'}


@registry.register('pnasnet_mobile', arg_scope=pnasnet_mobile_arg_scope,
                   default_image_size=224, preprocessing='inception', num_classes=1001,
                   logits_scope='final_layer', paper=PAPER, **_metadata(mobile_imagenet_config()))
def pnasnet_mobile(images, num_classes, is_training=True, final_endpoint=None,
                   config=None, current_step=None):
  """PNASNet-5 mobile for 224x224 ImageNet images."""
  return _build(images, 'pnasnet_mobile', config or mobile_imagenet_config(), num_classes,
                is_training, final_endpoint, current_step)


@registry.register('pnasnet_large', arg_scope=pnasnet_large_arg_scope, default_image_size=331,
                   preprocessing='inception', num_classes=1001, logits_scope='final_layer',
                   paper=PAPER, **_metadata(large_imagenet_config()))
def pnasnet_large(images, num_classes, is_training=True, final_endpoint=None,
                  config=None, current_step=None):
  """PNASNet-5 large for 331x331 ImageNet images."""
  return _build(images, 'pnasnet_large', config or large_imagenet_config(), num_classes,
                is_training, final_endpoint, current_step)


pnasnet_mobile.__doc__ += nasnet.BUILDER_DOC_ARGS.format(
    config='mobile_imagenet_config()')
pnasnet_large.__doc__ += nasnet.BUILDER_DOC_ARGS.format(
    config='large_imagenet_config()')

# TF-Slim's names.
build_pnasnet_mobile = pnasnet_mobile
build_pnasnet_large = pnasnet_large
