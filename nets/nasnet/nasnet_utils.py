"""What NASNet-A and PNASNet-5 share: cells written as tables, and the one builder of both.

A cell of either search space (Zoph et al., "Learning Transferable Architectures for
Scalable Image Recognition", CVPR 2018; Liu et al., "Progressive Neural Architecture
Search", ECCV 2018) has five blocks. A block applies one operation to each of two hidden
states and adds the results; the new state joins the list the later blocks choose from.
State 0 is the previous cell's output, state 1 the output of the cell before it, state
2 + b the output of block b. The cell's output concatenates the states its table names.
`Cell` holds the two tables (operations and inputs) of the papers' figures, and
`_CellBuilder` turns any such table into layers, so NASNet's normal and reduction cells and
PNASNet's cell go through the same code.

Around the cells the networks differ only in their plan (`CellStep`s: which cell, where the
stride is 2, how many filters, which earlier output feeds state 1), which `build_network`
follows. Scopes and variable names are those of TF-Slim's published checkpoints.

Drop-path (the NASNet paper's ScheduledDropPath) drops an operation's whole output for some
examples; the probability grows linearly with the cell's depth and with the training step,
reaching `1 - drop_path_keep_prob` in the last cell at `total_training_steps`
(`drop_path_keep_prob_at`).
"""

import collections
import dataclasses
from typing import Optional, Tuple

import tensorflow as tf
import tf_slim as slim
from tf_slim.ops import arg_scope as arg_scope_lib

from .. import input_checks
from .. import layers

tf1 = tf.compat.v1

# With use_bounded_activation, ReLU becomes ReLU6 and the outputs of operations are clipped
# to [-6, 6], so that activations fit a fixed-point range when the net is quantized.
ACTIVATION_BOUND = 6.0


@dataclasses.dataclass(frozen=True)
class Op:
  """An operation of the search space.

  kind: 'separable' (ReLU, separable conv, batch norm, `repeats` times), 'avg_pool',
    'max_pool' or 'identity'.
  kernel: the kernel side of a convolution or pooling.
  repeats: how many separable convolutions are stacked (two in both papers' cells).
  """
  kind: str
  kernel: int = 1
  repeats: int = 1


def separable(kernel):
  return Op('separable', kernel, repeats=2)


SEP_3x3 = separable(3)
SEP_5x5 = separable(5)
SEP_7x7 = separable(7)
AVG_3x3 = Op('avg_pool', 3)
MAX_3x3 = Op('max_pool', 3)
IDENTITY = Op('identity')

# One side of a block: an operation and the index of the hidden state it reads.
Input = collections.namedtuple('Input', ['op', 'state'])


@dataclasses.dataclass(frozen=True)
class Cell:
  """A cell as a table: five (left, right) blocks and the states its output concatenates."""
  blocks: Tuple[Tuple[Input, Input], ...]
  concat: Tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class CellStep:
  """One cell of a network's plan.

  cell: the cell's table.
  scope: its variable scope ('cell_3', 'reduction_cell_0', 'cell_stem_1').
  end_point: the end point its output is recorded as, or None.
  stride: 2 where the cell halves the map.
  filter_scaling: its filters are int(num_conv_filters * filter_scaling).
  prev_back: state 1 is the output `prev_back` cells back (2 is the one before the
    previous cell; TF-Slim's skip_reduction_layer_input makes it 3 after a reduction).
  """
  cell: Cell
  scope: str
  end_point: Optional[str]
  stride: int
  filter_scaling: float
  prev_back: int = 2


# The `slim.conv2d` / `slim.separable_conv2d` arguments `conv2d` builds itself; any other
# argument in the arg scope hands the layer to slim.
_LEAN_CONV_ARGS = frozenset([
    'activation_fn', 'weights_initializer', 'weights_regularizer', 'biases_initializer',
    'biases_regularizer', 'trainable', 'variables_collections', 'outputs_collections',
    'padding', 'normalizer_fn', 'normalizer_params', 'data_format', 'rate'])


def conv2d(inputs, num_outputs, kernel, stride=1, padding=None, scope=None, separable=False):
  """`slim.conv2d`, or `slim.separable_conv2d` with depth multiplier 1, built directly.

  Same arguments from `slim.arg_scope`, same variables (`weights`, or `depthwise_weights`
  and `pointwise_weights`; `biases`), same ops. tf_slim builds each of these layers through a
  Keras layer that makes a set of every variable in the graph before adding its own, so the
  build time grows with the square of the variable count: the 1,546 variables of
  nasnet_large spent most of their build there. Arguments this function does not handle
  (a normalizer_fn, NCHW, a rate) go to slim's layer.
  """
  layer = slim.separable_conv2d if separable else slim.conv2d
  args = dict(arg_scope_lib.current_arg_scope().get(arg_scope_lib.arg_scope_func_key(layer),
                                                    {}))
  if padding is not None:
    args['padding'] = padding
  if (set(args) - _LEAN_CONV_ARGS or args.get('normalizer_fn') is not None or
      args.get('data_format') not in (None, 'NHWC') or
      args.get('rate', 1) not in (1, [1, 1], (1, 1))):
    extra = {'depth_multiplier': 1} if separable else {}
    if padding is not None:
      extra['padding'] = padding
    return layer(inputs, num_outputs, kernel, stride=stride, scope=scope, **extra)

  in_channels = inputs.shape[3]
  dtype = inputs.dtype.base_dtype
  initializer = args.get('weights_initializer', slim.xavier_initializer())
  regularizer = args.get('weights_regularizer')

  def variable(name, shape, initializer, regularizer, collection_key):
    return slim.model_variable(
        name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
        trainable=args.get('trainable', True),
        collections=slim.utils.get_variable_collections(args.get('variables_collections'),
                                                        collection_key))

  strides = [1, stride, stride, 1]
  with tf1.variable_scope(scope, 'SeparableConv2d' if separable else 'Conv', [inputs]) as sc:
    if separable:
      depthwise = variable('depthwise_weights', [kernel, kernel, in_channels, 1], initializer,
                           regularizer, 'weights')
      pointwise = variable('pointwise_weights', [1, 1, in_channels, num_outputs],
                           initializer, regularizer, 'weights')
      outputs = tf.nn.separable_conv2d(inputs, depthwise, pointwise, strides,
                                       args.get('padding', 'SAME'))
    else:
      weights = variable('weights', [kernel, kernel, in_channels, num_outputs], initializer,
                         regularizer, 'weights')
      outputs = tf.nn.conv2d(inputs, weights, strides, args.get('padding', 'SAME'))
    biases_initializer = args.get('biases_initializer', tf1.zeros_initializer())
    if biases_initializer is not None:
      biases = variable('biases', [num_outputs], biases_initializer,
                        args.get('biases_regularizer'), 'biases')
      outputs = tf.nn.bias_add(outputs, biases)
    activation_fn = args.get('activation_fn', tf.nn.relu)
    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return slim.utils.collect_named_outputs(args.get('outputs_collections'), sc.name,
                                            outputs)


def calc_reduction_layers(num_cells, num_reduction_layers):
  """Indices of the cells before which the map is halved, evenly spaced among `num_cells`."""
  return [int(pool_num / (num_reduction_layers + 1) * num_cells)
          for pool_num in range(1, num_reduction_layers + 1)]


def drop_path_keep_prob_at(keep_prob, cell_num, total_num_cells, current_step,
                           total_training_steps):
  """The keep probability of drop-path in cell `cell_num` at `current_step`.

  The drop probability `1 - keep_prob` is scaled linearly twice: by the cell's depth,
  (cell_num + 1) / total_num_cells, so that the last cell drops most; and by training
  progress, min(1, current_step / total_training_steps), so that training starts without
  drop-path and reaches the full rate at `total_training_steps`.

  Args:
    keep_prob: the configuration's drop_path_keep_prob (of the last cell, late in training).
    cell_num: the cell's position, stem cells included, from 0.
    total_num_cells: number of cells in the network, stem cells included.
    current_step: the training step, a number or a scalar tensor.
    total_training_steps: the step at which the schedule reaches its end.

  Returns:
    A float32 scalar tensor.
  """
  layer_keep_prob = 1.0 - (cell_num + 1) / float(total_num_cells) * (1.0 - keep_prob)
  progress = tf.minimum(1.0, tf.cast(current_step, tf.float32) / float(total_training_steps))
  return 1.0 - progress * (1.0 - layer_keep_prob)


def drop_path(net, keep_prob, is_training=True):
  """Zeroes the whole of `net` for each example with probability 1 - keep_prob.

  Kept examples are divided by keep_prob so that the expected value is unchanged; outside
  training `net` is returned as it is.
  """
  if not is_training:
    return net
  keep_prob = tf.cast(keep_prob, net.dtype)
  noise_shape = [tf.shape(net)[0], 1, 1, 1]
  keep = tf.floor(keep_prob + tf1.random_uniform(noise_shape, dtype=net.dtype))
  return net / keep_prob * keep


def _check_data_format(data_format):
  if data_format not in ('NHWC', 'NCHW'):
    raise ValueError(f'data_format must be NHWC or NCHW, got {data_format!r}')


def get_channel_index(data_format='NHWC'):
  """The channel axis of a 4-D tensor in `data_format`."""
  _check_data_format(data_format)
  return 3 if data_format == 'NHWC' else 1


def get_channel_dim(shape, data_format='NHWC'):
  """The channel count of a 4-D `shape` in `data_format`."""
  if len(shape) != 4:
    raise ValueError(f'get_channel_dim: expected a 4-D shape, got {shape}')
  return int(shape[get_channel_index(data_format)])


def global_avg_pool(x, data_format='NHWC'):
  """Averages a 4-D tensor over its height and width: [batch, channels]."""
  return tf.reduce_mean(x, [1, 2] if get_channel_index(data_format) == 3 else [2, 3])


def factorized_reduction(net, output_filters, stride, data_format='NHWC'):
  """Matches `net` to `output_filters` channels and, at stride 2, halves its map.

  At stride 2 a strided 1x1 convolution would see only every other pixel; two of them, the
  second shifted by one pixel, see all of them, and their outputs are concatenated.

  Raises:
    ValueError: data_format is not NHWC (the cells are built in NHWC only).
  """
  if data_format != 'NHWC':
    raise ValueError(f'factorized_reduction: data_format must be NHWC, got {data_format!r}')
  if stride == 1:
    net = conv2d(net, output_filters, 1, scope='path_conv')
    return layers.batch_norm(net, scope='path_bn')
  path1 = net[:, ::stride, ::stride, :]
  path1 = conv2d(path1, output_filters // 2, 1, scope='path1_conv')
  # Padded at the bottom and right so that an odd side gives the same size as path1.
  path2 = tf.pad(net, [[0, 0], [0, 1], [0, 1], [0, 0]])[:, 1::stride, 1::stride, :]
  path2 = conv2d(path2, output_filters - output_filters // 2, 1, scope='path2_conv')
  net = tf.concat([path1, path2], axis=3)
  return layers.batch_norm(net, scope='final_path_bn')


class _CellBuilder:
  """The settings one network build applies to every cell."""

  def __init__(self, num_conv_filters, is_training, use_bounded_activation):
    self.num_conv_filters = num_conv_filters
    self.is_training = is_training
    self.bounded = use_bounded_activation
    self.activation = tf.nn.relu6 if use_bounded_activation else tf.nn.relu

  def _bound(self, net):
    if self.bounded:
      return tf.clip_by_value(net, -ACTIVATION_BOUND, ACTIVATION_BOUND)
    return net

  def _operation(self, net, op, num_filters, stride, keep_prob):
    """One side of a block; drop-path applies to every operation but the identity."""
    in_filters = net.shape[3]
    if op.kind == 'separable':
      k = op.kernel
      for repeat in range(1, op.repeats + 1):
        net = self.activation(net)
        net = conv2d(net, num_filters, k, stride=stride if repeat == 1 else 1,
                     scope=f'separable_{k}x{k}_{repeat}', separable=True)
        net = layers.batch_norm(net, scope=f'bn_sep_{k}x{k}_{repeat}')
      net = self._bound(net)
    elif op.kind == 'identity':
      if self.bounded:
        net = tf.nn.relu6(net)
      # The identity cannot stride or change width: a 1x1 convolution does it instead.
      if stride > 1 or in_filters != num_filters:
        if not self.bounded:
          net = tf.nn.relu(net)
        net = conv2d(net, num_filters, 1, stride=stride, scope='1x1')
        net = layers.batch_norm(net, scope='bn_1')
        net = self._bound(net)
      return net
    elif op.kind in ('avg_pool', 'max_pool'):
      if self.bounded:
        net = tf.nn.relu6(net)
      pool = slim.avg_pool2d if op.kind == 'avg_pool' else slim.max_pool2d
      net = pool(net, op.kernel, stride=stride, padding='SAME')
      if in_filters != num_filters:
        net = conv2d(net, num_filters, 1, scope='1x1')
        net = layers.batch_norm(net, scope='bn_1')
      net = self._bound(net)
    else:
      raise ValueError(f'unknown operation kind {op.kind!r}')
    if keep_prob is not None:
      net = drop_path(net, keep_prob, self.is_training)
    return net

  def _match_prev_layer(self, prev_layer, net, num_filters):
    """State 1: the earlier output brought to this cell's map size and width."""
    if prev_layer is None:
      return net
    if prev_layer.shape[2] != net.shape[2]:
      return factorized_reduction(self.activation(prev_layer), num_filters, stride=2)
    if prev_layer.shape[3] != num_filters:
      prev_layer = conv2d(self.activation(prev_layer), num_filters, 1, scope='prev_1x1')
      return layers.batch_norm(prev_layer, scope='prev_bn')
    return prev_layer

  def _concat(self, states, concat):
    """The output: the named states, each first matched to the last block's shape."""
    final = states[-1]
    outputs = []
    for index in concat:
      state = states[index]
      if state.shape[2] != final.shape[2] or state.shape[3] != final.shape[3]:
        with tf1.variable_scope(f'reduction_{index}'):
          state = factorized_reduction(state, final.shape[3],
                                       2 if state.shape[2] != final.shape[2] else 1)
      outputs.append(state)
    return tf.concat(outputs, axis=3)

  def __call__(self, net, prev_layer, step, keep_prob):
    """Builds the cell of `step` on `net` (state 0) and `prev_layer` (state 1)."""
    num_filters = int(self.num_conv_filters * step.filter_scaling)
    with tf1.variable_scope(step.scope):
      prev_layer = self._match_prev_layer(prev_layer, net, num_filters)
      net = conv2d(self.activation(net), num_filters, 1, scope='1x1')
      net = layers.batch_norm(net, scope='beginning_bn')
      states = [net, prev_layer]
      for index, block in enumerate(step.cell.blocks):
        with tf1.variable_scope(f'comb_iter_{index}'):
          sides = []
          for side, (op, state) in zip(('left', 'right'), block):
            # Only the cell's inputs are strided; block outputs already have the new size.
            stride = step.stride if state < 2 else 1
            with tf1.variable_scope(side):
              sides.append(self._operation(states[state], op, num_filters, stride, keep_prob))
          with tf1.variable_scope('combine'):
            combined = sides[0] + sides[1]
            if self.bounded:
              combined = tf.nn.relu6(combined)
        states.append(combined)
      with tf1.variable_scope('cell_output'):
        return self._concat(states, step.cell.concat)


@dataclasses.dataclass(frozen=True)
class ConvStem:
  """The convolution and batch norm before the first cell."""
  conv_scope: str
  bn_scope: str
  filters: int
  stride: int
  padding: str


def _conv_stem_is_stem(steps):
  # Without stem cells (CIFAR) the convolution is the stem.
  return not any(step.end_point == 'Stem' for step in steps)


def end_point_names(steps):
  """The end points `final_endpoint` may name, in build order."""
  names = ['Stem'] if _conv_stem_is_stem(steps) else []
  names += [step.end_point for step in steps if step.end_point]
  return names + ['global_pool', 'Logits', 'Predictions']


def min_image_size(stem, steps, aux_after, final_endpoint=None):
  """Smallest square input the plan builds on up to `final_endpoint`.

  The stem's VALID convolution needs its kernel; the auxiliary head's 5x5 VALID pooling
  needs a 5x5 map after cell `aux_after` (None: no head), if the build goes past that cell.
  """
  needed = 3 if stem.padding == 'VALID' else 1
  if aux_after is None:
    return needed
  if final_endpoint is not None:
    names = end_point_names(steps)
    if names.index(final_endpoint) <= names.index(steps[aux_after].end_point):
      return needed
  for size in range(needed, 10000):
    side = (size - 3) // stem.stride + 1 if stem.padding == 'VALID' else -(-size // stem.stride)
    for step in steps[:aux_after + 1]:
      side = -(-side // step.stride)
    if side >= 5:
      return size
  raise AssertionError('no input size is large enough')


def _aux_head(net, num_classes, activation):
  """The auxiliary classifier: pool, 1x1 to 128, a conv over the whole map to 768, logits."""
  with tf1.variable_scope('aux_logits'):
    net = slim.avg_pool2d(net, [5, 5], stride=3, padding='VALID')
    net = slim.conv2d(net, 128, [1, 1], scope='proj')
    net = activation(layers.batch_norm(net, scope='aux_bn0'))
    net = slim.conv2d(net, 768, net.shape[1:3].as_list(), padding='VALID')
    net = activation(layers.batch_norm(net, scope='aux_bn1'))
    return slim.fully_connected(slim.flatten(net), num_classes)


def build_network(images, *, net_name, stem, steps, aux_after, config, num_classes,
                  is_training, final_endpoint, current_step):
  """Builds a cell network from its plan, up to `final_endpoint`.

  Args:
    images: [batch, height, width, 3].
    net_name: the name in error messages.
    stem: the `ConvStem`.
    steps: the `CellStep`s, stem cells first.
    aux_after: index in `steps` of the cell the auxiliary head reads, or None.
    config: the network's `NasNetConfig`.
    num_classes: 0 or None returns the pooled features.
    is_training: a Python bool: batch statistics, dropout, drop-path, the auxiliary head.
    final_endpoint: stop after this end point; None builds all.
    current_step: the step drop-path's schedule reads; None reads the global step.

  Returns:
    (net, end_points): the logits (or the output of `final_endpoint`) and the outputs
    recorded up to there, in build order.

  Raises:
    ValueError: an unknown final_endpoint, an unsupported data_format, or images of the
      wrong shape.
    TypeError: is_training is not True or False.
  """
  # Drop-path and the auxiliary head are built or not: a tensor or None cannot decide.
  input_checks.check_flag(is_training, 'is_training', net_name)
  is_training = bool(is_training)
  if config.data_format != 'NHWC':
    raise ValueError(f'{net_name}: data_format must be NHWC, got {config.data_format!r}')
  names = end_point_names(steps)
  if final_endpoint is not None and final_endpoint not in names:
    raise ValueError(f'{net_name}: unknown final_endpoint {final_endpoint!r}; expected one '
                     f'of {", ".join(names)}')
  with_aux = bool(config.use_aux_head and num_classes and aux_after is not None)
  images = input_checks.check_images(
      images, net_name,
      min_image_size(stem, steps, aux_after if with_aux else None, final_endpoint),
      channels=(3,))

  keep_prob = config.drop_path_keep_prob if is_training else 1.0
  if keep_prob < 1.0 and current_step is None:
    current_step = tf1.train.get_or_create_global_step()
  build_cell = _CellBuilder(config.num_conv_filters, is_training,
                            config.use_bounded_activation)
  activation = build_cell.activation
  end_points = {}

  def reached(name, net):
    end_points[name] = net
    return name == final_endpoint

  with slim.arg_scope([layers.batch_norm], is_training=is_training):
    net = conv2d(images, stem.filters, 3, stride=stem.stride, padding=stem.padding,
                 scope=stem.conv_scope)
    net = layers.batch_norm(net, scope=stem.bn_scope)
    if _conv_stem_is_stem(steps) and reached('Stem', net):
      return net, end_points
    outputs = [None, net]
    for cell_num, step in enumerate(steps):
      prev_layer = outputs[-step.prev_back] if len(outputs) >= step.prev_back else None
      cell_keep_prob = None
      if keep_prob < 1.0:
        cell_keep_prob = drop_path_keep_prob_at(keep_prob, cell_num, len(steps),
                                                current_step, config.total_training_steps)
      net = build_cell(net, prev_layer, step, cell_keep_prob)
      outputs.append(net)
      if step.end_point and reached(step.end_point, net):
        return net, end_points
      if cell_num == aux_after and with_aux and is_training:
        with tf1.variable_scope(f'aux_{step.scope.split("_")[-1]}'):
          end_points['AuxLogits'] = _aux_head(activation(net), num_classes, activation)

    with tf1.variable_scope('final_layer'):
      net = global_avg_pool(activation(net))
      if reached('global_pool', net) or not num_classes:
        return net, end_points
      net = slim.dropout(net, config.dense_dropout_keep_prob, is_training=is_training,
                         scope='dropout')
      logits = slim.fully_connected(net, num_classes)
      if reached('Logits', logits):
        return logits, end_points
      predictions = tf.nn.softmax(logits, name='predictions')
      if reached('Predictions', predictions):
        return predictions, end_points
  return logits, end_points


@dataclasses.dataclass
class NasNetConfig:
  """The settings of a NASNet or PNASNet build: the fields of TF-Slim's HParams.

  stem_multiplier: the stem convolution has 32 (ImageNet) or num_conv_filters (CIFAR)
    times this many filters.
  drop_path_keep_prob: keep probability of drop-path in the last cell at the end of its
    schedule; 1.0 turns drop-path off.
  num_cells: cells besides the stem and reduction cells.
  use_aux_head: build the auxiliary classifier in training.
  num_conv_filters: filters of each operation in the first stage; each reduction
    multiplies them by filter_scaling_rate.
  dense_dropout_keep_prob: dropout before the logits.
  filter_scaling_rate: growth of the filters at each reduction.
  num_reduction_layers: how many times the cells halve the map after the stem.
  skip_reduction_layer_input: the cell after a reduction reads the output from before
    the reduction as its second input.
  total_training_steps: step at which drop-path reaches its full rate.
  use_bounded_activation: ReLU6 and activations clipped to [-6, 6] (for quantization).
  data_format: 'NHWC' (the only layout built here).
  """
  stem_multiplier: float
  drop_path_keep_prob: float
  num_cells: int
  use_aux_head: int
  num_conv_filters: int
  dense_dropout_keep_prob: float
  filter_scaling_rate: float
  num_reduction_layers: int
  skip_reduction_layer_input: int
  total_training_steps: int
  use_bounded_activation: bool = False
  data_format: str = 'NHWC'

  def set_hparam(self, name, value):
    """Sets one field, as TF-Slim's HParams does; an unknown name is an error."""
    if name not in {field.name for field in dataclasses.fields(self)}:
      raise ValueError(f'NasNetConfig has no field {name!r}')
    setattr(self, name, value)

  def values(self):
    """The fields as a dict."""
    return dataclasses.asdict(self)
