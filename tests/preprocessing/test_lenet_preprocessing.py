"""LeNet preprocessing against TF-Slim's definition."""

import numpy as np
import pytest
import tensorflow as tf

from preprocessing import lenet_preprocessing
from tests.preprocessing import helpers
from tests.preprocessing import numpy_reference


@pytest.mark.parametrize('shape', [(28, 28, 1), (20, 34, 1), (40, 30, 3)])
def test_crop_or_pad_then_centre_on_128(shape):
  image = helpers.random_image(*shape)
  output = helpers.run(lambda: lenet_preprocessing.preprocess_image(
      tf.constant(image), 28, 28, is_training=True))
  np.testing.assert_allclose(output, numpy_reference.lenet(image, 28, 28), atol=1e-6)
  assert output.shape == (28, 28, shape[-1])


def test_grayscale_of_colour_and_float_input():
  image = helpers.random_image(28, 28, 3)
  gray, from_float = helpers.run(lambda: (
      lenet_preprocessing.preprocess_image(tf.constant(image), 28, 28, use_grayscale=True),
      lenet_preprocessing.preprocess_image(tf.constant(image / 255.0), 28, 28)))
  luma = image @ numpy_reference.GRAYSCALE_WEIGHTS
  np.testing.assert_allclose(gray[..., 0], (luma - 128) / 128, atol=1e-4)
  np.testing.assert_allclose(from_float, numpy_reference.lenet(image, 28, 28), atol=1e-5)
