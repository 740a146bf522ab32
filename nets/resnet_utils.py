"""Building blocks shared by ResNet v1 and v2: block specs, strided and atrous convolution.

He, Zhang, Ren, Sun: "Deep Residual Learning for Image Recognition", CVPR 2016
(arXiv:1512.03385), and "Identity Mappings in Deep Residual Networks", ECCV 2016
(arXiv:1603.05027). Both nets are four blocks of bottleneck units after a 7x7 stride-2
convolution and a 3x3 stride-2 max-pool; they differ only in the unit (`unit_fn`), so a net
is a list of `Block`s (data) run by `stack_blocks_dense`.

`output_stride` (Chen et al., "DeepLab", arXiv:1606.00915) keeps the feature map at
1/output_stride of the input: once that stride is reached, later strides become dilation
rates (atrous convolution), so the net computes the same features densely with the same
variables.

Usage:
  blocks = [resnet_utils.Block('block1', bottleneck, [{'depth': 256, 'depth_bottleneck': 64,
                                                       'stride': 1}] * 3), ...]
  with slim.arg_scope(resnet_utils.resnet_arg_scope()):
    net = resnet_utils.stack_blocks_dense(net, blocks, output_stride=16)
"""

import collections
import contextlib

import tensorflow as tf
import tf_slim as slim

from . import input_checks
from . import layers

tf1 = tf.compat.v1


class Block(collections.namedtuple('Block', ['scope', 'unit_fn', 'args'])):
  """A ResNet block: units of the same kind under one variable scope.

  Attributes:
    scope: the block's variable scope, e.g. 'block1'.
    unit_fn: `fn(inputs, depth, depth_bottleneck, stride, rate) -> outputs`, one residual
      unit (a bottleneck of v1 or v2).
    args: one dict of `unit_fn` keyword arguments per unit, e.g.
      `{'depth': 256, 'depth_bottleneck': 64, 'stride': 1}`.
  """


# Bottleneck units per block (the papers' Table 1 and, for 200 layers, the v2 paper).
UNITS_PER_BLOCK = {
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
    200: (3, 24, 36, 3),
}

# Bottleneck width and stride of each ImageNet block; a unit's output is 4x its bottleneck.
# Block4 does not subsample: the root (/4) and blocks 1-3 (/8) make the output stride 32.
IMAGENET_BLOCKS = (('block1', 64, 2), ('block2', 128, 2), ('block3', 256, 2),
                   ('block4', 512, 1))


def bottleneck_block(unit_fn, scope, base_depth, num_units, stride):
  """A block of `num_units` bottleneck units of width `base_depth` and output 4*base_depth.

  The block subsamples in its last unit, so the first units of the next block (and the
  block's end point) see the strided map, as in TF-Slim.
  """
  unit = {'depth': base_depth * 4, 'depth_bottleneck': base_depth, 'stride': 1}
  return Block(scope, unit_fn, [unit] * (num_units - 1) + [dict(unit, stride=stride)])


def imagenet_blocks(block_fn, num_layers, min_base_depth=8, depth_multiplier=1):
  """The four blocks of the `num_layers`-layer ImageNet ResNet.

  Args:
    block_fn: `fn(scope, base_depth, num_units, stride) -> Block`, e.g. `resnet_v1_block`.
    num_layers: a key of UNITS_PER_BLOCK.
    min_base_depth: smallest bottleneck width after applying `depth_multiplier`.
    depth_multiplier: scales every bottleneck width (thinner or wider nets).

  Raises:
    ValueError: `num_layers` is not a known depth, or depth_multiplier is not positive.
  """
  if num_layers not in UNITS_PER_BLOCK:
    raise ValueError(f'ResNet depth must be one of {sorted(UNITS_PER_BLOCK)}, '
                     f'got {num_layers}')
  if depth_multiplier <= 0:
    raise ValueError(f'depth_multiplier must be positive, got {depth_multiplier}')
  return [block_fn(scope, max(int(base_depth * depth_multiplier), min_base_depth),
                   num_units, stride)
          for (scope, base_depth, stride), num_units
          in zip(IMAGENET_BLOCKS, UNITS_PER_BLOCK[num_layers])]


def subsample(inputs, factor, scope=None):
  """Keeps every `factor`-th row and column (a 1x1 max-pool); identity for factor 1."""
  if factor == 1:
    return inputs
  return slim.max_pool2d(inputs, [1, 1], stride=factor, padding='SAME', scope=scope)


def fixed_padding(inputs, kernel_size, rate=1):
  """Zero-pads height and width as a `kernel_size` convolution at `rate` needs, split evenly.

  SAME padding of a strided convolution depends on the parity of the input size (the extra
  row goes at the bottom), so the sampled positions shift with the input size; padding
  explicitly and convolving with VALID keeps them at 0, stride, 2*stride, ... for every
  size, which is what lets dense (atrous) and strided outputs line up.
  """
  effective_size = kernel_size + (kernel_size - 1) * (rate - 1)
  pad_total = effective_size - 1
  pad_begin = pad_total // 2
  pad_end = pad_total - pad_begin
  return tf.pad(inputs, [[0, 0], [pad_begin, pad_end], [pad_begin, pad_end], [0, 0]])


def conv2d_same(inputs, num_outputs, kernel_size, stride, rate=1, scope=None):
  """A square convolution whose output is ceil(input / stride), padded independently of
  the input size (see `fixed_padding`).

  Args:
    inputs: a [batch, height, width, channels] tensor.
    num_outputs: number of filters.
    kernel_size: side of the square kernel.
    stride: the stride.
    rate: dilation rate of an atrous convolution.
    scope: variable scope.

  Returns:
    The [batch, ceil(height / stride), ceil(width / stride), num_outputs] output.
  """
  if stride == 1:
    return slim.conv2d(inputs, num_outputs, kernel_size, stride=1, rate=rate,
                       padding='SAME', scope=scope)
  inputs = fixed_padding(inputs, kernel_size, rate)
  return slim.conv2d(inputs, num_outputs, kernel_size, stride=stride, rate=rate,
                     padding='VALID', scope=scope)


@slim.add_arg_scope
def stack_blocks_dense(net, blocks, output_stride=None, store_non_strided_activations=False,
                       outputs_collections=None):
  """Runs the units of `blocks` in order, switching to atrous convolution at output_stride.

  Args:
    net: a [batch, height, width, channels] tensor.
    blocks: a list of `Block`s.
    output_stride: the stride of the output relative to `net`, or None for the nominal
      stride (the product of the units' strides). Once the running stride reaches it,
      every further stride becomes a dilation of the following units.
    store_non_strided_activations: run each block's last unit at stride 1 and subsample
      after the block's end point is recorded, so the end points hold the full-resolution
      activations (4x the cost of that unit). The variables are the same.
    outputs_collections: collection for the block outputs (end points).

  Returns:
    The output of the last block.

  Raises:
    ValueError: output_stride cannot be reached with the blocks' strides.
  """
  # `current_stride` is the stride so far; `rate` the dilation once output_stride is hit.
  current_stride = 1
  rate = 1

  def apply_stride(stride):
    nonlocal current_stride, rate
    if output_stride is not None and current_stride == output_stride:
      rate *= stride
      return 1
    current_stride *= stride
    if output_stride is not None and current_stride > output_stride:
      raise ValueError(f'output_stride {output_stride} cannot be reached: the blocks '
                       f'subsample by {current_stride} after {block.scope}')
    return stride

  for block in blocks:
    with tf1.variable_scope(block.scope, 'block', [net]) as sc:
      block_stride = 1
      for index, unit in enumerate(block.args):
        if store_non_strided_activations and index == len(block.args) - 1:
          block_stride = unit.get('stride', 1)
          unit = dict(unit, stride=1)
        with tf1.variable_scope(f'unit_{index + 1}', values=[net]):
          unit_rate = rate  # Before apply_stride: the unit's own stride dilates later units.
          stride = apply_stride(unit.get('stride', 1))
          net = block.unit_fn(net, rate=unit_rate, **dict(unit, stride=stride))
      net = slim.utils.collect_named_outputs(outputs_collections, sc.name, net)
      net = subsample(net, apply_stride(block_stride))
  if output_stride is not None and current_stride != output_stride:
    raise ValueError(f'output_stride {output_stride} cannot be reached: the blocks '
                     f'subsample by {current_stride} in all')
  return net


def resnet_arg_scope(weight_decay=0.0001,
                     batch_norm_decay=0.997,
                     batch_norm_epsilon=1e-5,
                     batch_norm_scale=True,
                     activation_fn=tf.nn.relu,
                     use_batch_norm=True,
                     batch_norm_updates_collections=tf1.GraphKeys.UPDATE_OPS):
  """Defaults of the ResNet layers, as the published TF-Slim checkpoints were trained.

  Args:
    weight_decay: L2 regularization of the convolution weights.
    batch_norm_decay: decay of the moving statistics.
    batch_norm_epsilon: added to the variance.
    batch_norm_scale: learn a `gamma` per channel (the checkpoints have one).
    activation_fn: activation after each normalized convolution.
    use_batch_norm: normalize the convolutions (else they get biases).
    batch_norm_updates_collections: where the moving-average updates go.

  Returns:
    An arg_scope for the ResNet builders.
  """
  batch_norm_params = {
      'decay': batch_norm_decay,
      'epsilon': batch_norm_epsilon,
      'scale': batch_norm_scale,
      'updates_collections': batch_norm_updates_collections,
  }
  with slim.arg_scope(
      [slim.conv2d],
      weights_regularizer=slim.l2_regularizer(weight_decay),
      weights_initializer=slim.variance_scaling_initializer(),
      activation_fn=activation_fn,
      normalizer_fn=layers.batch_norm if use_batch_norm else None,
      normalizer_params=batch_norm_params):
    with slim.arg_scope([layers.batch_norm], **batch_norm_params):
      # SAME pooling pads pool1 evenly for odd inputs, keeping it aligned with conv1
      # for dense prediction (the papers' Caffe models pool VALID; the checkpoints do not
      # depend on it).
      with slim.arg_scope([slim.max_pool2d], padding='SAME') as arg_sc:
        return arg_sc


def check_output_stride(output_stride, blocks, include_root_block, net_name):
  """The output stride left for the blocks once the root block (/4) has run.

  Raises:
    ValueError: the strides of the root block and `blocks` never multiply to output_stride.
  """
  if output_stride is None:
    return None
  root_stride = 4 if include_root_block else 1
  reachable = [root_stride]
  for block in blocks:
    for unit in block.args:
      if unit.get('stride', 1) != 1:
        reachable.append(reachable[-1] * unit['stride'])
  if output_stride not in reachable:
    raise ValueError(f'{net_name}: output_stride {output_stride} cannot be reached; '
                     f'this net supports {", ".join(map(str, reachable))} or None')
  return output_stride // root_stride


def classifier(net, sc, end_points_collection, num_classes, global_pool, spatial_squeeze):
  """Global pooling and the 1x1 logits layer shared by v1 and v2, with TF-Slim's keys.

  Args:
    net: the final feature map.
    sc: the net's variable scope (its name prefixes the end point keys).
    end_points_collection: the collection the layers were added to.
    num_classes: 0 or None returns the features.
    global_pool: average the features over space first.
    spatial_squeeze: squeeze the logits to [batch, num_classes].

  Returns:
    (net, end_points).
  """
  end_points = slim.utils.convert_collection_to_dict(end_points_collection)
  if global_pool:
    net = tf.reduce_mean(net, [1, 2], keepdims=True, name='pool5')
    end_points['global_pool'] = net
  if num_classes:
    net = slim.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                      scope='logits')
    end_points[sc.name + '/logits'] = net
    if spatial_squeeze:
      net = layers.squeeze_spatial(net, sc.name, name='SpatialSqueeze')
      end_points[sc.name + '/spatial_squeeze'] = net
    end_points['predictions'] = slim.softmax(net, scope='predictions')
  return net, end_points


def imagenet_resnet(resnet_fn, block_fn, num_layers, inputs, *, num_classes, is_training,
                    global_pool, output_stride, spatial_squeeze, store_non_strided_activations,
                    min_base_depth, depth_multiplier, reuse, scope):
  """The `num_layers`-layer ImageNet ResNet: what every registered ResNet (resnet_v1_50,
  resnet_v2_101, ...) builds, with its own arguments.

  Args:
    resnet_fn: `resnet_v1.resnet_v1` or `resnet_v2.resnet_v2`.
    block_fn: `resnet_v1.resnet_v1_block` or `resnet_v2.resnet_v2_block`.
    num_layers: a key of UNITS_PER_BLOCK.
    inputs: a [batch, height, width, channels] tensor; 224x224 as trained. Every layer
      pads, so any size builds; the last map is ceil(size / output_stride).
    num_classes: classes of the logits layer; 0 or None returns the features.
    is_training: batch statistics (and moving-average updates) in batch normalization;
      None leaves it to an enclosing `slim.arg_scope([slim.batch_norm], is_training=...)`.
    global_pool: average the last feature map over space.
    output_stride: stride of the last feature map for dense prediction: 4, 8, 16, or
      None for 32.
    spatial_squeeze: squeeze the logits to [batch, num_classes].
    store_non_strided_activations: keep each block's end point at full resolution.
    min_base_depth: smallest bottleneck width once depth_multiplier is applied.
    depth_multiplier: scales the bottleneck widths (1 as published).
    reuse: reuse the variables of `scope`.
    scope: variable scope.

  Returns:
    net: the logits, or the features when num_classes is 0 or None.
    end_points: the layers' outputs, in order, under TF-Slim's keys.
  """
  blocks = imagenet_blocks(block_fn, num_layers, min_base_depth, depth_multiplier)
  return resnet_fn(inputs, blocks, num_classes, is_training, global_pool=global_pool,
                   output_stride=output_stride, include_root_block=True,
                   spatial_squeeze=spatial_squeeze,
                   store_non_strided_activations=store_non_strided_activations,
                   reuse=reuse, scope=scope)


def build_resnet(inputs, blocks, bottleneck, *, num_classes, is_training, global_pool,
                 output_stride, include_root_block, spatial_squeeze,
                 store_non_strided_activations, reuse, scope, default_scope, preactivation):
  """The body shared by `resnet_v1` and `resnet_v2` (whose docstrings give the arguments).

  `preactivation` (v2) leaves conv1 without normalization and activation, since the first
  unit's pre-activation provides them, and normalizes the sum the last unit ends in.
  """
  net_name = getattr(scope, 'name', scope) or default_scope
  inputs = input_checks.check_images(inputs, net_name, 1)
  for name, value in (('global_pool', global_pool), ('include_root_block', include_root_block),
                      ('spatial_squeeze', spatial_squeeze),
                      ('store_non_strided_activations', store_non_strided_activations)):
    input_checks.check_flag(value, name, net_name)
  if is_training is None:
    # TF-Slim's meaning: an enclosing slim.arg_scope([slim.batch_norm], ...) decides.
    training_scope = contextlib.nullcontext()
  else:
    input_checks.check_flag(is_training, 'is_training', net_name, allow_tensor=True)
    training_scope = slim.arg_scope([layers.batch_norm], is_training=is_training)
  block_output_stride = check_output_stride(output_stride, blocks, include_root_block,
                                            net_name)
  with tf1.variable_scope(scope, default_scope, [inputs], reuse=reuse) as sc:
    end_points_collection = sc.original_name_scope + '_end_points'
    with slim.arg_scope([slim.conv2d, bottleneck, stack_blocks_dense],
                        outputs_collections=end_points_collection):
      with training_scope:
        net = inputs
        if include_root_block:
          root = dict(activation_fn=None, normalizer_fn=None) if preactivation else {}
          with slim.arg_scope([slim.conv2d], **root):
            net = conv2d_same(net, 64, 7, stride=2, scope='conv1')
          net = slim.max_pool2d(net, [3, 3], stride=2, scope='pool1')
        net = stack_blocks_dense(net, blocks, block_output_stride,
                                 store_non_strided_activations)
        if preactivation:
          net = layers.batch_norm(net, activation_fn=tf.nn.relu, scope='postnorm')
        return classifier(net, sc, end_points_collection, num_classes, global_pool,
                          spatial_squeeze)
