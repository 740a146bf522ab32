"""CifarNet preprocessing: pad-and-crop, flip, brightness/contrast, standardization.

The CIFAR-10 recipe of TensorFlow's convolutional-network tutorial (after cuda-convnet,
Krizhevsky 2012), as TF-Slim trains `cifarnet`:
- training: zero-pad 4 pixels on each side, take a random crop of the output size (a
  random translation of up to 4 pixels), flip at random, add a random brightness in
  [-63, 63] and scale the contrast by a random factor in [0.2, 1.8].
- evaluation: centre crop or zero-pad to the output size.
Both work on pixel values in [0, 255] and end with per-image standardization (zero mean,
unit variance per image). Images are cropped and padded, never resized, as in TF-Slim: a
28x28 image evaluated at 32x32 sits in a 2-pixel black border.

Usage:
  image = cifarnet_preprocessing.preprocess_image(image, 32, 32, is_training=True)
"""

import tensorflow as tf

from . import image_ops

NAME = 'cifarnet'

_PADDING = 4
BRIGHTNESS_MAX_DELTA = 63
CONTRAST_RANGE = (0.2, 1.8)

_SEED_CROP, _SEED_FLIP, _SEED_BRIGHTNESS, _SEED_CONTRAST = 0, 1, 2, 3


def _pad_to_at_least(image, height, width, padding):
  """Zero-pads `padding` on each side, and centres images smaller than the output.

  The centring matches what evaluation's crop-or-pad does to small images, so training
  translates the same framing the evaluation sees.
  """
  shape = tf.shape(image)
  missing_height = tf.maximum(height - shape[0], 0)
  missing_width = tf.maximum(width - shape[1], 0)
  top = missing_height // 2 + padding
  left = missing_width // 2 + padding
  bottom = missing_height - missing_height // 2 + padding
  right = missing_width - missing_width // 2 + padding
  return tf.pad(image, tf.stack([[top, bottom], [left, right], [0, 0]]))


def preprocess_for_train(image, output_height, output_width, padding=_PADDING,
                         add_image_summaries=True, use_grayscale=False, seed=None):
  """Random translation, flip, brightness and contrast, then standardization.

  Args:
    image: [height, width, 1 or 3] of any dtype; integers are scaled to [0, 255] (uint8
      is kept as is), floats are taken to be in [0, 1].
    output_height: output height.
    output_width: output width.
    padding: zero pixels added on each side before the random crop.
    add_image_summaries: add image summaries of the input and the crop (outside traced
      functions; see `image_ops.summaries_enabled`).
    use_grayscale: return one channel.
    seed: makes the augmentation repeatable.

  Returns:
    float32 [output_height, output_width, 3 (1 if use_grayscale)], standardized.
  """
  summaries = image_ops.summaries_enabled(add_image_summaries)
  if summaries:
    image_ops.image_summary('image', image_ops.to_unit_float(image))
  image = image_ops.match_channels(image_ops.to_pixel_float(image), use_grayscale)
  channels = 1 if use_grayscale else 3
  image = _pad_to_at_least(image, output_height, output_width, padding)
  image = image_ops.random_crop(image, output_height, output_width,
                                seed=image_ops.op_seed(seed, _SEED_CROP))
  image.set_shape([output_height, output_width, channels])
  image = tf.image.random_flip_left_right(image, seed=image_ops.op_seed(seed, _SEED_FLIP))
  if summaries:
    image_ops.image_summary('distorted_image', image)
  # Fixed order, as TF-Slim: brightness, then contrast.
  image = tf.image.random_brightness(image, BRIGHTNESS_MAX_DELTA,
                                     seed=image_ops.op_seed(seed, _SEED_BRIGHTNESS))
  image = tf.image.random_contrast(image, *CONTRAST_RANGE,
                                   seed=image_ops.op_seed(seed, _SEED_CONTRAST))
  return tf.image.per_image_standardization(image)


def preprocess_for_eval(image, output_height, output_width, add_image_summaries=True,
                        use_grayscale=False):
  """Centre crop or zero-pad to the output size, then standardization.

  Args:
    image: [height, width, 1 or 3] of any dtype (see `preprocess_for_train`).
    output_height: output height.
    output_width: output width.
    add_image_summaries: add image summaries of the input and the crop (outside traced
      functions).
    use_grayscale: return one channel.

  Returns:
    float32 [output_height, output_width, 3 (1 if use_grayscale)], standardized.
  """
  summaries = image_ops.summaries_enabled(add_image_summaries)
  if summaries:
    image_ops.image_summary('image', image_ops.to_unit_float(image))
  image = image_ops.match_channels(image_ops.to_pixel_float(image), use_grayscale)
  # TF-Slim passes (width, height) here, which only matters for non-square outputs;
  # we keep the height-first order that the output shape promises.
  image = tf.image.resize_with_crop_or_pad(image, output_height, output_width)
  if summaries:
    image_ops.image_summary('resized_image', image)
  return tf.image.per_image_standardization(image)


def preprocess_image(image, output_height, output_width, is_training=False,
                     add_image_summaries=True, use_grayscale=False, padding=None, seed=None):
  """Preprocesses one image for training or evaluation (TF-Slim's signature).

  Args:
    image: [height, width, 1 or 3] of any dtype; integers are scaled to [0, 255] (uint8
      is kept as is), floats are taken to be in [0, 1]. Any size: larger images are
      cropped, smaller ones padded.
    output_height: output height.
    output_width: output width.
    is_training: augment for training, or crop centrally for evaluation.
    add_image_summaries: add image summaries (outside traced functions).
    use_grayscale: return one channel.
    padding: training only: zero pixels on each side before the random crop (4).
    seed: training only: makes the augmentation repeatable.

  Returns:
    float32 [output_height, output_width, 3 (1 if use_grayscale)] with zero mean and
    unit variance.

  Raises:
    ValueError: bad sizes, image shape or padding, or an argument the mode has no use for.
  """
  output_height, output_width = image_ops.check_output_size(output_height, output_width,
                                                            NAME)
  image = image_ops.check_image(image, NAME)
  if is_training:
    if padding is None:
      padding = _PADDING
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
      raise ValueError(f'{NAME} preprocessing: padding must be a non-negative integer, got '
                       f'{padding!r}')
    return preprocess_for_train(image, output_height, output_width, padding=padding,
                                add_image_summaries=add_image_summaries,
                                use_grayscale=use_grayscale,
                                seed=image_ops.check_seed(seed, NAME))
  image_ops.reject_in_mode(NAME, is_training, padding=padding, seed=seed)
  return preprocess_for_eval(image, output_height, output_width,
                             add_image_summaries=add_image_summaries,
                             use_grayscale=use_grayscale)
