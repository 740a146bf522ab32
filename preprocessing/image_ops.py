"""Image operations shared by the preprocessing modules.

Every preprocessing function takes one image [height, width, channels] of any dtype and
size, with 1 or 3 channels, and runs in graph mode inside a `tf.data` map. These helpers
hold the conventions they share: how dtypes map to value ranges, how channels are matched,
TF-Slim's resize arithmetic, per-op seeds, and argument checks.

Usage:
  image = image_ops.check_image(image, 'vgg')
  image = image_ops.to_rgb(image_ops.to_pixel_float(image))
"""

import numbers

import tensorflow as tf

tf1 = tf.compat.v1

# Weights of tf.image.rgb_to_grayscale (ITU-R BT.601 luma).
GRAYSCALE_WEIGHTS = (0.2989, 0.5870, 0.1140)


def check_output_size(output_height, output_width, name):
  """Returns the output size as Python ints; raises ValueError unless both are >= 1."""
  size = []
  for value in (output_height, output_width):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
      raise ValueError(f'{name} preprocessing: output_height and output_width must be '
                       f'positive integers, got {output_height!r} x {output_width!r}')
    size.append(int(value))
  return tuple(size)


def check_image(image, name):
  """Returns `image` as a tensor of rank 3 whose channel count is 1, 3 or unknown.

  Raises:
    ValueError: the static rank is not 3 or the static channel count is not 1 or 3.
  """
  image = tf.convert_to_tensor(image)
  if image.shape.rank is None:
    image = tf.ensure_shape(image, [None, None, None])
  if image.shape.rank != 3:
    raise ValueError(f'{name} preprocessing: expected one image [height, width, channels], '
                     f'got shape {image.shape}')
  if image.shape[-1] not in (None, 1, 3):
    raise ValueError(f'{name} preprocessing: expected 1 or 3 channels, got shape '
                     f'{image.shape}')
  return image


def check_positive_int(value, what, name):
  if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
    raise ValueError(f'{name} preprocessing: {what} must be a positive integer, got {value!r}')
  return int(value)


def check_seed(seed, name):
  if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
    raise ValueError(f'{name} preprocessing: seed must be an integer or None, got {seed!r}')
  return seed


def reject_in_mode(name, is_training, **arguments):
  """Raises ValueError for arguments given (not None) that the current mode has no use for.

  An argument that is silently dropped makes a user believe it took effect; naming it is
  cheaper than a run trained or evaluated in a way nobody asked for.
  """
  given = sorted(key for key, value in arguments.items() if value is not None)
  if given:
    mode, other = ('training', 'evaluation') if is_training else ('evaluation', 'training')
    raise ValueError(f'{name} preprocessing: {", ".join(given)} only applies in {other}, '
                     f'not in {mode} (is_training={is_training})')


def op_seed(seed, offset):
  """The seed of one random op: distinct per op so that, e.g., crop and flip don't correlate."""
  return None if seed is None else seed + offset


def sample_distorted_bounding_box(image_shape, bbox, seed, **constraints):
  """`tf.compat.v1.image.sample_distorted_bounding_box` without its deprecation warning.

  The v1 seeding is kept on purpose: with `seed=None` the graph-level seed
  (`tf.compat.v1.set_random_seed`) decides, as it does for every other random op here.
  """
  graph_seed, seed = tf1.get_seed(seed)
  return tf.raw_ops.SampleDistortedBoundingBoxV2(
      image_size=image_shape, bounding_boxes=bbox, seed=graph_seed or 0, seed2=seed or 0,
      use_image_if_no_bounding_boxes=True, **constraints)


def to_unit_float(image):
  """float32 in [0, 1]: integers are scaled by their dtype's maximum, floats kept."""
  return tf.image.convert_image_dtype(image, tf.float32)


def to_pixel_float(image):
  """float32 in [0, 255], the range TF-Slim's VGG, CifarNet and LeNet constants assume."""
  if image.dtype == tf.uint8:
    # A plain cast keeps uint8 values exact (255 * (x / 255) would round).
    return tf.cast(image, tf.float32)
  return to_unit_float(image) * 255.0


def to_rgb(image):
  """Tiles a 1-channel image to 3 channels; 3-channel images pass through."""
  channels = image.shape[-1]
  if channels == 3:
    return image
  if channels == 1:
    return tf.tile(image, [1, 1, 3])
  # Unknown until run time (decode_image): tile 1 channel 3 times, 3 channels once; any
  # other count gives a shape that ensure_shape rejects. Cheaper to build than a tf.cond.
  repeats = 3 // tf.shape(image)[-1]
  return tf.ensure_shape(tf.tile(image, tf.stack([1, 1, repeats])), [None, None, 3])


def to_grayscale(image):
  """A 1-channel image; 1-channel input is returned unchanged, not converted twice."""
  if image.shape[-1] == 1:
    return image
  return tf.image.rgb_to_grayscale(to_rgb(image))


def match_channels(image, use_grayscale):
  return to_grayscale(image) if use_grayscale else to_rgb(image)


def subtract_means(image, rgb_means):
  """Subtracts per-channel means; a grayscale image loses the means' luma."""
  if image.shape[-1] == 1:
    means = [sum(w * m for w, m in zip(GRAYSCALE_WEIGHTS, rgb_means))]
  else:
    means = list(rgb_means)
  return image - tf.constant(means, tf.float32)


# TF 1.x's tf.image.ResizeMethod order, which TF-Slim's random resize method indexes.
LEGACY_RESIZE_METHODS = ('bilinear', 'nearest', 'bicubic', 'area')

_LEGACY_RESIZE_OPS = {
    'bilinear': tf.raw_ops.ResizeBilinear,
    'nearest': tf.raw_ops.ResizeNearestNeighbor,
    'bicubic': tf.raw_ops.ResizeBicubic,
}


def resize_legacy(image, size, method='bilinear'):
  """Resizes one image with TF 1.x sampling (no half-pixel centres), as TF-Slim did.

  TF 2's `tf.image.resize` samples at half-pixel centres, which moves every output pixel
  by up to half a source pixel; the published TF-Slim checkpoints were trained and
  evaluated with the TF 1.x arithmetic (`align_corners=False`), so we keep it.

  Args:
    image: [height, width, channels].
    size: [new_height, new_width], ints or an int32 tensor.
    method: one of LEGACY_RESIZE_METHODS.

  Returns:
    float32 [new_height, new_width, channels].
  """
  images = tf.cast(image, tf.float32)[tf.newaxis]
  size = tf.cast(size, tf.int32)
  if method == 'area':
    resized = tf.raw_ops.ResizeArea(images=images, size=size, align_corners=False)
  else:
    resized = _LEGACY_RESIZE_OPS[method](images=images, size=size, align_corners=False,
                                         half_pixel_centers=False)
  return resized[0]


def aspect_preserving_resize(image, smallest_side, min_height=0, min_width=0):
  """Resizes so that the shorter side is `smallest_side`, keeping the aspect ratio.

  The scale grows further only when the result would be smaller than
  `min_height` x `min_width` (a crop of that size must fit); with TF-Slim's settings
  (a square crop no larger than `smallest_side`) this never happens. The new size is
  rint(side * scale) in float32, as TF-Slim computes it.

  Args:
    image: [height, width, channels] float32.
    smallest_side: int or scalar int32 tensor.
    min_height: the smallest height the result may have.
    min_width: the smallest width the result may have.

  Returns:
    The resized float32 image.
  """
  shape = tf.shape(image)
  height = tf.cast(shape[0], tf.float32)
  width = tf.cast(shape[1], tf.float32)
  smallest_side = tf.cast(smallest_side, tf.float32)
  scale = smallest_side / tf.minimum(height, width)
  scale = tf.maximum(scale, tf.maximum(min_height / height, min_width / width))
  new_height = tf.maximum(tf.cast(tf.math.rint(height * scale), tf.int32), min_height)
  new_width = tf.maximum(tf.cast(tf.math.rint(width * scale), tf.int32), min_width)
  resized = resize_legacy(image, tf.stack([new_height, new_width]))
  resized.set_shape([None, None, image.shape[-1]])
  return resized


def central_crop(image, crop_height, crop_width):
  """The crop_height x crop_width window whose offsets are floor((side - crop) / 2)."""
  shape = tf.shape(image)
  offset_height = (shape[0] - crop_height) // 2
  offset_width = (shape[1] - crop_width) // 2
  return tf.slice(image, tf.stack([offset_height, offset_width, 0]),
                  tf.stack([crop_height, crop_width, -1]))


def random_crop(image, crop_height, crop_width, seed):
  """A crop_height x crop_width window at a uniformly random position."""
  channels = image.shape[-1] if image.shape[-1] is not None else tf.shape(image)[-1]
  return tf.image.random_crop(image, tf.stack([crop_height, crop_width, channels]), seed=seed)


def summaries_enabled(add_image_summaries):
  """Whether image summaries asked for can be recorded here.

  Summaries built inside a traced function (a `tf.data` map) stay in that function's graph
  and never reach the `SUMMARIES` collection a training loop merges, so they are built
  only when the preprocessing is called in a graph directly.
  """
  return bool(add_image_summaries) and not tf.inside_function()


def image_summary(name, image):
  """Adds a TF 1.x image summary of one image [height, width, channels]."""
  tf1.summary.image(name, image[tf.newaxis])
