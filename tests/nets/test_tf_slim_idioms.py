"""TF-Slim's idioms on our networks: arg scopes on slim.batch_norm, is_training=None, and
calls that pass arguments by position.

Code written against TF-Slim (research/slim) relies on three things these tests pin:
- `slim.arg_scope([slim.batch_norm], ...)` reaches our `layers.batch_norm` (it is how
  TF-Slim users freeze batch norm for fine-tuning), and a family's arg scope is found
  under `slim.arg_scope_func_key(slim.batch_norm)`;
- `is_training=None` builds without setting batch norm's mode where TF-Slim's builder
  does so (ResNet, the MobileNet v2/v3 engine and their training scopes, and
  mobilenet_v1_arg_scope), and is refused in one line elsewhere;
- every public builder takes TF-Slim's arguments in TF-Slim's positional order
  (`TF_SLIM_POSITIONAL`, written from research/slim), and a value of the wrong type in a
  boolean argument is an error.
"""

import importlib
import inspect
import re

import pytest
import tensorflow as tf
import tf_slim as slim

from nets import alexnet
from nets import cifarnet
from nets import inception_resnet_v2
from nets import inception_utils
from nets import inception_v1
from nets import inception_v2
from nets import inception_v3
from nets import inception_v4
from nets import layers
from nets import lenet
from nets import mobilenet_v1
from nets import nets_factory
from nets import overfeat
from nets import resnet_utils
from nets import resnet_v1
from nets import resnet_v2
from nets import vgg
from nets.mobilenet import mobilenet as mobilenet_lib
from nets.mobilenet import mobilenet_v2
from nets.mobilenet import mobilenet_v3

tf1 = tf.compat.v1

_RESNET_V1_50_ORDER = ('inputs', 'num_classes', 'is_training', 'global_pool', 'output_stride',
                       'spatial_squeeze', 'store_non_strided_activations', 'min_base_depth',
                       'depth_multiplier', 'reuse', 'scope')
# TF-Slim's 152 and 200 take store_non_strided_activations before spatial_squeeze.
_RESNET_V1_152_ORDER = ('inputs', 'num_classes', 'is_training', 'global_pool',
                        'output_stride', 'store_non_strided_activations', 'spatial_squeeze',
                        'min_base_depth', 'depth_multiplier', 'reuse', 'scope')
_RESNET_V2_ORDER = ('inputs', 'num_classes', 'is_training', 'global_pool', 'output_stride',
                    'spatial_squeeze', 'reuse', 'scope')
_VGG_ORDER = ('inputs', 'num_classes', 'is_training', 'dropout_keep_prob', 'spatial_squeeze',
              'reuse', 'scope', 'fc_conv_padding', 'global_pool')
_MOBILENET_V1_ORDER = ('inputs', 'num_classes', 'dropout_keep_prob', 'is_training',
                       'min_depth', 'depth_multiplier', 'conv_defs', 'prediction_fn',
                       'spatial_squeeze', 'reuse', 'scope', 'global_pool')
_INCEPTION_ARG_SCOPE_ORDER = ('weight_decay', 'use_batch_norm', 'batch_norm_decay',
                              'batch_norm_epsilon', 'activation_fn',
                              'batch_norm_updates_collections', 'batch_norm_scale')
_NASNET_ARG_SCOPE_ORDER = ('weight_decay', 'batch_norm_decay', 'batch_norm_epsilon')
_NASNET_ORDER = ('images', 'num_classes', 'is_training', 'final_endpoint', 'config',
                 'current_step')

# The parameters TF-Slim's public functions take by position, in order (research/slim,
# tf_slim era), keyed by (our module, name). Where TF-Slim builds a variant with
# functools.partial, the list stops before the first argument the partial binds, since
# passing that one by position is an error there too.
TF_SLIM_POSITIONAL = {
    ('nets.alexnet', 'alexnet_v2'): (
        'inputs', 'num_classes', 'is_training', 'dropout_keep_prob', 'spatial_squeeze',
        'scope', 'global_pool'),
    ('nets.alexnet', 'alexnet_v2_arg_scope'): ('weight_decay',),
    ('nets.cifarnet', 'cifarnet'): (
        'images', 'num_classes', 'is_training', 'dropout_keep_prob', 'prediction_fn', 'scope'),
    ('nets.cifarnet', 'cifarnet_arg_scope'): ('weight_decay',),
    ('nets.inception_utils', 'inception_arg_scope'): _INCEPTION_ARG_SCOPE_ORDER,
    ('nets.inception_v1', 'inception_v1_base'): (
        'inputs', 'final_endpoint', 'include_root_block', 'scope'),
    ('nets.inception_v1', 'inception_v1'): (
        'inputs', 'num_classes', 'is_training', 'dropout_keep_prob', 'prediction_fn',
        'spatial_squeeze', 'reuse', 'scope', 'global_pool'),
    ('nets.inception_v1', 'inception_v1_arg_scope'): _INCEPTION_ARG_SCOPE_ORDER,
    ('nets.inception_v2', 'inception_v2_base'): (
        'inputs', 'final_endpoint', 'min_depth', 'depth_multiplier', 'use_separable_conv',
        'data_format', 'include_root_block', 'scope'),
    ('nets.inception_v2', 'inception_v2'): (
        'inputs', 'num_classes', 'is_training', 'dropout_keep_prob', 'min_depth',
        'depth_multiplier', 'prediction_fn', 'spatial_squeeze', 'reuse', 'scope',
        'global_pool'),
    ('nets.inception_v2', 'inception_v2_arg_scope'): _INCEPTION_ARG_SCOPE_ORDER,
    ('nets.inception_v3', 'inception_v3_base'): (
        'inputs', 'final_endpoint', 'min_depth', 'depth_multiplier', 'scope'),
    ('nets.inception_v3', 'inception_v3'): (
        'inputs', 'num_classes', 'is_training', 'dropout_keep_prob', 'min_depth',
        'depth_multiplier', 'prediction_fn', 'spatial_squeeze', 'reuse', 'create_aux_logits',
        'scope', 'global_pool'),
    ('nets.inception_v3', 'inception_v3_arg_scope'): _INCEPTION_ARG_SCOPE_ORDER,
    ('nets.inception_v4', 'inception_v4_base'): ('inputs', 'final_endpoint', 'scope'),
    ('nets.inception_v4', 'inception_v4'): (
        'inputs', 'num_classes', 'is_training', 'dropout_keep_prob', 'reuse', 'scope',
        'create_aux_logits'),
    ('nets.inception_v4', 'inception_v4_arg_scope'): _INCEPTION_ARG_SCOPE_ORDER,
    ('nets.inception_resnet_v2', 'inception_resnet_v2_base'): (
        'inputs', 'final_endpoint', 'output_stride', 'align_feature_maps', 'scope',
        'activation_fn'),
    ('nets.inception_resnet_v2', 'inception_resnet_v2'): (
        'inputs', 'num_classes', 'is_training', 'dropout_keep_prob', 'reuse', 'scope',
        'create_aux_logits', 'activation_fn'),
    ('nets.inception_resnet_v2', 'inception_resnet_v2_arg_scope'): (
        'weight_decay', 'batch_norm_decay', 'batch_norm_epsilon', 'activation_fn',
        'batch_norm_updates_collections', 'batch_norm_scale'),
    ('nets.lenet', 'lenet'): (
        'images', 'num_classes', 'is_training', 'dropout_keep_prob', 'prediction_fn', 'scope'),
    ('nets.lenet', 'lenet_arg_scope'): ('weight_decay',),
    ('nets.mobilenet_v1', 'mobilenet_v1_base'): (
        'inputs', 'final_endpoint', 'min_depth', 'depth_multiplier', 'conv_defs',
        'output_stride', 'use_explicit_padding', 'scope'),
    ('nets.mobilenet_v1', 'mobilenet_v1'): _MOBILENET_V1_ORDER,
    # functools.partial(mobilenet_v1, depth_multiplier=...).
    ('nets.mobilenet_v1', 'mobilenet_v1_075'): _MOBILENET_V1_ORDER[:5],
    ('nets.mobilenet_v1', 'mobilenet_v1_050'): _MOBILENET_V1_ORDER[:5],
    ('nets.mobilenet_v1', 'mobilenet_v1_025'): _MOBILENET_V1_ORDER[:5],
    ('nets.mobilenet_v1', 'mobilenet_v1_arg_scope'): (
        'is_training', 'weight_decay', 'stddev', 'regularize_depthwise', 'batch_norm_decay',
        'batch_norm_epsilon', 'batch_norm_updates_collections', 'normalizer_fn'),
    ('nets.mobilenet.mobilenet', 'mobilenet_base'): (
        'inputs', 'conv_defs', 'multiplier', 'final_endpoint', 'output_stride',
        'use_explicit_padding', 'scope', 'is_training'),
    ('nets.mobilenet.mobilenet', 'mobilenet'): (
        'inputs', 'num_classes', 'prediction_fn', 'reuse', 'scope', 'base_only'),
    ('nets.mobilenet.mobilenet', 'training_scope'): (
        'is_training', 'weight_decay', 'stddev', 'dropout_keep_prob', 'bn_decay'),
    ('nets.mobilenet.mobilenet_v2', 'mobilenet'): (
        'input_tensor', 'num_classes', 'depth_multiplier', 'scope', 'conv_defs',
        'finegrain_classification_mode', 'min_depth', 'divisible_by', 'activation_fn'),
    ('nets.mobilenet.mobilenet_v2', 'mobilenet_base'): ('input_tensor', 'depth_multiplier'),
    # TF-Slim registers `mobilenet` itself as mobilenet_v2; ours registers a mobilenet_v2
    # that takes mobilenet's arguments.
    ('nets.mobilenet.mobilenet_v2', 'mobilenet_v2'): (
        'input_tensor', 'num_classes', 'depth_multiplier', 'scope', 'conv_defs',
        'finegrain_classification_mode', 'min_depth', 'divisible_by', 'activation_fn'),
    # functools.partial(mobilenet, depth_multiplier=...).
    ('nets.mobilenet.mobilenet_v2', 'mobilenet_v2_140'): ('input_tensor', 'num_classes'),
    ('nets.mobilenet.mobilenet_v2', 'mobilenet_v2_050'): ('input_tensor', 'num_classes'),
    ('nets.mobilenet.mobilenet_v2', 'mobilenet_v2_035'): ('input_tensor', 'num_classes'),
    ('nets.mobilenet.mobilenet_v3', 'mobilenet'): (
        'input_tensor', 'num_classes', 'depth_multiplier', 'scope', 'conv_defs',
        'finegrain_classification_mode'),
    ('nets.mobilenet.mobilenet_v3', 'mobilenet_base'): ('input_tensor', 'depth_multiplier'),
    # Partials that bind conv_defs; edge_tpu also presets scope, edge_tpu_075 the width.
    ('nets.mobilenet.mobilenet_v3', 'large'): (
        'input_tensor', 'num_classes', 'depth_multiplier', 'scope'),
    ('nets.mobilenet.mobilenet_v3', 'small'): (
        'input_tensor', 'num_classes', 'depth_multiplier', 'scope'),
    ('nets.mobilenet.mobilenet_v3', 'large_minimalistic'): (
        'input_tensor', 'num_classes', 'depth_multiplier', 'scope'),
    ('nets.mobilenet.mobilenet_v3', 'small_minimalistic'): (
        'input_tensor', 'num_classes', 'depth_multiplier', 'scope'),
    ('nets.mobilenet.mobilenet_v3', 'edge_tpu'): (
        'input_tensor', 'num_classes', 'depth_multiplier'),
    ('nets.mobilenet.mobilenet_v3', 'edge_tpu_075'): ('input_tensor', 'num_classes'),
    ('nets.overfeat', 'overfeat'): (
        'inputs', 'num_classes', 'is_training', 'dropout_keep_prob', 'spatial_squeeze',
        'scope', 'global_pool'),
    ('nets.overfeat', 'overfeat_arg_scope'): ('weight_decay',),
    ('nets.resnet_utils', 'subsample'): ('inputs', 'factor', 'scope'),
    ('nets.resnet_utils', 'conv2d_same'): (
        'inputs', 'num_outputs', 'kernel_size', 'stride', 'rate', 'scope'),
    ('nets.resnet_utils', 'stack_blocks_dense'): (
        'net', 'blocks', 'output_stride', 'store_non_strided_activations',
        'outputs_collections'),
    ('nets.resnet_utils', 'resnet_arg_scope'): (
        'weight_decay', 'batch_norm_decay', 'batch_norm_epsilon', 'batch_norm_scale',
        'activation_fn', 'use_batch_norm', 'batch_norm_updates_collections'),
    ('nets.resnet_v1', 'bottleneck'): (
        'inputs', 'depth', 'depth_bottleneck', 'stride', 'rate', 'outputs_collections',
        'scope', 'use_bounded_activations'),
    ('nets.resnet_v1', 'resnet_v1'): (
        'inputs', 'blocks', 'num_classes', 'is_training', 'global_pool', 'output_stride',
        'include_root_block', 'spatial_squeeze', 'store_non_strided_activations', 'reuse',
        'scope'),
    ('nets.resnet_v1', 'resnet_v1_block'): ('scope', 'base_depth', 'num_units', 'stride'),
    ('nets.resnet_v1', 'resnet_v1_50'): _RESNET_V1_50_ORDER,
    ('nets.resnet_v1', 'resnet_v1_101'): _RESNET_V1_50_ORDER,
    ('nets.resnet_v1', 'resnet_v1_152'): _RESNET_V1_152_ORDER,
    ('nets.resnet_v1', 'resnet_v1_200'): _RESNET_V1_152_ORDER,
    ('nets.resnet_v2', 'bottleneck'): (
        'inputs', 'depth', 'depth_bottleneck', 'stride', 'rate', 'outputs_collections',
        'scope'),
    ('nets.resnet_v2', 'resnet_v2'): (
        'inputs', 'blocks', 'num_classes', 'is_training', 'global_pool', 'output_stride',
        'include_root_block', 'spatial_squeeze', 'reuse', 'scope'),
    ('nets.resnet_v2', 'resnet_v2_block'): ('scope', 'base_depth', 'num_units', 'stride'),
    ('nets.resnet_v2', 'resnet_v2_50'): _RESNET_V2_ORDER,
    ('nets.resnet_v2', 'resnet_v2_101'): _RESNET_V2_ORDER,
    ('nets.resnet_v2', 'resnet_v2_152'): _RESNET_V2_ORDER,
    ('nets.resnet_v2', 'resnet_v2_200'): _RESNET_V2_ORDER,
    ('nets.vgg', 'vgg_a'): _VGG_ORDER,
    ('nets.vgg', 'vgg_16'): _VGG_ORDER,
    ('nets.vgg', 'vgg_19'): _VGG_ORDER,
    ('nets.vgg', 'vgg_d'): _VGG_ORDER,
    ('nets.vgg', 'vgg_e'): _VGG_ORDER,
    ('nets.vgg', 'vgg_arg_scope'): ('weight_decay',),
    ('nets.nasnet.nasnet', 'build_nasnet_cifar'): (
        'images', 'num_classes', 'is_training', 'config', 'current_step'),
    ('nets.nasnet.nasnet', 'build_nasnet_mobile'): _NASNET_ORDER,
    ('nets.nasnet.nasnet', 'build_nasnet_large'): _NASNET_ORDER,
    ('nets.nasnet.pnasnet', 'build_pnasnet_mobile'): _NASNET_ORDER[:5],
    ('nets.nasnet.pnasnet', 'build_pnasnet_large'): _NASNET_ORDER[:5],
    ('nets.nasnet.nasnet', 'nasnet_cifar_arg_scope'): _NASNET_ARG_SCOPE_ORDER,
    ('nets.nasnet.nasnet', 'nasnet_mobile_arg_scope'): _NASNET_ARG_SCOPE_ORDER,
    ('nets.nasnet.nasnet', 'nasnet_large_arg_scope'): _NASNET_ARG_SCOPE_ORDER,
    ('nets.nasnet.pnasnet', 'pnasnet_mobile_arg_scope'): _NASNET_ARG_SCOPE_ORDER,
    ('nets.nasnet.pnasnet', 'pnasnet_large_arg_scope'): _NASNET_ARG_SCOPE_ORDER,
    ('nets.nasnet.nasnet_utils', 'calc_reduction_layers'): ('num_cells', 'num_reduction_layers'),
    ('nets.nasnet.nasnet_utils', 'get_channel_index'): ('data_format',),
    ('nets.nasnet.nasnet_utils', 'get_channel_dim'): ('shape', 'data_format'),
    ('nets.nasnet.nasnet_utils', 'global_avg_pool'): ('x', 'data_format'),
    ('nets.nasnet.nasnet_utils', 'factorized_reduction'): (
        'net', 'output_filters', 'stride', 'data_format'),
    ('nets.nasnet.nasnet_utils', 'drop_path'): ('net', 'keep_prob', 'is_training'),
    ('nets.i3d', 'i3d_arg_scope'): (
        'weight_decay', 'batch_norm_decay', 'batch_norm_epsilon', 'use_renorm',
        'separable_conv3d'),
    ('nets.i3d', 'i3d_base'): ('inputs', 'final_endpoint', 'scope'),
    ('nets.i3d_utils', 'conv3d_spatiotemporal'): (
        'inputs', 'num_outputs', 'kernel_size', 'stride', 'padding', 'activation_fn',
        'normalizer_fn', 'normalizer_params', 'weights_regularizer', 'separable',
        'data_format', 'scope'),
    ('nets.i3d_utils', 'inception_block_v1_3d'): (
        'inputs', 'num_outputs_0_0a', 'num_outputs_1_0a', 'num_outputs_1_0b',
        'num_outputs_2_0a', 'num_outputs_2_0b', 'num_outputs_3_0b', 'temporal_kernel_size',
        'self_gating_fn', 'data_format', 'scope'),
    ('nets.i3d_utils', 'reduced_kernel_size_3d'): ('input_tensor', 'kernel_size'),
    ('nets.s3dg', 's3dg_arg_scope'): ('weight_decay', 'batch_norm_decay', 'batch_norm_epsilon'),
    ('nets.s3dg', 'self_gating'): ('input_tensor', 'scope', 'data_format'),
    ('nets.s3dg', 's3dg_base'): (
        'inputs', 'first_temporal_kernel_size', 'temporal_conv_startat', 'gating_startat',
        'final_endpoint', 'min_depth', 'depth_multiplier', 'data_format', 'scope'),
    ('nets.i3d', 'i3d'): (
        'inputs', 'num_classes', 'dropout_keep_prob', 'is_training', 'prediction_fn',
        'spatial_squeeze', 'reuse', 'scope'),
    ('nets.s3dg', 's3dg'): (
        'inputs', 'num_classes', 'first_temporal_kernel_size', 'temporal_conv_startat',
        'gating_startat', 'final_endpoint', 'min_depth', 'depth_multiplier',
        'dropout_keep_prob', 'is_training', 'prediction_fn', 'spatial_squeeze', 'reuse',
        'data_format', 'scope'),
}

# Registered models TF-Slim does not have: the 2012 AlexNet as published, with and without
# batch normalization. Their order extends alexnet_v2's.
OURS_ONLY = {'alexnet': ('nets.alexnet', 'alexnet'), 'alexnet_bn': ('nets.alexnet', 'alexnet_bn')}


def _positional_names(fn):
  return [p.name for p in inspect.signature(fn).parameters.values()
          if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _function(module_name, name):
  return getattr(importlib.import_module(module_name), name)


@pytest.mark.parametrize('module_name, name', sorted(TF_SLIM_POSITIONAL),
                         ids=[f'{m.rsplit(".", 1)[-1]}.{n}' for m, n in
                              sorted(TF_SLIM_POSITIONAL)])
def test_public_functions_take_tf_slims_positional_order(module_name, name):
  fn = _function(module_name, name)
  expected = list(TF_SLIM_POSITIONAL[(module_name, name)])
  # Arguments of ours that TF-Slim lacks may follow, never come between.
  assert _positional_names(fn)[:len(expected)] == expected


def test_every_registered_model_is_in_the_table():
  table = {id(_function(m, n)): (m, n) for m, n in TF_SLIM_POSITIONAL}
  missing = []
  for name in nets_factory.list_models():
    builder = nets_factory.networks_map[name]
    if id(builder) not in table and name not in OURS_ONLY:
      missing.append(f'{name} ({builder.__module__}.{builder.__name__})')
  assert not missing, f'add TF-Slim\'s positional order of {missing} to TF_SLIM_POSITIONAL'


@pytest.mark.parametrize('name', sorted(OURS_ONLY))
def test_our_alexnets_extend_alexnet_v2s_order(name):
  expected = list(TF_SLIM_POSITIONAL[('nets.alexnet', 'alexnet_v2')])
  assert _positional_names(_function(*OURS_ONLY[name]))[:len(expected)] == expected


def test_batch_norm_takes_slim_batch_norms_arguments():
  ours = inspect.signature(layers.batch_norm).parameters
  slims = inspect.signature(slim.batch_norm).parameters
  assert [(p.name, p.default) for p in ours.values()] == [
      (p.name, p.default) for p in slims.values()]


# --- slim.arg_scope([slim.batch_norm], ...) ------------------------------------------------


def _update_ops():
  return tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)


def _moving_means():
  return [v for v in tf1.global_variables() if v.op.name.endswith('moving_mean')]


def _moving_average_decays(graph):
  """The decays of the moving-average updates, as their `1 - decay` constants."""
  return [round(1.0 - float(tf.get_static_value(op.outputs[0])), 6)
          for op in graph.get_operations()
          if re.search(r'AssignMovingAvg(_\d+)?/decay$', op.name)]


def test_a_scope_on_slim_batch_norm_reaches_ours(graph):
  images = tf.ones([2, 4, 4, 3])
  with slim.arg_scope([slim.batch_norm], is_training=False):
    layers.batch_norm(images, scope='frozen')
  assert not _update_ops()
  with slim.arg_scope([slim.batch_norm], decay=0.75):
    layers.batch_norm(images, scope='training')
  assert len(_update_ops()) == 2
  assert _moving_average_decays(graph) == [0.75, 0.75]


def test_our_scope_is_found_under_slims_key():
  """TF-Slim's own tests read a family's scope this way (mobilenet_v1_test.py)."""
  scope = mobilenet_v1.mobilenet_v1_arg_scope(batch_norm_decay=0.5)
  settings = scope[slim.arg_scope_func_key(slim.batch_norm)]
  assert settings['decay'] == 0.5 and settings['is_training'] is True
  # Either spelling adds to the same entry.
  with slim.arg_scope([layers.batch_norm], decay=0.5):
    with slim.arg_scope([slim.batch_norm], epsilon=0.01) as scope:
      assert scope[slim.arg_scope_func_key(layers.batch_norm)] == {'decay': 0.5,
                                                                    'epsilon': 0.01}


def test_slim_only_options_are_accepted_or_refused_in_one_line(graph):
  images = tf.ones([2, 4, 4, 3])
  for fused in (None, True, False):
    with slim.arg_scope([slim.batch_norm], fused=fused):
      layers.batch_norm(images)
  for option in ({'renorm': True}, {'batch_weights': tf.ones([2])},
                 {'renorm_clipping': {'rmax': 3.0}}, {'adjustment': lambda shape: (1.0, 0.0)}):
    with pytest.raises(ValueError, match=f'{next(iter(option))} is not supported'):
      layers.batch_norm(images, **option)
  with pytest.raises(ValueError, match='is_training is None'):
    layers.batch_norm(images, is_training=None)
  with pytest.raises(TypeError, match="is_training must be True, False or a boolean tensor, "
                                      "got 'False'"):
    layers.batch_norm(images, is_training='False')


# Each family with batch norm, built the way TF-Slim lets an enclosing
# slim.arg_scope([slim.batch_norm], is_training=...) decide batch norm's mode: the
# builders that take is_training=None, the scopes that take it, and the *_base feature
# extractors, which set no mode of their own. Each entry is (the family's arg scope, a
# build, an image size); the build is truncated at an early end point where the family
# allows it, to keep it small.
def _mobilenet(builder):
  return lambda images: builder(images, 5, is_training=None, final_endpoint='layer_4')


def _resnet(resnet, block):
  """A two-block ResNet; the registered builders pass is_training on unchanged."""
  blocks = [block('block1', base_depth=1, num_units=2, stride=2),
            block('block2', base_depth=2, num_units=2, stride=1)]
  return lambda images: resnet(images, blocks, 5, None)


SCOPE_DECIDES = {
    'resnet_v1': (resnet_utils.resnet_arg_scope,
                  _resnet(resnet_v1.resnet_v1, resnet_v1.resnet_v1_block), 32),
    'resnet_v2': (resnet_utils.resnet_arg_scope,
                  _resnet(resnet_v2.resnet_v2, resnet_v2.resnet_v2_block), 32),
    'mobilenet_v2': (mobilenet_lib.training_scope, _mobilenet(mobilenet_v2.mobilenet), 32),
    'mobilenet_v3': (mobilenet_lib.training_scope, _mobilenet(mobilenet_v3.small), 32),
    'mobilenet_training_scope': (
        lambda: mobilenet_lib.training_scope(is_training=None),
        lambda images: mobilenet_v2.mobilenet(images, 5, final_endpoint='layer_4'), 32),
    'mobilenet_v1_arg_scope': (
        lambda: mobilenet_v1.mobilenet_v1_arg_scope(is_training=None),
        lambda images: mobilenet_v1.mobilenet_v1_base(images, 'Conv2d_2_pointwise'), 32),
    'inception_v1_base': (inception_v1.inception_v1_arg_scope,
                          lambda images: inception_v1.inception_v1_base(images, 'Mixed_3b'),
                          32),
    'inception_v2_base': (inception_v2.inception_v2_arg_scope,
                          lambda images: inception_v2.inception_v2_base(images, 'Mixed_3b'),
                          32),
    'inception_v3_base': (inception_v3.inception_v3_arg_scope,
                          lambda images: inception_v3.inception_v3_base(images, 'Mixed_5b'),
                          75),
    'inception_v4_base': (inception_v4.inception_v4_arg_scope,
                          lambda images: inception_v4.inception_v4_base(images, 'Mixed_4a'),
                          75),
    'inception_resnet_v2_base': (
        inception_resnet_v2.inception_resnet_v2_arg_scope,
        lambda images: inception_resnet_v2.inception_resnet_v2_base(images,
                                                                    'Conv2d_4a_3x3'), 75),
}


def _build_under_batch_norm_scope(family, **batch_norm_settings):
  """TF-Slim's idiom: the family's arg scope, and inside it one on slim.batch_norm."""
  arg_scope, build, size = SCOPE_DECIDES[family]
  with slim.arg_scope(arg_scope()):
    with slim.arg_scope([slim.batch_norm], **batch_norm_settings):
      build(tf1.placeholder(tf.float32, [1, size, size, 3]))


@pytest.mark.parametrize('is_training', [False, True])
@pytest.mark.parametrize('family', sorted(SCOPE_DECIDES))
def test_an_outer_batch_norm_scope_decides_the_mode(family, is_training, graph):
  _build_under_batch_norm_scope(family, is_training=is_training)
  moving_means = _moving_means()
  assert moving_means, 'the build has no batch norm to decide for'
  # Training moves each moving mean and variance; frozen batch norm moves none.
  assert len(_update_ops()) == (2 * len(moving_means) if is_training else 0)


@pytest.mark.parametrize('family', ['resnet_v2', 'mobilenet_v2'])
def test_batch_norm_settings_under_slims_name_reach_the_nets(family, graph):
  """Settings a family's scope leaves to batch norm's own scope come from an outer one.

  ResNet's arg scope hands its convolutions explicit normalizer_params (as TF-Slim's
  does), so there only the batch norms v2 calls directly read the scope: each unit's
  `preact` and the final `postnorm`. MobileNet's read it everywhere.
  """
  _build_under_batch_norm_scope(family, is_training=True, decay=0.75)
  decays = _moving_average_decays(graph)
  if family == 'resnet_v2':
    direct = [v for v in _moving_means() if re.search(r'/(preact|postnorm)/', v.op.name)]
    assert len(direct) == 4 + 1
    assert decays.count(0.75) == 2 * len(direct) and set(decays) == {0.75, 0.997}
  else:
    assert decays and set(decays) == {0.75}


# Where TF-Slim's builder always sets batch norm's (or dropout's) mode, None is refused:
# TF-Slim itself fails on it (batch norm) or silently evaluates (dropout).
NONE_REFUSED = {
    'alexnet_v2': alexnet.alexnet_v2, 'alexnet': alexnet.alexnet,
    'alexnet_bn': alexnet.alexnet_bn, 'cifarnet': cifarnet.cifarnet,
    'inception_v1': inception_v1.inception_v1, 'inception_v2': inception_v2.inception_v2,
    'inception_v3': inception_v3.inception_v3, 'inception_v4': inception_v4.inception_v4,
    'inception_resnet_v2': inception_resnet_v2.inception_resnet_v2, 'lenet': lenet.lenet,
    'mobilenet_v1': mobilenet_v1.mobilenet_v1, 'overfeat': overfeat.overfeat,
    'vgg_a': vgg.vgg_a,
}


@pytest.mark.parametrize('name', sorted(NONE_REFUSED))
def test_is_training_none_is_refused_where_tf_slim_sets_the_mode(name, graph):
  info = nets_factory.model_info(name)
  size = info.default_image_size
  images = tf1.placeholder(tf.float32, [1, size, size, info.input_channels])
  with slim.arg_scope(info.arg_scope()):
    with pytest.raises((TypeError, ValueError), match='is_training'):
      NONE_REFUSED[name](images, 5, is_training=None)


def test_tf_slims_resnet_test_idiom_builds_frozen(graph):
  """TF-Slim's resnet_v1_test builds under both scopes with is_training=None."""
  images = tf1.placeholder(tf.float32, [1, 32, 32, 3])
  with slim.arg_scope(resnet_utils.resnet_arg_scope()):
    with slim.arg_scope([slim.batch_norm], is_training=False):
      _, end_points = resnet_v1.resnet_v1_50(images, 5, is_training=None, scope='resnet')
  assert 'resnet/logits' in end_points and not _update_ops()


# --- Positional calls ----------------------------------------------------------------------


def test_positional_scope_of_resnet_v2_lands_in_scope(graph):
  images = tf1.placeholder(tf.float32, [1, 32, 32, 3])
  with slim.arg_scope(resnet_utils.resnet_arg_scope()):
    net, _ = resnet_v2.resnet_v2_50(images, 5, False, True, None, True, None, 'my_resnet')
  assert net.shape.as_list() == [1, 5]
  assert tf1.global_variables()[0].op.name.startswith('my_resnet/')


def test_positional_calls_of_the_mobilenet_engine(graph):
  images = tf1.placeholder(tf.float32, [1, 32, 32, 3])
  # TF-Slim's order: inputs, num_classes, prediction_fn, reuse, scope, base_only.
  net, end_points = mobilenet_lib.mobilenet(images, 5, None, None, 'Engine', True,
                                            conv_defs=mobilenet_v2.V2_DEF,
                                            final_endpoint='layer_2')
  assert 'Logits' not in end_points and net.op.name.startswith('Engine/')
  # inputs, conv_defs, multiplier, final_endpoint, output_stride, use_explicit_padding,
  # scope.
  net, _ = mobilenet_lib.mobilenet_base(images, mobilenet_v2.V2_DEF, 0.5, 'layer_1', None,
                                        False, 'Base')
  assert net.shape.as_list() == [1, 16, 16, 16] and net.op.name.startswith('Base/')


@pytest.mark.parametrize('call, argument', [
    # A scope name in TF-Slim's position before our old order's reuse/scope.
    (lambda x: resnet_v2.resnet_v2_50(x, 5, False, 'my_resnet'), 'global_pool'),
    (lambda x: resnet_v1.resnet_v1_152(x, 5, False, True, None, 'yes'),
     'store_non_strided_activations'),
    (lambda x: resnet_v1.resnet_v1(x, [], 5, False, True, None, 1), 'include_root_block'),
    (lambda x: vgg.vgg_16(x, 5, False, 0.5, 'vgg_16'), 'spatial_squeeze'),
    (lambda x: overfeat.overfeat(x, 5, False, 0.5, True, 'overfeat', 'yes'), 'global_pool'),
    (lambda x: alexnet.alexnet_v2(x, 5, 'train'), 'is_training'),
    (lambda x: cifarnet.cifarnet(x, 5, 1), 'is_training'),
    (lambda x: lenet.lenet(x, 5, 'yes'), 'is_training'),
    (lambda x: inception_v1.inception_v1(x, 5, False, 0.8, slim.softmax, 'no'),
     'spatial_squeeze'),
    (lambda x: inception_v2.inception_v2(x, 5, False, 0.8, 16, 1.0, slim.softmax, True, None,
                                         'InceptionV2', 'yes'), 'global_pool'),
    (lambda x: inception_v3.inception_v3(x, 5, False, 0.8, 16, 1.0, slim.softmax, True, None,
                                         'InceptionV3'), 'create_aux_logits'),
    (lambda x: inception_v4.inception_v4(x, 5, False, 0.8, None, 'InceptionV4', 'no'),
     'create_aux_logits'),
    (lambda x: inception_resnet_v2.inception_resnet_v2(x, 5, False, 0.8, None, 'Irv2', 1),
     'create_aux_logits'),
    (lambda x: mobilenet_v1.mobilenet_v1(x, 5, 0.999, False, 8, 1.0, None, slim.softmax,
                                         'MobilenetV1'), 'spatial_squeeze'),
    (lambda x: mobilenet_lib.mobilenet(x, 5, None, None, 'Mobilenet', 'no',
                                       conv_defs=mobilenet_v2.V2_DEF), 'base_only'),
    (lambda x: mobilenet_v2.mobilenet(x, 5, 1.0, 'MobilenetV2', None, 'yes'),
     'finegrain_classification_mode'),
])
def test_a_wrong_value_in_a_boolean_argument_is_an_error(call, argument, graph):
  # 231: the largest of these nets' smallest sizes (OverFeat's).
  images = tf1.placeholder(tf.float32, [1, 231, 231, 3])
  with pytest.raises(TypeError, match=f'{argument} must be True'):
    call(images)
