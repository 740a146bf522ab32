"""Inception preprocessing: random-box crops and colour distortion, outputs in [-1, 1].

The training recipe of Szegedy et al., "Going Deeper with Convolutions" (CVPR 2015) and
"Rethinking the Inception Architecture for Computer Vision" (CVPR 2016), as TF-Slim trained
its Inception, Inception-ResNet, MobileNet and NASNet checkpoints:
- training: a random crop covering 5-100% of the image area with aspect ratio 3/4-4/3 that
  keeps at least 10% of a given bounding box, resized to the output size (a random resize
  method unless `fast_mode`), a random horizontal flip, random brightness and saturation
  (also hue and contrast, in a random one of four orders, unless `fast_mode`), clipped.
- evaluation: the central 87.5% of each side, then a bilinear resize to the output size
  (TF 1.x sampling, which the published accuracies were measured with).
Both scale the [0, 1] pixels to [-1, 1].

Usage:
  image = inception_preprocessing.preprocess_image(image, 299, 299, is_training=True)
"""

import tensorflow as tf

from . import image_ops

tf1 = tf.compat.v1

NAME = 'inception'
CENTRAL_FRACTION = 0.875

# The random crop's constraints, as TF-Slim samples them.
MIN_OBJECT_COVERED = 0.1
ASPECT_RATIO_RANGE = (0.75, 1.33)
AREA_RANGE = (0.05, 1.0)
MAX_ATTEMPTS = 100

BRIGHTNESS_MAX_DELTA = 32. / 255.
SATURATION_RANGE = (0.5, 1.5)
HUE_MAX_DELTA = 0.2
CONTRAST_RANGE = (0.5, 1.5)

NUM_COLOR_ORDERINGS = 4

# Offsets added to `seed` so that each random op draws its own sequence.
_SEED_CROP, _SEED_RESIZE, _SEED_FLIP, _SEED_ORDERING, _SEED_COLOR = 0, 1, 2, 3, 4


def apply_with_random_selector(x, func, num_cases, seed=None):
  """Returns func(x, case) for a case drawn uniformly from range(num_cases) at run time.

  Only the drawn branch runs, so the slower cases cost nothing when not chosen.
  """
  if num_cases == 1:
    return func(x, 0)
  selector = tf1.random_uniform([], maxval=num_cases, dtype=tf.int32, seed=seed)
  return tf.switch_case(selector, [lambda case=case: func(x, case) for case in range(num_cases)])


def distort_color(image, color_ordering=0, fast_mode=True, seed=None, scope=None):
  """Random brightness and saturation (and hue and contrast unless `fast_mode`).

  The ops don't commute, so each ordering is a different distribution; TF-Slim draws one
  of four fixed orderings per image rather than a full permutation.

  Args:
    image: [height, width, 3] float32 in [0, 1].
    color_ordering: 0-3, which order to apply the ops in.
    fast_mode: brightness and saturation only (the cheap ops).
    seed: seed of the first op; the others use the following integers.
    scope: optional name scope.

  Returns:
    The distorted image, clipped to [0, 1].

  Raises:
    ValueError: color_ordering is not in 0-3.
  """
  if color_ordering not in range(NUM_COLOR_ORDERINGS):
    raise ValueError(f'distort_color: color_ordering must be 0-3, got {color_ordering!r}')

  def brightness(x):
    return tf.image.random_brightness(x, BRIGHTNESS_MAX_DELTA,
                                      seed=image_ops.op_seed(seed, 0))

  def saturation(x):
    return tf.image.random_saturation(x, *SATURATION_RANGE, seed=image_ops.op_seed(seed, 1))

  def hue(x):
    return tf.image.random_hue(x, HUE_MAX_DELTA, seed=image_ops.op_seed(seed, 2))

  def contrast(x):
    return tf.image.random_contrast(x, *CONTRAST_RANGE, seed=image_ops.op_seed(seed, 3))

  if fast_mode:
    orderings = [(brightness, saturation), (saturation, brightness)]
    ops = orderings[0 if color_ordering == 0 else 1]
  else:
    orderings = [(brightness, saturation, hue, contrast),
                 (saturation, brightness, contrast, hue),
                 (contrast, hue, brightness, saturation),
                 (hue, saturation, contrast, brightness)]
    ops = orderings[color_ordering]
  with tf.name_scope(scope or 'distort_color'):
    for op in ops:
      image = op(image)
    # Brightness and contrast leave [0, 1]; the network saw clipped pixels.
    return tf.clip_by_value(image, 0.0, 1.0)


def _check_bbox(bbox):
  """Boxes as [1, num_boxes, 4] float32 ([ymin, xmin, ymax, xmax] in [0, 1])."""
  bbox = tf.convert_to_tensor(bbox, tf.float32)
  if bbox.shape.rank == 2:
    bbox = bbox[tf.newaxis]
  if bbox.shape.rank != 3 or bbox.shape[0] not in (None, 1) or bbox.shape[-1] not in (None, 4):
    raise ValueError(f'{NAME} preprocessing: bbox must be [num_boxes, 4] or '
                     f'[1, num_boxes, 4] (ymin, xmin, ymax, xmax), got shape {bbox.shape}')
  return bbox


def distorted_bounding_box_crop(image, bbox, seed=None):
  """A random crop that keeps part of one of the boxes (the whole image if none).

  Returns:
    (cropped image, the crop's box [1, 1, 4] for drawing it).
  """
  begin, size, crop_box = image_ops.sample_distorted_bounding_box(
      tf.shape(image), bbox, seed, min_object_covered=MIN_OBJECT_COVERED,
      aspect_ratio_range=ASPECT_RATIO_RANGE, area_range=AREA_RANGE,
      max_attempts=MAX_ATTEMPTS)
  cropped = tf.slice(image, begin, size)
  cropped.set_shape([None, None, image.shape[-1]])
  return cropped, crop_box


def preprocess_for_train(image, height, width, bbox=None, fast_mode=True, scope=None,
                         add_image_summaries=True, random_crop=True, use_grayscale=False,
                         seed=None):
  """Distorts one image for training.

  Args:
    image: [height, width, 1 or 3] of any dtype; integers are scaled by their maximum,
      floats are taken to be in [0, 1].
    height: output height.
    width: output width.
    bbox: boxes [1, num_boxes, 4] or [num_boxes, 4] as [ymin, xmin, ymax, xmax] in [0, 1]
      that the crop must partly keep; None means the whole image.
    fast_mode: bilinear resizing and brightness/saturation only; False draws one of four
      resize methods and one of four orderings of brightness, saturation, hue, contrast.
    scope: optional name scope.
    add_image_summaries: add image summaries of the crop and the result (only outside a
      traced function; see `image_ops.summaries_enabled`).
    random_crop: crop a random box; False resizes the whole image.
    use_grayscale: return one channel.
    seed: makes the distortions repeatable; None leaves them to the graph-level seed.

  Returns:
    float32 [height, width, 3 (1 if use_grayscale)] in [-1, 1].
  """
  with tf.name_scope(scope or 'distort_image'):
    summaries = image_ops.summaries_enabled(add_image_summaries)
    image = image_ops.to_rgb(image_ops.to_unit_float(image))
    if random_crop:
      if bbox is None:
        bbox = tf.constant([0.0, 0.0, 1.0, 1.0], tf.float32, shape=[1, 1, 4])
      bbox = _check_bbox(bbox)
      full_image = image
      image, crop_box = distorted_bounding_box_crop(
          image, bbox, seed=image_ops.op_seed(seed, _SEED_CROP))
      if summaries:
        for name, boxes in (('image_with_bounding_boxes', bbox),
                            ('images_with_distorted_bounding_box', crop_box)):
          image_ops.image_summary(
              name, tf1.image.draw_bounding_boxes(full_image[tf.newaxis], boxes)[0])

    # Resizing a random box to a fixed size distorts the aspect ratio; that is intended.
    image = apply_with_random_selector(
        image,
        lambda x, method: image_ops.resize_legacy(
            x, [height, width], image_ops.LEGACY_RESIZE_METHODS[method]),
        num_cases=1 if fast_mode else len(image_ops.LEGACY_RESIZE_METHODS),
        seed=image_ops.op_seed(seed, _SEED_RESIZE))
    image.set_shape([height, width, 3])
    if summaries:
      image_ops.image_summary(('cropped_' if random_crop else '') + 'resized_image', image)

    image = tf.image.random_flip_left_right(image, seed=image_ops.op_seed(seed, _SEED_FLIP))
    image = apply_with_random_selector(
        image,
        lambda x, ordering: distort_color(
            x, ordering, fast_mode, seed=image_ops.op_seed(seed, _SEED_COLOR)),
        num_cases=1 if fast_mode else NUM_COLOR_ORDERINGS,
        seed=image_ops.op_seed(seed, _SEED_ORDERING))
    if summaries:
      image_ops.image_summary('final_distorted_image', image)

    if use_grayscale:
      image = image_ops.to_grayscale(image)
    return (image - 0.5) * 2.0


def preprocess_for_eval(image, height, width, central_fraction=CENTRAL_FRACTION, scope=None,
                        central_crop=True, use_grayscale=False, add_image_summaries=True):
  """Central crop and bilinear resize of one image for evaluation.

  Args:
    image: [height, width, 1 or 3] of any dtype (see `preprocess_for_train`).
    height: output height.
    width: output width.
    central_fraction: fraction of each side kept by the central crop.
    scope: optional name scope.
    central_crop: False resizes the whole image.
    use_grayscale: return one channel.
    add_image_summaries: add an image summary of the result (outside traced functions).

  Returns:
    float32 [height, width, 3 (1 if use_grayscale)] in [-1, 1].
  """
  with tf.name_scope(scope or 'eval_image'):
    image = image_ops.to_unit_float(image)
    if not use_grayscale:
      image = image_ops.to_rgb(image)
    if central_crop and central_fraction:
      image = tf.image.central_crop(image, central_fraction=central_fraction)
    image = image_ops.resize_legacy(image, [height, width])
    if use_grayscale:
      image = image_ops.to_grayscale(image)
    image.set_shape([height, width, 1 if use_grayscale else 3])
    if image_ops.summaries_enabled(add_image_summaries):
      image_ops.image_summary('eval_image', image)
    return (image - 0.5) * 2.0


def preprocess_image(image, height, width, is_training=False, bbox=None, fast_mode=None,
                     add_image_summaries=True, crop_image=True, use_grayscale=False,
                     central_fraction=None, seed=None):
  """Preprocesses one image for training or evaluation (TF-Slim's signature).

  Args:
    image: [height, width, 1 or 3] of any dtype; integers are scaled by their maximum,
      floats are taken to be in [0, 1]. Any size: the crops are resized to the output.
    height: output height.
    width: output width.
    is_training: distort for training, or crop centrally for evaluation.
    bbox: training only: boxes the random crop must partly keep (see
      `preprocess_for_train`).
    fast_mode: training only: True (default) or False (see `preprocess_for_train`).
    add_image_summaries: add image summaries (outside traced functions).
    crop_image: crop randomly (training) or centrally (evaluation); False resizes the
      whole image.
    use_grayscale: return one channel.
    central_fraction: evaluation only: fraction of each side kept, 0.875 by default.
    seed: training only: makes the distortions repeatable.

  Returns:
    float32 [height, width, 3 (1 if use_grayscale)] in [-1, 1].

  Raises:
    ValueError: bad sizes, image shape or arguments, or an argument the mode has no use
      for (a bbox in evaluation, a central_fraction in training).
  """
  height, width = image_ops.check_output_size(height, width, NAME)
  image = image_ops.check_image(image, NAME)
  if is_training:
    image_ops.reject_in_mode(NAME, is_training, central_fraction=central_fraction)
    if bbox is not None and not crop_image:
      raise ValueError(f'{NAME} preprocessing: bbox guides the random crop; it has no '
                       f'effect with crop_image=False')
    return preprocess_for_train(
        image, height, width, bbox=bbox,
        fast_mode=True if fast_mode is None else bool(fast_mode),
        add_image_summaries=add_image_summaries, random_crop=crop_image,
        use_grayscale=use_grayscale, seed=image_ops.check_seed(seed, NAME))
  image_ops.reject_in_mode(NAME, is_training, bbox=bbox, fast_mode=fast_mode, seed=seed)
  if central_fraction is None:
    central_fraction = CENTRAL_FRACTION
  elif not crop_image:
    raise ValueError(f'{NAME} preprocessing: central_fraction has no effect with '
                     f'crop_image=False')
  if not 0.0 < central_fraction <= 1.0:
    raise ValueError(f'{NAME} preprocessing: central_fraction must be in (0, 1], got '
                     f'{central_fraction!r}')
  return preprocess_for_eval(image, height, width, central_fraction=central_fraction,
                             central_crop=crop_image, use_grayscale=use_grayscale,
                             add_image_summaries=add_image_summaries)
