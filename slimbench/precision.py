"""Mixed precision: float16 activations and gradients over float32 variables.

What tf_cnn_benchmarks' `--use_fp16` does, for any net of the registry: the images are
cast to float16, and every variable a layer asks for in float16 is created in float32 (so
checkpoints keep TF-Slim's float32 variables and the updates keep their small increments)
and read through a cast. The loss is scaled so that small gradients do not flush to zero
in float16; `loss_scale_optimizer` wraps the optimizer in TensorFlow's own loss scaling.

It pays on GPUs with float16 matrix units. This CPU has none: TensorFlow runs float16
convolutions here on generic kernels, several times slower than float32 (see
docs/performance.md), so it is off unless asked for.

Usage:
  network_fn = precision.float16_network(nets_factory.get_network_fn('resnet_v1_50', 1000))
  logits, end_points = network_fn(images)   # logits in float32
  optimizer = precision.loss_scale_optimizer(optimizer, loss_scale=None)  # dynamic
"""

import functools

import tensorflow as tf

tf1 = tf.compat.v1

# End points returned in float32, because losses and metrics are computed from them.
FLOAT32_END_POINTS = ('Logits', 'AuxLogits', 'Predictions')


def _float32_storage_getter(getter, name, *args, dtype=None, **kwargs):
  """A variable asked for in float16 is made in float32 and read as float16."""
  if dtype != tf.float16:
    return getter(name, *args, dtype=dtype, **kwargs)
  variable = getter(name, *args, dtype=tf.float32, **kwargs)
  return tf.cast(variable, tf.float16, name=name.split('/')[-1] + '/float16')


def float16_network(network_fn):
  """`network_fn` computing in float16 over float32 variables.

  The returned function takes images of any float type and returns (logits, end_points)
  like `network_fn`, with the logits and FLOAT32_END_POINTS in float32. Regularization
  losses that layers compute on the float16 reads of their weights are cast to float32,
  so that they sum with the rest.
  """
  @functools.wraps(network_fn)
  def network_in_float16(images, *args, **kwargs):
    graph = tf1.get_default_graph()
    losses = graph.get_collection_ref(tf1.GraphKeys.REGULARIZATION_LOSSES)
    known_losses = len(losses)
    with tf1.variable_scope(tf1.get_variable_scope(), custom_getter=_float32_storage_getter,
                            auxiliary_name_scope=False):
      logits, end_points = network_fn(tf.cast(images, tf.float16), *args, **kwargs)
    for index in range(known_losses, len(losses)):
      if losses[index].dtype != tf.float32:
        losses[index] = tf.cast(losses[index], tf.float32)
    end_points = dict(end_points)
    for key in FLOAT32_END_POINTS:
      if key in end_points:
        end_points[key] = tf.cast(end_points[key], tf.float32)
    return tf.cast(logits, tf.float32), end_points

  return network_in_float16


def check_config(use_fp16, fp16_loss_scale):
  """Rejects --fp16_loss_scale without --use_fp16, which would otherwise do nothing."""
  if fp16_loss_scale is not None and not use_fp16:
    raise ValueError('--fp16_loss_scale applies to mixed precision: add --use_fp16')


def loss_scale_optimizer(optimizer, loss_scale=None):
  """`optimizer` with its loss scaled by `loss_scale`, or by a dynamic scale if None.

  The dynamic scale starts at 2**15, halves and skips the update whenever a gradient is
  not finite, and doubles after 2000 finite steps (TensorFlow's DynamicLossScale).
  """
  scale = 'dynamic' if loss_scale is None else float(loss_scale)
  return tf1.mixed_precision.MixedPrecisionLossScaleOptimizer(optimizer, scale)
