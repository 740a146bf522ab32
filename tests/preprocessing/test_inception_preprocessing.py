"""Inception preprocessing against TF-Slim's definition, and its training distortions."""

import numpy as np
import pytest
import tensorflow as tf

from preprocessing import inception_preprocessing
from tests.preprocessing import helpers
from tests.preprocessing import numpy_reference


def _eval(image, height, width, **kwargs):
  return helpers.run(lambda: inception_preprocessing.preprocess_image(
      tf.constant(image), height, width, is_training=False, **kwargs))


def test_eval_is_central_crop_0875_then_tf1_bilinear_resize_to_minus_one_one():
  image = helpers.random_image(120, 90)
  expected = numpy_reference.inception_eval(image, 64, 48)
  np.testing.assert_allclose(_eval(image, 64, 48), expected, atol=1e-5)
  # The reference tells the resize methods apart, so the match above means something.
  half_pixel = numpy_reference.resize_bilinear_half_pixel(
      numpy_reference.central_crop_fraction(image / 255.0, 0.875), 64, 48)
  assert np.abs((half_pixel - 0.5) * 2 - expected).max() > 0.1


def test_central_fraction_and_crop_image():
  image = helpers.random_image(80, 100)
  np.testing.assert_allclose(_eval(image, 32, 32, central_fraction=0.5),
                             numpy_reference.inception_eval(image, 32, 32, 0.5), atol=1e-5)
  np.testing.assert_allclose(_eval(image, 32, 32, crop_image=False),
                             numpy_reference.inception_eval(image, 32, 32, None), atol=1e-5)
  with tf.Graph().as_default():
    for bad in (0.0, 1.5):
      with pytest.raises(ValueError, match=r'central_fraction must be in \(0, 1\]'):
        inception_preprocessing.preprocess_image(tf.zeros([8, 8, 3]), 4, 4,
                                                 central_fraction=bad)
    with pytest.raises(ValueError, match='no effect with crop_image=False'):
      inception_preprocessing.preprocess_image(tf.zeros([8, 8, 3]), 4, 4, crop_image=False,
                                               central_fraction=0.5)


def _coordinate_image(height, width):
  """Pixels that tell where they came from: channel 0 the row, channel 1 the column."""
  rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing='ij')
  return np.stack([rows, cols, np.zeros_like(rows)], -1).astype(np.float32)


def test_random_crops_keep_a_tenth_of_the_box_and_respect_the_constraints():
  height, width = 100, 160
  box = [0.6, 0.7, 0.9, 0.95]  # ymin, xmin, ymax, xmax
  box_rows = (60, 90)
  box_cols = (112, 152)

  def build():
    crop, _ = inception_preprocessing.distorted_bounding_box_crop(
        tf.constant(_coordinate_image(height, width)), tf.constant([[box]], tf.float32),
        seed=3)
    return tf.stack([tf.reduce_min(crop[..., 0]), tf.reduce_max(crop[..., 0]),
                     tf.reduce_min(crop[..., 1]), tf.reduce_max(crop[..., 1])])

  crops = helpers.run(build, runs=30)
  box_area = (box_rows[1] - box_rows[0]) * (box_cols[1] - box_cols[0])
  for top, bottom, left, right in crops:
    crop_height, crop_width = bottom - top + 1, right - left + 1
    overlap_rows = max(0, min(bottom + 1, box_rows[1]) - max(top, box_rows[0]))
    overlap_cols = max(0, min(right + 1, box_cols[1]) - max(left, box_cols[0]))
    assert overlap_rows * overlap_cols >= 0.1 * box_area - 1e-6
    assert crop_height * crop_width >= 0.05 * height * width * 0.95
    assert 0.7 <= crop_width / crop_height <= 1.4
  assert len({tuple(c) for c in crops}) > 20


def _train(image, height, width, runs=1, **kwargs):
  return helpers.run(lambda: inception_preprocessing.preprocess_image(
      tf.constant(image), height, width, is_training=True, **kwargs), runs=runs)


def test_bbox_is_honoured_through_preprocess_image():
  """A white band at the bottom, boxed: every crop keeps part of it, which unboxed crops
  don't. (Gray pixels: the fast colour distortion only shifts brightness by <= 32/255.)"""
  image = np.zeros([100, 60, 3], np.uint8)
  image[80:] = 255

  def contrast(**kwargs):
    outputs = _train(image, 16, 16, runs=25, seed=11, **kwargs)
    return np.array([output.max() - output.min() for output in outputs])

  for bbox in ([[0.8, 0.0, 1.0, 1.0]], [[[0.8, 0.0, 1.0, 1.0]]]):
    assert (contrast(bbox=bbox) > 0.5).all(), contrast(bbox=bbox)
  assert (contrast() < 0.01).any()
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='bbox must be'):
      inception_preprocessing.preprocess_image(tf.zeros([8, 8, 3]), 4, 4, is_training=True,
                                               bbox=[0.1, 0.1, 0.5, 0.5])
    with pytest.raises(ValueError, match='crop_image=False'):
      inception_preprocessing.preprocess_image(tf.zeros([8, 8, 3]), 4, 4, is_training=True,
                                               bbox=[[0.1, 0.1, 0.5, 0.5]], crop_image=False)


def test_training_without_crop_resizes_the_whole_image():
  """A vertical gray ramp: without the crop the output is the resized ramp plus one
  brightness offset; with it, a part of the ramp."""
  ramp = np.linspace(64, 192, 50).round().astype(np.uint8)
  image = np.repeat(np.repeat(ramp[:, None, None], 30, 1), 3, 2)
  whole = numpy_reference.resize_bilinear_legacy(image, 20, 20) / 255.0 * 2 - 1
  for seed in (1, 2, 3):
    offset = _train(image, 20, 20, crop_image=False, seed=seed) - whole
    np.testing.assert_allclose(offset, offset.mean(), atol=1e-4)
    assert abs(offset.mean()) <= 2 * 32 / 255 + 1e-4
    cropped = _train(image, 20, 20, seed=seed) - whole
    assert np.ptp(cropped) > 0.05


def test_random_selector_draws_every_case():
  def build():
    return inception_preprocessing.apply_with_random_selector(
        tf.constant(0), lambda x, case: tf.constant(case), num_cases=4, seed=5)
  assert set(helpers.run(build, runs=40)) == {0, 1, 2, 3}


def test_fast_mode_off_changes_the_distortions():
  image = helpers.random_image(40, 40)
  fast = _train(image, 24, 24, seed=4)
  slow = _train(image, 24, 24, seed=4, fast_mode=False)
  assert np.abs(fast - slow).max() > 0.05
  assert slow.min() >= -1.0 and slow.max() <= 1.0


def test_distort_color_stays_in_the_unit_range():
  image = helpers.random_image(8, 8) / 255.0
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='color_ordering must be 0-3'):
      inception_preprocessing.distort_color(tf.zeros([4, 4, 3]), 4)
  for fast_mode in (True, False):
    outputs = helpers.run(lambda: [
        inception_preprocessing.distort_color(tf.constant(image, tf.float32), ordering,
                                              fast_mode=fast_mode)
        for ordering in range(4)], runs=5)
    for output in np.array(outputs).reshape([-1, 8, 8, 3]):
      assert 0.0 <= output.min() and output.max() <= 1.0
      assert np.abs(output - image).max() > 1e-3
