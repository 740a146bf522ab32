"""VGG preprocessing against TF-Slim's definition, and its scale jittering."""

import numpy as np
import pytest
import tensorflow as tf

from preprocessing import vgg_preprocessing
from tests.preprocessing import helpers
from tests.preprocessing import numpy_reference

MEANS = numpy_reference.RGB_MEANS


def _preprocess(image, height, width, is_training=False, runs=1, **kwargs):
  return helpers.run(lambda: vgg_preprocessing.preprocess_image(
      tf.constant(image), height, width, is_training=is_training, **kwargs), runs=runs)


def test_eval_is_shorter_side_256_central_crop_minus_rgb_means():
  image = helpers.random_image(300, 400)
  expected = numpy_reference.vgg_eval(image, 224, 224)  # 256 x 341, crop at (16, 58)
  output = _preprocess(image, 224, 224)
  np.testing.assert_allclose(output, expected, atol=1e-3)
  # Pixel values stay in [0, 255]: no scaling before the means.
  assert output.min() >= -MEANS.max() and output.max() > 100


def test_eval_portrait_and_resize_side():
  image = helpers.random_image(90, 50)
  np.testing.assert_allclose(_preprocess(image, 40, 40, resize_side=64),
                             numpy_reference.vgg_eval(image, 40, 40, 64), atol=1e-3)
  # TF-Slim evaluates at resize_side_min; it means the same here.
  np.testing.assert_allclose(_preprocess(image, 40, 40, resize_side_min=64),
                             numpy_reference.vgg_eval(image, 40, 40, 64), atol=1e-3)
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='disagree'):
      vgg_preprocessing.preprocess_image(tf.constant(image), 40, 40, resize_side=64,
                                         resize_side_min=70)


def test_crop_larger_than_the_resize_side_still_fits():
  image = helpers.random_image(60, 120)
  output = _preprocess(image, 300, 320)
  assert output.shape == (300, 320, 3)
  # The shorter side grew to 300, just enough for the crop's height.
  np.testing.assert_allclose(output, numpy_reference.vgg_eval(image, 300, 320, 300),
                             atol=1e-3)


def _windows(image, height, width):
  """Every height x width window of `image` and of its mirror image."""
  for flipped in (image, image[:, ::-1]):
    for top in range(flipped.shape[0] - height + 1):
      for left in range(flipped.shape[1] - width + 1):
        yield flipped[top:top + height, left:left + width]


def test_training_crops_a_window_of_the_jittered_image():
  """With resize_side_min == resize_side_max == S, each output is a window (maybe flipped)
  of the image resized to shorter side S."""
  image = helpers.random_image(30, 45)
  for side in (32, 48):
    size = numpy_reference.shorter_side_size(30, 45, side)
    resized = numpy_reference.resize_bilinear_legacy(image, *size)
    outputs = _preprocess(image, 24, 24, is_training=True, runs=3, resize_side_min=side,
                          resize_side_max=side, seed=side)
    for output in outputs:
      assert any(np.abs(output + MEANS - window).max() < 2e-3
                 for window in _windows(resized, 24, 24))


def test_training_scale_is_drawn_between_min_and_max():
  """A white square of side 10 in a 40x40 image: after resizing to S its side is S / 4."""
  image = np.zeros([40, 40, 3], np.uint8)
  image[15:25, 15:25] = 255

  def build():
    # Full-size crops show the whole jittered image's scale through the square's width.
    output = vgg_preprocessing.preprocess_image(
        tf.constant(image), 40, 40, is_training=True, resize_side_min=40,
        resize_side_max=80, seed=1)
    return tf.reduce_sum(tf.cast(output[..., 0] + MEANS[0] > 128, tf.int32))

  areas = np.array(helpers.run(build, runs=30))
  sides = np.sqrt(areas)  # the square's side after resizing, S / 4 (clipped by the crop)
  assert sides.min() >= 40 / 4 - 1 and sides.max() <= 80 / 4 + 1
  assert np.ptp(sides) >= 5


def test_argument_checks():
  with tf.Graph().as_default():
    image = tf.zeros([10, 10, 3], tf.uint8)
    with pytest.raises(ValueError, match='must not exceed'):
      vgg_preprocessing.preprocess_image(image, 8, 8, is_training=True, resize_side_min=300,
                                         resize_side_max=256)
    with pytest.raises(ValueError, match='positive integer'):
      vgg_preprocessing.preprocess_image(image, 8, 8, resize_side=0)
