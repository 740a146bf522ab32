"""The ten test-time crops: the centre is the recipe's own evaluation crop, the corners are
where numpy puts them, the last five mirror the first five."""

import numpy as np
import pytest
import tensorflow as tf

from preprocessing import inception_preprocessing
from preprocessing import preprocessing_factory
from preprocessing import ten_crop
from tests.preprocessing import helpers

RGB_MEANS = np.array([123.68, 116.78, 103.94], np.float32)


def _corners(canvas, height, width):
  """Numpy's top-left, top-right, bottom-left, bottom-right windows."""
  return [canvas[:height, :width], canvas[:height, -width:], canvas[-height:, :width],
          canvas[-height:, -width:]]


def _standardize(image):
  return (image - image.mean()) / max(image.std(), 1 / np.sqrt(image.size))


# name, image (height, width, channels), crop side, numpy canvas, numpy pixel step. The
# alexnet and vgg images already have the shorter side 256, so their resize is exact.
CASES = {
    'alexnet': ((256, 300, 3), 224, lambda im: im[:, 22:278], lambda x: x - RGB_MEANS),
    'vgg': ((256, 300, 3), 224, lambda im: im, lambda x: x - RGB_MEANS),
    'lenet': ((30, 33, 1), 28, lambda im: im, lambda x: (x - 128) / 128),
    'cifarnet': ((20, 40, 3), 24, lambda im: np.pad(im, [(2, 2), (0, 0), (0, 0)]),
                 _standardize),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_ten_crops_against_numpy(name):
  shape, side, canvas_of, pixels = CASES[name]
  image = helpers.random_image(*shape)
  preprocess = preprocessing_factory.get_preprocessing(name)
  crops, single = helpers.run(lambda: (ten_crop.ten_crops(image, name, side, side),
                                       preprocess(image, side, side)))
  assert crops.shape == (10, side, side, shape[2])
  np.testing.assert_allclose(crops[0], single, atol=1e-4)
  canvas = canvas_of(image.astype(np.float32))
  for crop, corner in zip(crops[1:5], _corners(canvas, side, side)):
    np.testing.assert_allclose(crop, pixels(corner), atol=1e-4)
  np.testing.assert_array_equal(crops[5:], crops[:5, :, ::-1])


def test_inception_windows_are_the_central_box_moved_to_the_corners():
  image = helpers.random_image(41, 50)
  # tf.image.central_crop's box for 87.5%: margins int(41 * 0.0625) = 2, int(50 * 0.0625) = 3.
  box_height, box_width = 41 - 2 * 2, 50 - 2 * 3
  corners = _corners(image, box_height, box_width)

  def build():
    crops = ten_crop.ten_crops(image, 'inception_v3', 20, 20)
    single = inception_preprocessing.preprocess_image(image, 20, 20)
    resized = [inception_preprocessing.preprocess_image(corner, 20, 20, crop_image=False)
               for corner in corners]
    return crops, single, resized

  crops, single, resized = helpers.run(build)
  np.testing.assert_allclose(crops[0], single, atol=1e-5)
  np.testing.assert_allclose(crops[1:5], np.stack(resized), atol=1e-5)
  np.testing.assert_array_equal(crops[5:], crops[:5, :, ::-1])


@pytest.mark.parametrize('name', ['alexnet', 'cifarnet', 'inception', 'lenet', 'vgg'])
def test_grayscale_centre_is_the_grayscale_evaluation_crop(name):
  image = helpers.random_image(40, 44)
  preprocess = preprocessing_factory.get_preprocessing(name, use_grayscale=True)
  crops, single = helpers.run(lambda: (
      ten_crop.ten_crops(image, name, 32, 32, use_grayscale=True), preprocess(image, 32, 32)))
  assert crops.shape == (10, 32, 32, 1)
  np.testing.assert_allclose(crops[0], single, atol=1e-4)


def test_unknown_preprocessing_is_an_error():
  with tf.Graph().as_default(), pytest.raises(ValueError, match='Preprocessing name unknown'):
    ten_crop.ten_crops(helpers.random_image(8, 8), 'nope', 4, 4)
