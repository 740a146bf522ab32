"""VGG preprocessing: scale jittering, random crops and RGB mean subtraction.

Simonyan, Zisserman: "Very Deep Convolutional Networks for Large-Scale Image Recognition",
ICLR 2015, Section 3.1, as TF-Slim applies it (also to its VGG, ResNet-v1, AlexNet-v2 and
OverFeat checkpoints, which were converted from Caffe and expect Caffe's input):
- training: resize the shorter side to a random S in [256, 512] keeping the aspect ratio
  ("scale jittering"), take a random crop of the output size, flip it at random.
- evaluation: resize the shorter side to 256, take the central crop.
Both subtract the ImageNet RGB means (123.68, 116.78, 103.94) from pixel values in
[0, 255]; there is no scaling. Resizing is bilinear with TF 1.x sampling.

Usage:
  image = vgg_preprocessing.preprocess_image(image, 224, 224, is_training=False)
"""

import tensorflow as tf

from . import image_ops

NAME = 'vgg'

_R_MEAN = 123.68
_G_MEAN = 116.78
_B_MEAN = 103.94
RGB_MEANS = (_R_MEAN, _G_MEAN, _B_MEAN)

_RESIZE_SIDE_MIN = 256
_RESIZE_SIDE_MAX = 512

_SEED_SIDE, _SEED_CROP, _SEED_FLIP = 0, 1, 2


def preprocess_for_train(image, output_height, output_width,
                         resize_side_min=_RESIZE_SIDE_MIN, resize_side_max=_RESIZE_SIDE_MAX,
                         use_grayscale=False, seed=None):
  """Scale jittering, random crop and flip, mean subtraction.

  Args:
    image: [height, width, 1 or 3] of any dtype; integers are scaled to [0, 255] (uint8
      is kept as is), floats are taken to be in [0, 1].
    output_height: height of the crop.
    output_width: width of the crop.
    resize_side_min: smallest value of the random shorter side S.
    resize_side_max: largest value of S (inclusive).
    use_grayscale: return one channel (the means' luma is subtracted).
    seed: makes the crop, scale and flip repeatable.

  Returns:
    float32 [output_height, output_width, 3 (1 if use_grayscale)], pixel values minus
    the means.
  """
  image = image_ops.match_channels(image_ops.to_pixel_float(image), use_grayscale)
  resize_side = tf.compat.v1.random_uniform(
      [], minval=resize_side_min, maxval=resize_side_max + 1, dtype=tf.int32,
      seed=image_ops.op_seed(seed, _SEED_SIDE))
  # A crop larger than S (non-square or larger outputs) needs a larger resize to fit.
  image = image_ops.aspect_preserving_resize(image, resize_side, output_height, output_width)
  image = image_ops.random_crop(image, output_height, output_width,
                                seed=image_ops.op_seed(seed, _SEED_CROP))
  image.set_shape([output_height, output_width, 1 if use_grayscale else 3])
  image = tf.image.random_flip_left_right(image, seed=image_ops.op_seed(seed, _SEED_FLIP))
  return image_ops.subtract_means(image, RGB_MEANS)


def preprocess_for_eval(image, output_height, output_width, resize_side=_RESIZE_SIDE_MIN,
                        use_grayscale=False):
  """Shorter side to `resize_side`, central crop, mean subtraction.

  Args:
    image: [height, width, 1 or 3] of any dtype (see `preprocess_for_train`).
    output_height: height of the crop.
    output_width: width of the crop.
    resize_side: the shorter side after the aspect-preserving resize.
    use_grayscale: return one channel.

  Returns:
    float32 [output_height, output_width, 3 (1 if use_grayscale)], pixel values minus
    the means.
  """
  image = image_ops.match_channels(image_ops.to_pixel_float(image), use_grayscale)
  image = image_ops.aspect_preserving_resize(image, resize_side, output_height, output_width)
  image = image_ops.central_crop(image, output_height, output_width)
  image.set_shape([output_height, output_width, 1 if use_grayscale else 3])
  return image_ops.subtract_means(image, RGB_MEANS)


def preprocess_image(image, output_height, output_width, is_training=False,
                     resize_side_min=None, resize_side_max=None, use_grayscale=False,
                     resize_side=None, seed=None):
  """Preprocesses one image for training or evaluation (TF-Slim's signature).

  Args:
    image: [height, width, 1 or 3] of any dtype; integers are scaled to [0, 255] (uint8
      is kept as is), floats are taken to be in [0, 1]. Any size: the resize upscales.
    output_height: output height.
    output_width: output width.
    is_training: scale-jitter and crop randomly, or crop centrally.
    resize_side_min: smallest random shorter side in training (256). As in TF-Slim, in
      evaluation it is the shorter side when `resize_side` is not given.
    resize_side_max: training only: largest random shorter side (512).
    use_grayscale: return one channel.
    resize_side: evaluation only: the shorter side before the central crop (256).
    seed: training only: makes the augmentation repeatable.

  Returns:
    float32 [output_height, output_width, 3 (1 if use_grayscale)], pixel values in
    [0, 255] minus the ImageNet RGB means.

  Raises:
    ValueError: bad sizes or image shape, resize_side_min > resize_side_max, or an
      argument the mode has no use for.
  """
  output_height, output_width = image_ops.check_output_size(output_height, output_width,
                                                            NAME)
  image = image_ops.check_image(image, NAME)
  if is_training:
    image_ops.reject_in_mode(NAME, is_training, resize_side=resize_side)
    side_min = image_ops.check_positive_int(
        _RESIZE_SIDE_MIN if resize_side_min is None else resize_side_min,
        'resize_side_min', NAME)
    side_max = image_ops.check_positive_int(
        _RESIZE_SIDE_MAX if resize_side_max is None else resize_side_max,
        'resize_side_max', NAME)
    if side_min > side_max:
      raise ValueError(f'{NAME} preprocessing: resize_side_min ({side_min}) must not exceed '
                       f'resize_side_max ({side_max})')
    return preprocess_for_train(image, output_height, output_width, side_min, side_max,
                                use_grayscale=use_grayscale,
                                seed=image_ops.check_seed(seed, NAME))
  image_ops.reject_in_mode(NAME, is_training, resize_side_max=resize_side_max, seed=seed)
  if resize_side is not None and resize_side_min is not None and resize_side != resize_side_min:
    raise ValueError(f'{NAME} preprocessing: resize_side ({resize_side}) and '
                     f'resize_side_min ({resize_side_min}) disagree; give one')
  side = next((s for s in (resize_side, resize_side_min) if s is not None), _RESIZE_SIDE_MIN)
  side = image_ops.check_positive_int(side, 'resize_side', NAME)
  return preprocess_for_eval(image, output_height, output_width, side,
                             use_grayscale=use_grayscale)
