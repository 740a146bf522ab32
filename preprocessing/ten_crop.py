"""Ten test-time crops of one image: the 2012 AlexNet paper's evaluation, for every recipe.

Krizhevsky, Sutskever, Hinton, NIPS 2012, Section 4.1: at test time the network sees five
crops of the output size (the centre and the four corners) and the horizontal mirror of
each, and its softmax outputs are averaged over the ten.

Each preprocessing's evaluation takes one central window of a canvas; the ten crops take
the window of the same size at the centre and in the four corners of the same canvas, so
the first crop is exactly what the preprocessing gives for evaluation:
- alexnet: the paper's own setting. The canvas is the central 256x256 patch of the image
  resized to a shorter side of 256; windows of the output size (224 or 227).
- vgg: the canvas is the whole image resized to a shorter side of 256 (aspect kept), so
  the corners of a non-square image lie further out than the paper's.
- inception: it crops first and resizes after, so the windows are 87.5% of each side of
  the original image (tf.image.central_crop's arithmetic) and each is resized to the
  output size: the same regions as output-size windows of the image resized to
  output / 0.875, without a second resampling of the centre crop.
- cifarnet, lenet: no resize; the canvas is the image, zero-padded (centred) to at least
  the output size. Where the image is already the output size (CIFAR-10 at 32, MNIST at
  28) the five windows coincide: the ten crops are the image and its mirror, five times
  each, and their average is the average of those two.
The pixel steps after the crop (mean subtraction, scaling, per-image standardization)
are the recipe's own and commute with the mirror.

Usage:
  crops = ten_crop.ten_crops(image, 'vgg', 224, 224)  # [10, 224, 224, 3]
"""

import tensorflow as tf

from . import alexnet_preprocessing
from . import image_ops
from . import inception_preprocessing
from . import preprocessing_factory
from . import vgg_preprocessing

NUM_CROPS = 10
# vgg_preprocessing's shorter side in evaluation.
VGG_RESIZE_SIDE = 256


def five_windows(image, crop_height, crop_width):
  """The centre and top-left, top-right, bottom-left, bottom-right windows: [5, h, w, C].

  The centre window's offsets are floor((side - crop) / 2), as `image_ops.central_crop`.
  """
  shape = tf.shape(image)
  bottom = shape[0] - crop_height
  right = shape[1] - crop_width
  offsets = ((bottom // 2, right // 2), (0, 0), (0, right), (bottom, 0), (bottom, right))
  size = tf.stack([crop_height, crop_width, -1])
  return tf.stack([tf.slice(image, tf.stack([top, left, 0]), size)
                   for top, left in offsets])


def _pad_to_at_least(image, height, width):
  """Zero-pads, centred as tf.image.resize_with_crop_or_pad pads, to at least h x w."""
  shape = tf.shape(image)
  padded_height = tf.maximum(shape[0], height)
  padded_width = tf.maximum(shape[1], width)
  return tf.image.pad_to_bounding_box(image, (padded_height - shape[0]) // 2,
                                      (padded_width - shape[1]) // 2, padded_height,
                                      padded_width)


def _alexnet(image, height, width, use_grayscale):
  image = image_ops.match_channels(image_ops.to_pixel_float(image), use_grayscale)
  side = alexnet_preprocessing.RESIZE_SIDE
  patch_height, patch_width = max(side, height), max(side, width)
  image = image_ops.aspect_preserving_resize(image, side, patch_height, patch_width)
  image = image_ops.central_crop(image, patch_height, patch_width)
  return image_ops.subtract_means(five_windows(image, height, width),
                                  alexnet_preprocessing.RGB_MEANS)


def _vgg(image, height, width, use_grayscale):
  image = image_ops.match_channels(image_ops.to_pixel_float(image), use_grayscale)
  image = image_ops.aspect_preserving_resize(image, VGG_RESIZE_SIDE, height, width)
  return image_ops.subtract_means(five_windows(image, height, width),
                                  vgg_preprocessing.RGB_MEANS)


def _inception(image, height, width, use_grayscale):
  image = image_ops.to_unit_float(image)
  if not use_grayscale:
    image = image_ops.to_rgb(image)
  shape = tf.cast(tf.shape(image)[:2], tf.float64)
  # tf.image.central_crop's box: the margin truncated, the size what is left.
  margin = tf.cast((shape - shape * inception_preprocessing.CENTRAL_FRACTION) / 2, tf.int32)
  box = tf.shape(image)[:2] - 2 * margin
  crops = []
  for window in tf.unstack(five_windows(image, box[0], box[1]), num=5):
    crop = image_ops.resize_legacy(window, [height, width])
    crops.append(image_ops.to_grayscale(crop) if use_grayscale else crop)
  return (tf.stack(crops) - 0.5) * 2.0


def _cifarnet(image, height, width, use_grayscale):
  image = image_ops.match_channels(image_ops.to_pixel_float(image), use_grayscale)
  crops = five_windows(_pad_to_at_least(image, height, width), height, width)
  return tf.image.per_image_standardization(crops)


def _lenet(image, height, width, use_grayscale):
  image = image_ops.to_pixel_float(image)
  if use_grayscale:
    image = image_ops.to_grayscale(image)
  crops = five_windows(_pad_to_at_least(image, height, width), height, width)
  return (crops - 128.0) / 128.0


_FIVE_CROPS = {
    'alexnet': _alexnet,
    'cifarnet': _cifarnet,
    'inception': _inception,
    'lenet': _lenet,
    'vgg': _vgg,
}


def ten_crops(image, name, height, width, use_grayscale=False):
  """The ten evaluation crops of one image, as preprocessing `name` prepares them.

  Args:
    image: [height, width, 1 or 3] of any dtype, as the preprocessing takes it.
    name: a preprocessing or registered model name (see `preprocessing_factory.resolve`).
    height: crop height (the evaluation image size).
    width: crop width.
    use_grayscale: one channel, as the preprocessing's flag.

  Returns:
    float32 [10, height, width, channels]: the centre crop (what the preprocessing gives
    for evaluation), the top-left, top-right, bottom-left and bottom-right crops, then the
    horizontal mirrors of those five in the same order.

  Raises:
    ValueError: a preprocessing without crop geometry here, bad sizes or image shape.
  """
  preprocessing_name = preprocessing_factory.resolve(name)
  if preprocessing_name not in _FIVE_CROPS:
    raise ValueError(f'ten crops: preprocessing {preprocessing_name!r} has no crop geometry '
                     f'here (known: {", ".join(sorted(_FIVE_CROPS))})')
  height, width = image_ops.check_output_size(height, width, preprocessing_name)
  image = image_ops.check_image(image, preprocessing_name)
  five = _FIVE_CROPS[preprocessing_name](image, height, width, use_grayscale)
  crops = tf.concat([five, tf.reverse(five, axis=[2])], axis=0)
  if use_grayscale:
    channels = 1
  else:
    channels = image.shape[-1] if preprocessing_name == 'lenet' else 3
  crops.set_shape([NUM_CROPS, height, width, channels])
  return crops
