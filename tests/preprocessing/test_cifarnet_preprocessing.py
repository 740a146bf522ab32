"""CifarNet preprocessing against TF-Slim's definition, and its augmentation."""

import numpy as np
import pytest
import tensorflow as tf

from preprocessing import cifarnet_preprocessing
from tests.preprocessing import helpers
from tests.preprocessing import numpy_reference


def _preprocess(image, height, width, is_training=False, runs=1, **kwargs):
  return helpers.run(lambda: cifarnet_preprocessing.preprocess_image(
      tf.constant(image), height, width, is_training=is_training, **kwargs), runs=runs)


@pytest.mark.parametrize('shape', [(36, 30), (32, 32), (20, 40)])
def test_eval_is_crop_or_pad_then_per_image_standardization(shape):
  image = helpers.random_image(*shape)
  np.testing.assert_allclose(_preprocess(image, 32, 32),
                             numpy_reference.cifarnet_eval(image, 32, 32), atol=1e-4)


def test_eval_non_square_output_is_height_by_width():
  image = helpers.random_image(40, 40)
  np.testing.assert_allclose(_preprocess(image, 24, 32),
                             numpy_reference.cifarnet_eval(image, 24, 32), atol=1e-4)


def _translations(image, padding):
  """Every output-sized window of the zero-padded image and of its mirror image."""
  height, width = image.shape[:2]
  padded = np.pad(image.astype(np.float64), [(padding, padding), (padding, padding), (0, 0)])
  for flipped in (padded, padded[:, ::-1]):
    for top in range(2 * padding + 1):
      for left in range(2 * padding + 1):
        yield flipped[top:top + height, left:left + width]


def test_training_translates_by_at_most_the_padding():
  """Gray images: brightness and contrast shift and scale all pixels alike, which the
  standardization undoes, so each output is a standardized translated window."""
  image = np.repeat(helpers.random_image(16, 16, 1), 3, axis=2)
  for padding in (0, 2):
    candidates = [numpy_reference.standardize(window)
                  for window in _translations(image, padding)]
    outputs = _preprocess(image, 16, 16, is_training=True, runs=6, padding=padding, seed=3)
    for output in outputs:
      assert any(np.abs(output - candidate).max() < 1e-3 for candidate in candidates)
    if padding:
      assert len({output.tobytes() for output in outputs}) > 2


def test_training_brightness_and_contrast_change_colour_images():
  """On colour images the contrast acts per channel, which standardization keeps."""
  image = helpers.random_image(16, 16)
  outputs = _preprocess(image, 16, 16, is_training=True, runs=8, padding=0, seed=5)
  plain = [numpy_reference.standardize(window) for window in _translations(image, 0)]
  assert any(min(np.abs(output - p).max() for p in plain) > 1e-2 for output in outputs)


def test_small_images_are_framed_as_in_evaluation():
  """A 10x12 image for a 32x32 output: centred in a black frame, as evaluation pads it;
  without padding that frame is the only window (maybe mirrored)."""
  image = np.repeat(helpers.random_image(10, 12, 1), 3, axis=2)
  framed = numpy_reference.cifarnet_eval(image, 32, 32)
  for output in _preprocess(image, 32, 32, is_training=True, runs=4, padding=0, seed=1):
    assert min(np.abs(output - framed).max(), np.abs(output - framed[:, ::-1]).max()) < 1e-3


def test_padding_must_be_non_negative():
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='padding must be a non-negative integer'):
      cifarnet_preprocessing.preprocess_image(tf.zeros([8, 8, 3]), 8, 8, is_training=True,
                                              padding=-1)
