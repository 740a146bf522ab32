"""I3D: Inception-v1 inflated to 3-D, for video classification.

Carreira & Zisserman: "Quo Vadis, Action Recognition? A New Model and the Kinetics
Dataset", CVPR 2017. Every k x k convolution of Inception-v1 (with batch norm) becomes
k x k x k, Conv2d_1a_7x7 7 x 7 x 7; the first two max-pools keep every frame
(`i3d_utils.BLOCKS`). Variable names are Inception-v1's, under `InceptionV1`, which is
how ImageNet weights are inflated into it. I3D is S3D-G's base without separable
convolutions and without gating, which is how it is built here.

Usage:
  with slim.arg_scope(i3d.i3d_arg_scope()):
    logits, end_points = i3d.i3d(clips, num_classes=400)   # clips: [N, 64, 224, 224, 3]
  features, end_points = i3d.i3d_base(clips, final_endpoint='Mixed_4f')
"""

import tf_slim as slim

from . import i3d_utils
from . import registry
from . import s3dg

PAPER = ('Carreira & Zisserman, Quo Vadis, Action Recognition? A New Model and the '
         'Kinetics Dataset, CVPR 2017')
DEFAULT_NUM_FRAMES = 64


def i3d_arg_scope(weight_decay=1e-7, batch_norm_decay=0.999, batch_norm_epsilon=0.001,
                  use_renorm=False, separable_conv3d=False):
  """I3D's layer defaults: full 3-D convolutions, batch norm, ReLU, L2 decay.

  Args:
    weight_decay: L2 regularization of the convolutions' weights.
    batch_norm_decay: decay of the moving averages of the batch statistics.
    batch_norm_epsilon: added to the variance to avoid dividing by zero.
    use_renorm: batch renormalization; not available (our batch norm has none).
    separable_conv3d: split the t x k x k convolutions in space and time, as S3D does.

  Returns:
    An arg scope for `slim.arg_scope`.

  Raises:
    ValueError: use_renorm is true.
  """
  if use_renorm:
    raise ValueError('i3d_arg_scope: use_renorm=True is not supported; batch '
                     'renormalization is not implemented in nets.layers.batch_norm')
  return i3d_utils.video_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon,
                                   separable=separable_conv3d)


def i3d_base(inputs, final_endpoint='Mixed_5c', scope='InceptionV1'):
  """I3D up to `final_endpoint`.

  Args:
    inputs: clips [batch, frames, height, width, channels].
    final_endpoint: the block to stop after, one of `i3d_utils.END_POINTS`.
    scope: optional variable scope.

  Returns:
    (net, end_points): the output of `final_endpoint` and the outputs of all blocks up to it.

  Raises:
    ValueError: unknown `final_endpoint`, or bad clips.
  """
  return s3dg.s3dg_base(inputs, first_temporal_kernel_size=7,
                        temporal_conv_startat='Conv2d_2c_3x3', gating_startat=None,
                        final_endpoint=final_endpoint, min_depth=16, depth_multiplier=1.0,
                        data_format=i3d_utils.NDHWC, scope=scope)


# Inception preprocessing, frame by frame: pixels in [-1, 1], as the ImageNet Inception-v1
# whose weights are inflated into these nets takes them, and as Carreira & Zisserman's
# Kinetics checkpoints do.
@registry.register('i3d', arg_scope=i3d_arg_scope, default_image_size=224,
                   num_frames=DEFAULT_NUM_FRAMES, min_image_size=1, preprocessing='inception',
                   num_classes=1000, logits_scope='InceptionV1/Logits', paper=PAPER)
def i3d(inputs, num_classes=1000, dropout_keep_prob=0.8, is_training=True,
        prediction_fn=slim.softmax, spatial_squeeze=True, reuse=None, scope='InceptionV1'):
  """I3D video classifier.

  Args:
    inputs: clips [batch, frames, height, width, channels]; any size, the final pooling
      shrinks to the map (64 x 224 x 224 by default).
    num_classes: number of predicted classes; 0 or None returns the pooled features.
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
  return s3dg.video_classifier(
      lambda clips, sc: i3d_base(clips, scope=sc), inputs, num_classes=num_classes,
      dropout_keep_prob=dropout_keep_prob, is_training=is_training,
      prediction_fn=prediction_fn, spatial_squeeze=spatial_squeeze, reuse=reuse,
      data_format=i3d_utils.NDHWC, scope=scope)
