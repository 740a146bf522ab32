"""AlexNet (2012) preprocessing: central patch, crops, flips and PCA lighting."""

import numpy as np
import pytest
import tensorflow as tf

from preprocessing import alexnet_preprocessing
from tests.preprocessing import helpers
from tests.preprocessing import numpy_reference

MEANS = numpy_reference.RGB_MEANS
EIGENVALUES = np.array([0.2175, 0.0188, 0.0045])
EIGENVECTORS = np.array([[-0.5675, 0.7192, 0.4009],
                         [-0.5808, -0.0045, -0.8140],
                         [-0.5836, -0.6948, 0.4203]])


def _preprocess(image, height, width, is_training=False, runs=1, **kwargs):
  return helpers.run(lambda: alexnet_preprocessing.preprocess_image(
      tf.constant(image), height, width, is_training=is_training, **kwargs), runs=runs)


@pytest.mark.parametrize('size', [224, 227])
def test_eval_is_the_centre_of_the_central_256_patch_minus_means(size):
  image = helpers.random_image(300, 400)  # 256 x 341: the patch starts at column 42
  np.testing.assert_allclose(_preprocess(image, size, size),
                             numpy_reference.alexnet_eval(image, size, size), atol=1e-3)


def test_resize_side():
  image = helpers.random_image(50, 70)
  np.testing.assert_allclose(_preprocess(image, 24, 24, resize_side=32),
                             numpy_reference.alexnet_eval(image, 24, 24, 32), atol=1e-3)


def test_the_eigenbasis_is_orthonormal_and_ordered():
  np.testing.assert_allclose(EIGENVECTORS.T @ EIGENVECTORS, np.eye(3), atol=2e-3)
  np.testing.assert_array_equal(alexnet_preprocessing.EIGENVECTORS, EIGENVECTORS)
  np.testing.assert_array_equal(alexnet_preprocessing.EIGENVALUES, EIGENVALUES)
  assert alexnet_preprocessing.ALPHASTD == 0.1


def test_training_crops_come_from_the_central_square():
  """A 256x512 image whose red value is column // 2: crops show columns 128-383 only."""
  columns = np.arange(512) // 2
  image = np.zeros([256, 512, 3], np.uint8)
  image[..., 0] = columns
  seen = set()
  for output in _preprocess(image, 224, 224, is_training=True, runs=12, alphastd=0, seed=2):
    values = np.rint(output[..., 0] + MEANS[0]).astype(int)
    assert values.min() >= 64 and values.max() <= 191
    seen.add((values[0, 0], values[0, -1]))
  assert len(seen) > 3  # different crops, and flips (decreasing rows)
  assert any(left > right for left, right in seen)


def test_lighting_adds_one_offset_along_the_principal_components():
  image = helpers.random_image(40, 50)
  offsets = []
  for seed in (1, 2, 3):
    lit = _preprocess(image, 32, 32, is_training=True, resize_side=36, seed=seed)
    plain = _preprocess(image, 32, 32, is_training=True, resize_side=36, seed=seed,
                        alphastd=0)
    offset = (lit - plain).reshape([-1, 3])
    np.testing.assert_allclose(offset, np.broadcast_to(offset[0], offset.shape), atol=1e-3)
    # offset = P (alpha * lambda * 255): recover alpha and check its scale.
    alpha = np.linalg.solve(EIGENVECTORS, offset[0]) / (EIGENVALUES * 255)
    assert np.abs(alpha).max() < 0.5 and np.abs(alpha).max() > 1e-3
    offsets.append(offset[0])
  assert not np.allclose(offsets[0], offsets[1])


def test_alphastd_scales_the_lighting():
  image = helpers.random_image(40, 50)

  def offset(alphastd):
    lit = _preprocess(image, 32, 32, is_training=True, resize_side=36, seed=4,
                      alphastd=alphastd)
    plain = _preprocess(image, 32, 32, is_training=True, resize_side=36, seed=4, alphastd=0)
    return (lit - plain)[0, 0]

  np.testing.assert_allclose(offset(0.3), 3 * offset(0.1), rtol=1e-3, atol=1e-3)
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='alphastd must be a non-negative number'):
      alexnet_preprocessing.preprocess_image(tf.zeros([8, 8, 3]), 4, 4, is_training=True,
                                             alphastd=-0.1)
