"""AlexNet preprocessing: the 2012 paper's crops, flips and PCA colour augmentation.

Krizhevsky, Sutskever, Hinton: "ImageNet Classification with Deep Convolutional Neural
Networks", NIPS 2012, Sections 2 and 4.1 (TF-Slim had no such preprocessing):
- every image: resize the shorter side to 256, take the central 256x256 patch, subtract
  the mean RGB value from pixel values in [0, 255] (the paper subtracts the mean image;
  its per-channel mean, the ImageNet RGB means below, is the usual stand-in).
- training: a random crop of the output size (224 or 227) from that patch, a random
  horizontal flip, and "lighting": add p @ (alpha * lambda) to every pixel, where p and
  lambda are the eigenvectors and eigenvalues of the covariance of ImageNet RGB pixel
  values and alpha ~ N(0, 0.1) is drawn once per image.
- evaluation: the central crop of the output size (the paper averages ten crops).
Resizing is bilinear with TF 1.x sampling, as in the VGG preprocessing.

Usage:
  image = alexnet_preprocessing.preprocess_image(image, 227, 227, is_training=True)
"""

import tensorflow as tf

from . import image_ops

NAME = 'alexnet'

RGB_MEANS = (123.68, 116.78, 103.94)
RESIZE_SIDE = 256
ALPHASTD = 0.1

# PCA of ImageNet RGB pixel values in [0, 1] (as published with fb.resnet.torch): the
# eigenvalues, and the eigenvectors as the columns of EIGENVECTORS. The values are in
# units of [0, 1] pixels; multiplied by 255 they apply to [0, 255] pixels.
EIGENVALUES = (0.2175, 0.0188, 0.0045)
EIGENVECTORS = ((-0.5675, 0.7192, 0.4009),
                (-0.5808, -0.0045, -0.8140),
                (-0.5836, -0.6948, 0.4203))

_SEED_CROP, _SEED_FLIP, _SEED_LIGHTING = 0, 1, 2


def lighting(image, alphastd=ALPHASTD, seed=None):
  """Adds the paper's PCA colour noise: one RGB offset per image along the principal axes.

  Args:
    image: [height, width, 3] float32 pixel values in [0, 255].
    alphastd: standard deviation of the per-component factors alpha.
    seed: seed of the alpha draw.

  Returns:
    The image plus an offset constant over pixels, not clipped (as in the paper).
  """
  alpha = tf.compat.v1.random_normal([3], stddev=alphastd, seed=seed)
  offset = tf.linalg.matvec(tf.constant(EIGENVECTORS, tf.float32),
                            alpha * tf.constant(EIGENVALUES, tf.float32) * 255.0)
  return image + offset


def _resize_and_crop_centre(image, resize_side, output_height, output_width):
  """Shorter side to `resize_side`, then the paper's central square (never smaller than
  the output)."""
  patch_height = max(resize_side, output_height)
  patch_width = max(resize_side, output_width)
  image = image_ops.aspect_preserving_resize(image, resize_side, patch_height, patch_width)
  return image_ops.central_crop(image, patch_height, patch_width)


def preprocess_for_train(image, output_height, output_width, resize_side=RESIZE_SIDE,
                         alphastd=ALPHASTD, use_grayscale=False, seed=None):
  """Random crop and flip of the central patch, PCA lighting, mean subtraction.

  Args:
    image: [height, width, 1 or 3] of any dtype; integers are scaled to [0, 255] (uint8
      is kept as is), floats are taken to be in [0, 1].
    output_height: crop height (the paper's 224, or 227 for `nets.alexnet`).
    output_width: crop width.
    resize_side: the shorter side, and the side of the central patch (256).
    alphastd: standard deviation of the lighting factors; 0 turns lighting off.
    use_grayscale: return one channel (lighting is applied in RGB first).
    seed: makes the crop, flip and lighting repeatable.

  Returns:
    float32 [output_height, output_width, 3 (1 if use_grayscale)].
  """
  image = image_ops.to_rgb(image_ops.to_pixel_float(image))
  image = _resize_and_crop_centre(image, resize_side, output_height, output_width)
  image = image_ops.random_crop(image, output_height, output_width,
                                seed=image_ops.op_seed(seed, _SEED_CROP))
  image.set_shape([output_height, output_width, 3])
  image = tf.image.random_flip_left_right(image, seed=image_ops.op_seed(seed, _SEED_FLIP))
  if alphastd:
    image = lighting(image, alphastd, seed=image_ops.op_seed(seed, _SEED_LIGHTING))
  if use_grayscale:
    image = image_ops.to_grayscale(image)
  return image_ops.subtract_means(image, RGB_MEANS)


def preprocess_for_eval(image, output_height, output_width, resize_side=RESIZE_SIDE,
                        use_grayscale=False):
  """Central crop of the central patch of the shorter-side-256 image, mean subtraction.

  Args:
    image: [height, width, 1 or 3] of any dtype (see `preprocess_for_train`).
    output_height: crop height.
    output_width: crop width.
    resize_side: the shorter side before cropping (256).
    use_grayscale: return one channel.

  Returns:
    float32 [output_height, output_width, 3 (1 if use_grayscale)].
  """
  image = image_ops.match_channels(image_ops.to_pixel_float(image), use_grayscale)
  # Through the central patch, as in training: with an odd margin (256 - 227) the crop
  # sits half a pixel differently from a direct central crop, which rounds to a pixel.
  image = _resize_and_crop_centre(image, resize_side, output_height, output_width)
  image = image_ops.central_crop(image, output_height, output_width)
  image.set_shape([output_height, output_width, 1 if use_grayscale else 3])
  return image_ops.subtract_means(image, RGB_MEANS)


def preprocess_image(image, output_height, output_width, is_training=False,
                     use_grayscale=False, resize_side=None, alphastd=None, seed=None):
  """Preprocesses one image for training or evaluation (TF-Slim's signature).

  Args:
    image: [height, width, 1 or 3] of any dtype; integers are scaled to [0, 255] (uint8
      is kept as is), floats are taken to be in [0, 1]. Any size: the resize upscales.
    output_height: output height.
    output_width: output width.
    is_training: augment for training, or crop centrally for evaluation.
    use_grayscale: return one channel.
    resize_side: the shorter side before cropping (256).
    alphastd: training only: standard deviation of the lighting factors (0.1); 0 turns
      lighting off.
    seed: training only: makes the augmentation repeatable.

  Returns:
    float32 [output_height, output_width, 3 (1 if use_grayscale)]: pixel values in
    [0, 255] minus the ImageNet RGB means (plus the lighting offset in training).

  Raises:
    ValueError: bad sizes, image shape or arguments, or an argument the mode has no use
      for.
  """
  output_height, output_width = image_ops.check_output_size(output_height, output_width,
                                                            NAME)
  image = image_ops.check_image(image, NAME)
  side = image_ops.check_positive_int(RESIZE_SIDE if resize_side is None else resize_side,
                                      'resize_side', NAME)
  if is_training:
    alphastd = ALPHASTD if alphastd is None else alphastd
    if isinstance(alphastd, bool) or not isinstance(alphastd, (int, float)) or alphastd < 0:
      raise ValueError(f'{NAME} preprocessing: alphastd must be a non-negative number, got '
                       f'{alphastd!r}')
    return preprocess_for_train(image, output_height, output_width, side, float(alphastd),
                                use_grayscale=use_grayscale,
                                seed=image_ops.check_seed(seed, NAME))
  image_ops.reject_in_mode(NAME, is_training, alphastd=alphastd, seed=seed)
  return preprocess_for_eval(image, output_height, output_width, side,
                             use_grayscale=use_grayscale)
