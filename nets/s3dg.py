"""S3D-G: Inception-v1 in 3-D with separable convolutions and feature gating.

Xie, Sun, Huang, Tu & Murphy: "Rethinking Spatiotemporal Feature Learning: Speed-Accuracy
Trade-offs in Video Classification", ECCV 2018. Every t x 3 x 3 convolution is a 1 x 3 x 3
spatial one followed by a t x 1 x 1 temporal one (S3D); from `gating_startat` on, each
such layer's output is multiplied by a sigmoid gate computed from its average over the
whole clip (the "G"). Where the temporal convolutions start is an option: starting late
gives the paper's "bottom-heavy" models. Variable names are TF-Slim's, under
`InceptionV1`, so an Inception-v1 checkpoint's 2-D weights have somewhere to go.

Usage:
  with slim.arg_scope(s3dg.s3dg_arg_scope()):
    logits, end_points = s3dg.s3dg(clips, num_classes=400)   # clips: [N, 64, 224, 224, 3]
  features, end_points = s3dg.s3dg_base(clips, final_endpoint='Mixed_4f')
"""

import tensorflow as tf
import tf_slim as slim

from . import i3d_utils
from . import inception_utils
from . import input_checks
from . import layers
from . import registry

tf1 = tf.compat.v1

PAPER = ('Xie et al., Rethinking Spatiotemporal Feature Learning: Speed-Accuracy '
         'Trade-offs in Video Classification, ECCV 2018')
DEFAULT_NUM_FRAMES = 64


def s3dg_arg_scope(weight_decay=1e-7, batch_norm_decay=0.999, batch_norm_epsilon=0.001):
  """S3D-G's layer defaults: separable 3-D convolutions, batch norm, ReLU, L2 decay.

  Args:
    weight_decay: L2 regularization of the convolutions' weights.
    batch_norm_decay: decay of the moving averages of the batch statistics.
    batch_norm_epsilon: added to the variance to avoid dividing by zero.

  Returns:
    An arg scope for `slim.arg_scope`.
  """
  return i3d_utils.video_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon,
                                   separable=True)


def self_gating(input_tensor, scope, data_format='NDHWC'):
  """Multiplies each channel by a sigmoid gate computed from the clip-wide averages.

  The gate is W * mean over time and space of `input_tensor` (W a 1x1x1 convolution
  without bias, in `scope/self_gating/transformer_W`): context from the whole clip
  decides which features pass.

  Args:
    input_tensor: a 5-D tensor in `data_format`.
    scope: the scope of the layer being gated.
    data_format: 'NDHWC' or 'NCDHW'.

  Returns:
    A tensor of the shape of `input_tensor`.
  """
  channel_axis = data_format.index('C')
  spatiotemporal_axes = [data_format.index(axis) for axis in 'DHW']
  context = tf.reduce_mean(input_tensor, spatiotemporal_axes, keepdims=True,
                           name='self_gating_average')
  gate = slim.conv3d(context, input_tensor.shape[channel_axis], [1, 1, 1],
                     activation_fn=None, normalizer_fn=None, biases_initializer=None,
                     weights_initializer=inception_utils.trunc_normal(0.01),
                     data_format=data_format, scope=f'{scope}/self_gating/transformer_W')
  return tf.multiply(tf.sigmoid(gate), input_tensor)


def s3dg_base(inputs, first_temporal_kernel_size=3, temporal_conv_startat='Conv2d_2c_3x3',
              gating_startat='Conv2d_2c_3x3', final_endpoint='Mixed_5c', min_depth=16,
              depth_multiplier=1.0, data_format='NDHWC', scope='InceptionV1'):
  """S3D-G (and, with other options, I3D) up to `final_endpoint`.

  Args:
    inputs: clips [batch, frames, height, width, channels] (or 'NCDHW').
    first_temporal_kernel_size: time kernel of Conv2d_1a_7x7: 1, 3, 5 or 7. The paper
      uses 7; 3 is as accurate and faster.
    temporal_conv_startat: the first block whose 3x3 convolutions also span time
      (Conv2d_2c_3x3 or a Mixed block); earlier ones are 1 x 3 x 3. None: none do.
    gating_startat: the first block gated by `self_gating`; None: no gating.
    final_endpoint: the block to stop after, one of `i3d_utils.END_POINTS`.
    min_depth: fewest channels of any convolution when `depth_multiplier` < 1.
    depth_multiplier: scales every convolution's channels; must be positive.
    data_format: 'NDHWC' or 'NCDHW' (TensorFlow's CPU kernels run NDHWC only).
    scope: optional variable scope.

  Returns:
    (net, end_points): the output of `final_endpoint` and the outputs of all blocks up to it.

  Raises:
    ValueError: an unknown end point, start block or data format, a first temporal
      kernel other than 1, 3, 5 or 7, depth_multiplier <= 0, or bad clips.
  """
  inputs = i3d_utils.check_clips(inputs, 'InceptionV1', data_format)
  depth = inception_utils.depth_fn(depth_multiplier, min_depth)

  def gating_fn(net, scope):
    return self_gating(net, scope, data_format=data_format)

  with tf1.variable_scope(scope, 'InceptionV1', [inputs]):
    with slim.arg_scope([slim.conv3d], weights_initializer=inception_utils.trunc_normal(0.01)):
      return i3d_utils.build_blocks(
          inputs, final_endpoint=final_endpoint,
          first_temporal_kernel_size=first_temporal_kernel_size,
          temporal_conv_startat=temporal_conv_startat, gating_startat=gating_startat,
          gating_fn=gating_fn, depth=depth, data_format=data_format)


def video_classifier(base_fn, inputs, *, num_classes, dropout_keep_prob, is_training,
                     prediction_fn, spatial_squeeze, reuse, data_format, scope):
  """`base_fn(inputs, scope)` under TF-Slim's training switches, then the 3-D classifier.

  is_training=None leaves batch norm and dropout to an enclosing arg scope.

  Raises:
    TypeError: spatial_squeeze is not True or False, or is_training is not None, True,
      False or a boolean tensor.
  """
  net_name = getattr(scope, 'name', scope) or 'InceptionV1'
  input_checks.check_flag(spatial_squeeze, 'spatial_squeeze', net_name)
  if is_training is not None:
    input_checks.check_flag(is_training, 'is_training', net_name, allow_tensor=True)
  switches = {} if is_training is None else {'is_training': is_training}
  with tf1.variable_scope(scope, 'InceptionV1', [inputs], reuse=reuse) as sc:
    with slim.arg_scope([layers.batch_norm, slim.dropout], **switches):
      net, end_points = base_fn(inputs, sc)
      return i3d_utils.logits_3d(
          net, end_points, net_name=sc.name, num_classes=num_classes,
          dropout_keep_prob=dropout_keep_prob, spatial_squeeze=spatial_squeeze,
          prediction_fn=prediction_fn, data_format=data_format)


# Inception preprocessing, frame by frame: pixels in [-1, 1], as the ImageNet Inception-v1
# whose weights are inflated into these nets takes them, and as Carreira & Zisserman's
# Kinetics checkpoints do.
@registry.register('s3dg', arg_scope=s3dg_arg_scope, default_image_size=224,
                   num_frames=DEFAULT_NUM_FRAMES, min_image_size=1, preprocessing='inception',
                   num_classes=1000, logits_scope='InceptionV1/Logits', paper=PAPER)
def s3dg(inputs, num_classes=1000, first_temporal_kernel_size=3,
         temporal_conv_startat='Conv2d_2c_3x3', gating_startat='Conv2d_2c_3x3',
         final_endpoint='Mixed_5c', min_depth=16, depth_multiplier=1.0,
         dropout_keep_prob=0.8, is_training=True, prediction_fn=slim.softmax,
         spatial_squeeze=True, reuse=None, data_format='NDHWC', scope='InceptionV1'):
  """S3D-G video classifier.

  Args:
    inputs: clips [batch, frames, height, width, channels] (or 'NCDHW'); any size, the
      final pooling shrinks to the map (64 x 224 x 224 by default).
    num_classes: number of predicted classes; 0 or None returns the pooled features.
    first_temporal_kernel_size, temporal_conv_startat, gating_startat, final_endpoint,
      min_depth, depth_multiplier, data_format: as in `s3dg_base`.
    dropout_keep_prob: probability of keeping an activation before the logits.
    is_training: batch statistics and dropout when true; None leaves them to an
      enclosing arg scope.
    prediction_fn: turns the logits into `end_points['Predictions']`.
    spatial_squeeze: squeeze the logits to [batch, num_classes].
    reuse: reuse the variables of `scope`.
    scope: optional variable scope.

  Returns:
    (logits, end_points): logits averaged over the frames, or the pooled features
    [batch, 1, 1, channels] when num_classes is 0 or None.
  """
  def base_fn(clips, sc):
    return s3dg_base(clips, first_temporal_kernel_size=first_temporal_kernel_size,
                     temporal_conv_startat=temporal_conv_startat,
                     gating_startat=gating_startat, final_endpoint=final_endpoint,
                     min_depth=min_depth, depth_multiplier=depth_multiplier,
                     data_format=data_format, scope=sc)
  return video_classifier(base_fn, inputs, num_classes=num_classes,
                          dropout_keep_prob=dropout_keep_prob, is_training=is_training,
                          prediction_fn=prediction_fn, spatial_squeeze=spatial_squeeze,
                          reuse=reuse, data_format=data_format, scope=scope)
