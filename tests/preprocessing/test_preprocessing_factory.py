"""The factory and the contract every preprocessing keeps: names, shapes, dtypes, ranges,
channels, dtypes of the input, determinism, seeds, tf.data and summaries."""

import numpy as np
import pytest
import tensorflow as tf

from nets import nets_factory
from preprocessing import preprocessing_factory
from tests.preprocessing import helpers

tf1 = tf.compat.v1

NAMES = ['alexnet', 'cifarnet', 'inception', 'lenet', 'vgg']
MEANS = np.array([123.68, 116.78, 103.94])


def _value_range(name):
  """The range each recipe promises (with a margin for AlexNet's Gaussian lighting)."""
  if name == 'inception':
    return -1.0, 1.0
  if name == 'lenet':
    return -1.0, 127.0 / 128.0
  if name in ('vgg', 'alexnet'):
    low, high = -MEANS.max(), 255.0 - MEANS.min()
    # 6 standard deviations of the largest lighting component (0.1 * 0.2175 * 255).
    margin = 6 * 0.1 * 0.2175 * 255 if name == 'alexnet' else 0.0
    return low - margin, high + margin
  return None  # cifarnet is standardized; checked by mean and deviation.


def test_names_resolve_to_themselves():
  assert preprocessing_factory.list_preprocessing() == NAMES
  for name in NAMES:
    assert preprocessing_factory.resolve(name) == name
    assert preprocessing_factory.get_preprocessing(name).preprocessing_name == name


@pytest.mark.parametrize('model_name', nets_factory.list_models())
def test_every_registered_model_resolves(model_name):
  info = nets_factory.model_info(model_name)
  fn = preprocessing_factory.get_preprocessing(model_name, is_training=True)
  assert fn.preprocessing_name == info.preprocessing
  assert fn.preprocessing_name in NAMES


def test_model_name_resolves_at_call_time(monkeypatch):
  """A net registered after the factory was imported still resolves (no static map)."""
  info = nets_factory.model_info('vgg_16')
  monkeypatch.setattr(nets_factory, 'model_info',
                      lambda name: info if name == 'brand_new_net' else None)
  assert preprocessing_factory.resolve('brand_new_net') == 'vgg'


def test_unknown_name_lists_the_known_ones():
  with pytest.raises(ValueError, match='alexnet, cifarnet, inception, lenet, vgg'):
    preprocessing_factory.get_preprocessing('resnet_v9')


def test_model_with_unknown_preprocessing_is_an_error(monkeypatch):
  info = nets_factory.model_info('vgg_16')
  odd = type(info)(**{**info.__dict__, 'name': 'odd', 'preprocessing': 'odd_recipe'})
  monkeypatch.setattr(nets_factory, 'model_info', lambda name: odd)
  with pytest.raises(ValueError, match="'odd_recipe'"):
    preprocessing_factory.get_preprocessing('odd')


def test_flags_must_be_python_bools():
  with pytest.raises(ValueError, match='bools'):
    preprocessing_factory.get_preprocessing('vgg', is_training=tf.constant(True))


@pytest.mark.parametrize('name', NAMES)
def test_shape_dtype_and_range(name):
  """Both modes, 1- and 3-channel input, with and without use_grayscale."""
  cases = [(is_training, input_channels, use_grayscale)
           for is_training in (True, False) for input_channels in (1, 3)
           for use_grayscale in (False, True)]

  def build():
    return [preprocessing_factory.get_preprocessing(name, is_training, use_grayscale)(
        tf.constant(helpers.random_image(45, 61, input_channels)), 37, 29)
            for is_training, input_channels, use_grayscale in cases]

  for case, output in zip(cases, helpers.run(build)):
    _, input_channels, use_grayscale = case
    if use_grayscale:
      channels = 1
    else:
      channels = input_channels if name == 'lenet' else 3
    assert output.shape == (37, 29, channels), case
    assert output.dtype == np.float32, case
    value_range = _value_range(name)
    if value_range:
      assert value_range[0] <= output.min() and output.max() <= value_range[1], case
    else:
      np.testing.assert_allclose([output.mean(), output.std()], [0.0, 1.0], atol=1e-4)
    assert output.std() > 0.05, case  # not a blank image


@pytest.mark.parametrize('name', NAMES)
def test_gray_input_becomes_identical_rgb_channels(name):
  fn = preprocessing_factory.get_preprocessing(name, is_training=False)
  gray = helpers.random_image(40, 50, 1)
  output = helpers.run(lambda: fn(tf.constant(gray), 24, 24))
  if name == 'lenet':
    assert output.shape == (24, 24, 1)
    return
  # The same pixel in each channel, up to the per-channel means.
  offsets = MEANS if name in ('vgg', 'alexnet') else np.zeros(3)
  restored = output + offsets
  np.testing.assert_allclose(restored[..., 1], restored[..., 0], atol=1e-4)
  np.testing.assert_allclose(restored[..., 2], restored[..., 0], atol=1e-4)


@pytest.mark.parametrize('name', NAMES)
def test_grayscale_output_is_the_luma_of_the_rgb_output(name):
  rgb = helpers.random_image(40, 50, 3)
  gray_fn = preprocessing_factory.get_preprocessing(name, use_grayscale=True)
  rgb_fn = preprocessing_factory.get_preprocessing(name)
  gray, colour = helpers.run(lambda: (gray_fn(tf.constant(rgb), 24, 24),
                                      rgb_fn(tf.constant(rgb), 24, 24)))
  weights = np.array([0.2989, 0.5870, 0.1140])
  if name in ('vgg', 'alexnet'):
    expected = (colour + MEANS) @ weights - MEANS @ weights
  elif name == 'inception':
    expected = ((colour + 1) / 2) @ weights * 2 - 1
  elif name == 'lenet':
    expected = (colour * 128 + 128) @ weights / 128 - 1
  else:  # standardization is scale-free: compare standardized luma.
    luma = colour @ weights
    expected = (luma - luma.mean()) / luma.std()
  np.testing.assert_allclose(gray[..., 0], expected, atol=2e-3)


@pytest.mark.parametrize('name', NAMES)
def test_input_dtypes_agree(name):
  """uint8, uint16 (x 257) and float in [0, 1] are the same picture."""
  fn = preprocessing_factory.get_preprocessing(name)
  image = helpers.random_image(30, 40)
  inputs = [image, image.astype(np.uint16) * 257, image.astype(np.float32) / 255,
            image.astype(np.float64) / 255]
  outputs = helpers.run(lambda: [fn(tf.constant(x), 24, 24) for x in inputs])
  tolerance = 2e-3 if name in ('vgg', 'alexnet') else 1e-4
  for output in outputs[1:]:
    np.testing.assert_allclose(output, outputs[0], atol=tolerance)


@pytest.mark.parametrize('name', NAMES)
def test_small_images_are_accepted(name):
  for is_training in (True, False):
    fn = preprocessing_factory.get_preprocessing(name, is_training)
    output = helpers.run(lambda: fn(tf.constant(helpers.random_image(5, 9)), 28, 28))
    assert output.shape == (28, 28, 3)
    assert np.isfinite(output).all()


@pytest.mark.parametrize('name', NAMES)
def test_eval_is_deterministic(name):
  fn = preprocessing_factory.get_preprocessing(name, is_training=False)
  image = helpers.random_image(50, 40)
  first, second = helpers.run(lambda: fn(tf.constant(image), 32, 32), runs=2)
  np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize('name', [n for n in NAMES if n != 'lenet'])
def test_training_varies_and_the_seed_repeats_it(name):
  fn = preprocessing_factory.get_preprocessing(name, is_training=True)
  image = helpers.random_image(50, 40)

  def draws(seed):
    return np.stack(helpers.run(lambda: fn(tf.constant(image), 32, 32, seed=seed), runs=4))

  first, again, other = draws(1), draws(1), draws(2)
  np.testing.assert_array_equal(first, again)
  assert not np.allclose(first, other)
  # Successive images (runs) get different augmentations.
  assert not any(np.allclose(first[0], later) for later in first[1:])


def test_graph_level_seed_repeats_unseeded_training():
  fn = preprocessing_factory.get_preprocessing('inception', is_training=True)
  image = helpers.random_image(50, 40)

  def draw(graph_seed):
    def build():
      tf1.set_random_seed(graph_seed)
      return fn(tf.constant(image), 32, 32)
    return helpers.run(build)

  np.testing.assert_array_equal(draw(5), draw(5))
  assert not np.allclose(draw(5), draw(6))


def test_lenet_trains_as_it_evaluates():
  image = helpers.random_image(30, 30, 1)
  train = preprocessing_factory.get_preprocessing('lenet', is_training=True)
  evaluate = preprocessing_factory.get_preprocessing('lenet', is_training=False)
  a, b = helpers.run(lambda: (train(tf.constant(image), 28, 28),
                              evaluate(tf.constant(image), 28, 28)))
  np.testing.assert_array_equal(a, b)


def _decoded_png(channels):
  """A decoded PNG as tf.data gives it: rank 3, channel count unknown until run time."""
  image = helpers.random_image(33, 47, channels)
  return tf.io.decode_image(tf.io.encode_png(tf.constant(image)), expand_animations=False)


CASES = [(name, is_training) for name in NAMES for is_training in (True, False)]


def test_runs_in_a_tf_data_map_with_unknown_channel_counts():
  """Every recipe and mode on decoded 1- and 3-channel PNGs, whose channel count is
  unknown until run time; training draws differ between examples, evaluation's don't."""
  functions = [preprocessing_factory.get_preprocessing(name, is_training)
               for name, is_training in CASES]

  def build():
    images = (_decoded_png(1), _decoded_png(3))
    assert images[0].shape.as_list() == [None, None, None]
    dataset = tf.data.Dataset.from_tensors(images).repeat(2).map(
        lambda gray, colour: tuple(fn(image, 24, 24) for fn in functions
                                   for image in (gray, colour)),
        num_parallel_calls=2)
    for spec in dataset.element_spec:
      assert spec.shape[:2] == (24, 24)
    return tf1.data.make_one_shot_iterator(dataset.batch(2)).get_next()

  outputs = iter(helpers.run(build))
  for name, is_training in CASES:
    for channels in (1, 3):
      output = next(outputs)
      case = (name, is_training, channels)
      assert output.shape == (2, 24, 24, channels if name == 'lenet' else 3), case
      assert np.isfinite(output).all(), case
      varies = is_training and name != 'lenet'
      assert np.array_equal(output[0], output[1]) != varies, case


def test_four_channel_images_fail_at_run_time_in_a_map():
  fn = preprocessing_factory.get_preprocessing('vgg')

  def build():
    encoded = tf.io.encode_png(tf.constant(helpers.random_image(20, 20, 4)))
    dataset = tf.data.Dataset.from_tensors(encoded).map(
        lambda data: fn(tf.io.decode_image(data, expand_animations=False), 16, 16))
    return tf1.data.make_one_shot_iterator(dataset).get_next()

  with pytest.raises(tf.errors.InvalidArgumentError):
    helpers.run(build)


@pytest.mark.parametrize('name', NAMES)
def test_bad_inputs_are_clear_errors(name):
  fn = preprocessing_factory.get_preprocessing(name)
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='one image'):
      fn(tf.zeros([2, 10, 10, 3], tf.uint8), 8, 8)
    with pytest.raises(ValueError, match='1 or 3 channels'):
      fn(tf.zeros([10, 10, 4], tf.uint8), 8, 8)
    with pytest.raises(ValueError, match='positive integers'):
      fn(tf.zeros([10, 10, 3], tf.uint8), 0, 8)
    with pytest.raises(ValueError, match='positive integers'):
      fn(tf.zeros([10, 10, 3], tf.uint8), 8.5, 8)
    with pytest.raises(TypeError):
      fn(tf.zeros([10, 10, 3], tf.uint8), 8, 8, no_such_argument=1)


@pytest.mark.parametrize('name,kwargs', [
    ('inception', {'bbox': [[0.1, 0.1, 0.5, 0.5]]}),
    ('inception', {'fast_mode': False}),
    ('inception', {'seed': 1}),
    ('vgg', {'resize_side_max': 300}),
    ('vgg', {'seed': 1}),
    ('cifarnet', {'padding': 2}),
    ('cifarnet', {'seed': 1}),
    ('alexnet', {'alphastd': 0.2}),
    ('alexnet', {'seed': 1}),
])
def test_training_arguments_are_rejected_in_evaluation(name, kwargs):
  fn = preprocessing_factory.get_preprocessing(name, is_training=False)
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='only applies in training'):
      fn(tf.zeros([10, 10, 3], tf.uint8), 8, 8, **kwargs)


@pytest.mark.parametrize('name,kwargs', [
    ('inception', {'central_fraction': 0.5}),
    ('vgg', {'resize_side': 300}),
])
def test_evaluation_arguments_are_rejected_in_training(name, kwargs):
  fn = preprocessing_factory.get_preprocessing(name, is_training=True)
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match='only applies in evaluation'):
      fn(tf.zeros([10, 10, 3], tf.uint8), 8, 8, **kwargs)


@pytest.mark.parametrize('name,is_training,count', [
    ('inception', True, 4), ('inception', False, 1), ('cifarnet', True, 2),
    ('cifarnet', False, 2)])
def test_image_summaries(name, is_training, count):
  """Added in a graph when asked; off on request; never inside a tf.data map."""
  fn = preprocessing_factory.get_preprocessing(name, is_training)

  def summaries(add_image_summaries, in_map=False):
    with tf.Graph().as_default():
      image = tf.zeros([20, 20, 3], tf.uint8)
      if in_map:
        tf.data.Dataset.from_tensors(image).map(
            lambda x: fn(x, 16, 16, add_image_summaries=add_image_summaries))
      else:
        fn(image, 16, 16, add_image_summaries=add_image_summaries)
      return len(tf1.get_collection(tf1.GraphKeys.SUMMARIES))

  assert summaries(True) == count
  assert summaries(False) == 0
  assert summaries(True, in_map=True) == 0
