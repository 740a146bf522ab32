"""The faster Conv2D gradient for CPU training, registered with TensorFlow on import.

`fast_conv_gradients()` routes the Conv2D ops built inside it to that gradient;
`nets_factory.get_network_fn` builds every network inside it. Importing this module is what
registers the gradient, and Python imports a module once, so it is registered once.
"""

import contextlib
import functools

import tensorflow as tf

tf1 = tf.compat.v1

_FAST_CONV2D_GRADIENT = 'SlimbenchFastConv2DGradient'


def _conv2d_gradient(op, grad):
  """Conv2D's gradient, with matmuls where TensorFlow's CPU kernels are slow.

  - A kernel covering the whole input map (fc6-fc8 of AlexNet, OverFeat and VGG, logits
    on pooled features) makes the convolution a matrix product of [images, k * k * in] by
    [k * k * in, out], whose gradients TensorFlow's CPU convolution kernels compute far
    slower than matmuls do.
  - A sliding kernel at stride 1 gets its filter gradient as one matmul per kernel tap:
    dW[i, j] = x[:, i:i + h, j:j + w, :]^T dy, over all images and positions, which
    oneDNN runs faster than its Conv2DBackpropFilter. Only in float32 and without a
    GPU, whose convolution kernels have no such gap.

  The input gradient of sliding kernels stays TensorFlow's: rewritten as a convolution
  it measured no faster. The measurements are in docs/performance.md ("Convolution
  gradients on the CPU").
  """
  inputs, weights = op.inputs
  kernel_height, kernel_width, in_channels, out_channels = weights.shape.as_list()
  nhwc_undilated = (op.get_attr('data_format') == b'NHWC' and
                    list(op.get_attr('dilations')) == [1, 1, 1, 1] and
                    None not in (in_channels, out_channels))
  padding = op.get_attr('padding').decode()
  if nhwc_undilated and kernel_covers_map(inputs.shape, [kernel_height, kernel_width],
                                          padding):
    # NHWC rows flatten in the order of the [k, k, in, out] weights.
    depth = kernel_height * kernel_width * in_channels
    rows_in = tf.reshape(inputs, [-1, depth])
    rows_grad = tf.reshape(grad, [-1, out_channels])
    matrix = tf.reshape(weights, [depth, out_channels])
    grad_inputs = tf.reshape(tf.matmul(rows_grad, matrix, transpose_b=True), tf.shape(inputs))
    grad_weights = tf.reshape(tf.matmul(rows_in, rows_grad, transpose_a=True),
                              tf.shape(weights))
    return grad_inputs, grad_weights
  attributes = {name: op.get_attr(name) for name in (
      'strides', 'padding', 'dilations', 'data_format', 'explicit_paddings',
      'use_cudnn_on_gpu')}
  grad_inputs = tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(inputs), filter=weights,
                                               out_backprop=grad, **attributes)
  taps = kernel_height * kernel_width
  if (nhwc_undilated and list(op.get_attr('strides')) == [1, 1, 1, 1] and
      padding in ('SAME', 'VALID') and 1 < taps <= _MAX_FILTER_TAPS and
      None not in (grad.shape[1], grad.shape[2]) and not _has_gpu() and
      # A float16 matmul sums its long rows (every image and position) in float16: LeNet
      # trained under --use_fp16 stalled near chance this way.
      inputs.dtype == tf.float32):
    grad_weights = _filter_gradient_by_taps(inputs, grad, kernel_height, kernel_width,
                                            padding)
  else:
    grad_weights = tf.raw_ops.Conv2DBackpropFilter(
        input=inputs, filter_sizes=tf.shape(weights), out_backprop=grad, **attributes)
  return grad_inputs, grad_weights


# Each tap reads a shifted copy of the input; 5x5 (and 1x7) kernels are the largest whose
# gain was measured.
_MAX_FILTER_TAPS = 25


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


def kernel_covers_map(input_shape, kernel, padding):
  """Whether a stride-free NHWC convolution of `kernel` sees the whole input map at once.

  Its output is then 1x1 at any stride: VALID fits the kernel exactly once, and SAME leaves
  a 1x1 kernel on a 1x1 map as it is (a larger kernel it pads and slides).
  """
  height, width = input_shape[1], input_shape[2]
  return (None not in (height, width) and [height, width] == list(kernel) and
          (padding.upper() == 'VALID' or (padding.upper() == 'SAME' and height == width == 1)))


@contextlib.contextmanager
def fast_conv_gradients():
  """Conv2D ops created inside get the faster gradient of `_conv2d_gradient`.

  The forward graph is unchanged (same ops, names and variables); only `tf.gradients`
  builds different ops, with the same values.
  """
  with tf1.get_default_graph().gradient_override_map({'Conv2D': _FAST_CONV2D_GRADIENT}):
    yield

