"""Ways to compute Conv2D's gradient on a CPU, and which one each convolution gets.

Four kernels give the same values up to float rounding:
- `tensorflow`: TensorFlow's Conv2DBackpropInput and Conv2DBackpropFilter.
- `matmul`: where the kernel covers the whole input map (fc6-fc8 of AlexNet, OverFeat and
  VGG, logits on pooled features) the convolution is a matrix product of
  [images, k * k * in] by [k * k * in, out], and both gradients are matmuls.
- `pointwise`: a 1x1 kernel at stride 1 is a matrix product of [images * positions, in] by
  [in, out], and both gradients are matmuls over all images and positions, as for
  `matmul`. Float32 only, for the reason given under `taps`.
- `taps`: for a sliding kernel at stride 1, TensorFlow's input gradient and the filter
  gradient as one matmul per kernel tap: dW[i, j] = x[:, i:i + h, j:j + w, :]^T dy, over all
  images and positions. Float32 only: a float16 matmul sums its long rows in float16
  (LeNet under --use_fp16 stalled near chance this way).

Which is fastest depends on the CPU and TensorFlow's kernels for it (docs/performance.md):
`conv_gradients(mode)` sets it for the Conv2D ops built inside. `tensorflow` keeps
TensorFlow's; `fast` applies the fixed rule that measured fastest where it was tuned
(`matmul` where it applies, else `taps`, else `tensorflow`; `pointwise` was found later
and is only chosen by measurement); a chooser (mode `auto`:
`slimbench.kernel_tuning.KernelChooser`) times the kernels that apply to each convolution
on this machine. The forward graph is the same in every mode (same ops, names and
variables); only `tf.gradients` builds other ops.

Importing this module registers the gradient functions with TensorFlow; Python imports a
module once, so they are registered once.
"""

import contextlib
import functools
import weakref

import tensorflow as tf

tf1 = tf.compat.v1

TENSORFLOW, MATMUL, POINTWISE, TAPS = 'tensorflow', 'matmul', 'pointwise', 'taps'
CONV_GRADIENT_MODES = ('auto', TENSORFLOW, 'fast')
_FAST_CONV2D_GRADIENT = 'SlimbenchFastConv2DGradient'
_MEASURED_CONV2D_GRADIENT = 'SlimbenchMeasuredConv2DGradient'
_ATTRIBUTES = ('strides', 'padding', 'dilations', 'data_format', 'explicit_paddings',
               'use_cudnn_on_gpu')
# Each tap reads a shifted copy of the input; 5x5 (and 1x7) kernels are the largest whose
# gain was measured.
_MAX_FILTER_TAPS = 25
# The chooser of each graph built in `auto` mode: gradients are built after the network,
# outside `conv_gradients`, so the gradient function finds it by the op's graph.
_CHOOSERS = weakref.WeakKeyDictionary()


def applicable_kernels(input_shape, kernel_shape, attributes, dtype):
  """The kernels that can compute this Conv2D's gradient, TensorFlow's first."""
  kernel_height, kernel_width, in_channels, out_channels = kernel_shape
  nhwc_undilated = (attributes['data_format'] == b'NHWC' and
                    list(attributes['dilations']) == [1, 1, 1, 1] and
                    None not in (in_channels, out_channels))
  padding = attributes['padding'].decode()
  if nhwc_undilated and kernel_covers_map(input_shape, [kernel_height, kernel_width],
                                          padding):
    return [TENSORFLOW, MATMUL]
  stride_one = list(attributes['strides']) == [1, 1, 1, 1]
  if (nhwc_undilated and stride_one and [kernel_height, kernel_width] == [1, 1] and
      padding in ('SAME', 'VALID') and dtype == tf.float32):
    return [TENSORFLOW, POINTWISE]
  if (nhwc_undilated and stride_one and
      padding in ('SAME', 'VALID') and 1 < kernel_height * kernel_width <= _MAX_FILTER_TAPS
      and None not in (input_shape[1], input_shape[2]) and dtype == tf.float32):
    return [TENSORFLOW, TAPS]
  return [TENSORFLOW]


def build_gradient(kernel, inputs, weights, grad, attributes):
  """(input gradient, filter gradient) of a Conv2D, computed by `kernel`."""
  if kernel in (MATMUL, POINTWISE):
    # NHWC rows flatten in the order of the [k, k, in, out] weights; at 1x1 and stride 1
    # each position of each image is a row of both the input and the output gradient.
    kernel_height, kernel_width, in_channels, out_channels = weights.shape.as_list()
    depth = kernel_height * kernel_width * in_channels
    rows_in = tf.reshape(inputs, [-1, depth])
    rows_grad = tf.reshape(grad, [-1, out_channels])
    matrix = tf.reshape(weights, [depth, out_channels])
    grad_inputs = tf.reshape(tf.matmul(rows_grad, matrix, transpose_b=True), tf.shape(inputs))
    grad_weights = tf.reshape(tf.matmul(rows_in, rows_grad, transpose_a=True),
                              tf.shape(weights))
    return grad_inputs, grad_weights
  grad_inputs = tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(inputs), filter=weights,
                                               out_backprop=grad, **attributes)
  if kernel == TAPS:
    kernel_height, kernel_width = weights.shape.as_list()[:2]
    grad_weights = _filter_gradient_by_taps(inputs, grad, kernel_height, kernel_width,
                                            attributes['padding'].decode())
  else:
    grad_weights = tf.raw_ops.Conv2DBackpropFilter(
        input=inputs, filter_sizes=tf.shape(weights), out_backprop=grad, **attributes)
  return grad_inputs, grad_weights


def by_rule(kernels):
  """The fixed rule (`fast`): the whole-map product, else the taps, else TensorFlow's.

  The taps stay off with a GPU, whose convolution kernels have no such gap.
  """
  if MATMUL in kernels:
    return MATMUL
  if TAPS in kernels and not _has_gpu():
    return TAPS
  return TENSORFLOW


def _op_facts(op):
  inputs, weights = op.inputs
  attributes = {name: op.get_attr(name) for name in _ATTRIBUTES}
  kernels = applicable_kernels(inputs.shape, weights.shape.as_list(), attributes,
                               inputs.dtype)
  return inputs, weights, attributes, kernels


def _conv2d_gradient(op, grad):
  """Conv2D's gradient by the fixed rule (`fast`)."""
  inputs, weights, attributes, kernels = _op_facts(op)
  return build_gradient(by_rule(kernels), inputs, weights, grad, attributes)


def _measured_conv2d_gradient(op, grad):
  """Conv2D's gradient by the kernel that the graph's chooser measured fastest."""
  inputs, weights, attributes, kernels = _op_facts(op)
  chooser = _CHOOSERS.get(op.graph)
  input_shape, output_shape = inputs.shape, op.outputs[0].shape
  if chooser is None or not (input_shape.is_fully_defined() and
                             output_shape.is_fully_defined()):
    # Without every size (a batch fed later) there is nothing to time: the fixed rule.
    return build_gradient(by_rule(kernels), inputs, weights, grad, attributes)
  weight_shape = weights.shape.as_list()
  signature = {'op': 'Conv2D gradient', 'input': input_shape.as_list(),
               'filter': weight_shape, 'output': output_shape.as_list(),
               'dtype': inputs.dtype.name,
               **{name: (value.decode() if isinstance(value, bytes) else list(value)
                         if isinstance(value, list) else value)
                  for name, value in attributes.items()}}

  input_specs = [('inputs', input_shape.as_list(), inputs.dtype),
                 ('weights', weight_shape, inputs.dtype),
                 ('grad', output_shape.as_list(), inputs.dtype)]

  def build(kernel, timing_inputs):
    return build_gradient(kernel, *timing_inputs, attributes)

  # Both gradients: each as many multiply-adds as the forward convolution.
  flops = 4 * output_shape.num_elements() * weight_shape[0] * weight_shape[1] * (
      weight_shape[2])
  kernel = chooser(op.name, signature, kernels, build, input_specs, flops)
  return build_gradient(kernel, inputs, weights, grad, attributes)


def _filter_gradient_by_taps(inputs, grad, kernel_height, kernel_width, padding):
  """The filter gradient of a stride-1 convolution, one [in, out] matmul per kernel tap."""
  if padding == 'SAME':
    top, left = (kernel_height - 1) // 2, (kernel_width - 1) // 2
    inputs = tf.pad(inputs, [[0, 0], [top, kernel_height - 1 - top],
                             [left, kernel_width - 1 - left], [0, 0]])
  out_height, out_width, out_channels = grad.shape[1], grad.shape[2], grad.shape[3]
  in_channels = inputs.shape[3]
  rows_grad = tf.reshape(grad, [-1, out_channels])
  taps = [tf.matmul(tf.reshape(inputs[:, i:i + out_height, j:j + out_width, :],
                               [-1, in_channels]), rows_grad, transpose_a=True)
          for i in range(kernel_height) for j in range(kernel_width)]
  return tf.reshape(tf.stack(taps), [kernel_height, kernel_width, in_channels, out_channels])


@functools.lru_cache(maxsize=None)
def _has_gpu():
  return bool(tf.config.list_physical_devices('GPU'))


tf.RegisterGradient(_FAST_CONV2D_GRADIENT)(_conv2d_gradient)
tf.RegisterGradient(_MEASURED_CONV2D_GRADIENT)(_measured_conv2d_gradient)


def kernel_covers_map(input_shape, kernel, padding):
  """Whether a stride-free NHWC convolution of `kernel` sees the whole input map at once.

  Its output is then 1x1 at any stride: VALID fits the kernel exactly once, and SAME leaves
  a 1x1 kernel on a 1x1 map as it is (a larger kernel it pads and slides).
  """
  height, width = input_shape[1], input_shape[2]
  return (None not in (height, width) and [height, width] == list(kernel) and
          (padding.upper() == 'VALID' or (padding.upper() == 'SAME' and height == width == 1)))


@contextlib.contextmanager
def conv_gradients(mode):
  """Conv2D ops created inside get their gradient as `mode` says.

  Args:
    mode: 'tensorflow', 'fast' (the fixed rule) or a chooser, called as
      `chooser(op_name, signature, kernels, build, input_specs, flops)` when the gradient
      is built, that returns one of `kernels` (`slimbench.kernel_tuning.KernelChooser`).
  """
  if mode == TENSORFLOW:
    yield
    return
  graph = tf1.get_default_graph()
  if mode == 'fast':
    name = _FAST_CONV2D_GRADIENT
  elif callable(mode):
    _CHOOSERS[graph] = mode
    name = _MEASURED_CONV2D_GRADIENT
  else:
    raise ValueError(f'conv_gradients: {mode!r} is not tensorflow, fast or a chooser')
  with graph.gradient_override_map({'Conv2D': name}):
    yield


def fast_conv_gradients():
  """Conv2D ops created inside get their gradient by the fixed rule."""
  return conv_gradients('fast')
