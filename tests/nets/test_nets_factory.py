"""Registry-wide tests: every registered network builds, trains and matches its contract."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from nets import nets_factory
from nets import registry
from tests.conftest import SPEC_DIR

tf1 = tf.compat.v1

ALL_MODELS = nets_factory.list_models()
SPEC_MODELS = [name for name in ALL_MODELS
               if os.path.exists(os.path.join(SPEC_DIR, f'{name}.json'))]

# Nets whose smallest input is still slow to differentiate get a smaller one here; the
# rest build at their registered minimum size.
SMOKE_IMAGE_SIZE = {
    # MobileNet v2 / v3 / EdgeTPU build down to 1x1 (SAME padding); at 64 the last stage
    # still has 2x2 maps, so train-mode batch norm is not over two values per channel.
    'mobilenet_v2': 64, 'mobilenet_v2_140': 64, 'mobilenet_v2_035': 64,
    'mobilenet_v3_small': 64, 'mobilenet_v3_large': 64,
    'mobilenet_v3_small_minimalistic': 64, 'mobilenet_v3_large_minimalistic': 64,
    'mobilenet_edgetpu': 64, 'mobilenet_edgetpu_075': 64,
}
# ResNet and MobileNet v1 build down to 1x1, but train-mode batch norm over the 1x1 maps
# of two images is degenerate (resnet_v1_50's gradient norm overflows); 64 leaves 2x2.
SMOKE_IMAGE_SIZE.update({
    name: 64 for name in (
        'resnet_v1_50', 'resnet_v1_101', 'resnet_v1_152', 'resnet_v1_200',
        'resnet_v2_50', 'resnet_v2_101', 'resnet_v2_152', 'resnet_v2_200',
        'mobilenet_v1', 'mobilenet_v1_075', 'mobilenet_v1_050', 'mobilenet_v1_025')})
# Inception v2 builds down to 1x1 (every layer padded); at 64 its last modules see 2x2 maps.
SMOKE_IMAGE_SIZE['inception_v2'] = 64
# The video nets build down to one 1x1 frame; 8 frames of 64 leave 2 x 2 x 2 after Mixed_5c.
SMOKE_IMAGE_SIZE.update({'i3d': 64, 's3dg': 64})
SMOKE_NUM_FRAMES = {'i3d': 8, 's3dg': 8}


def _channels(name):
  return nets_factory.model_info(name).input_channels


def _smoke_size(name):
  return SMOKE_IMAGE_SIZE.get(name, nets_factory.model_info(name).min_image_size)


def _input_shape(name, batch, size, channels=None):
  """[batch, size, size, C], or [batch, frames, size, size, C] for a video model."""
  return nets_factory.input_shape(name, batch, size, num_frames=SMOKE_NUM_FRAMES.get(name),
                                  channels=channels)


def test_registry_lists_the_foundation_models():
  for name in ('alexnet', 'alexnet_bn', 'alexnet_v2', 'overfeat', 'vgg_a', 'vgg_16',
               'vgg_19', 'cifarnet', 'lenet'):
    assert name in ALL_MODELS


def test_registry_holds_every_name_of_tf_slims():
  """The contract has a file per name in TF-Slim's registry; SPEC_MODELS, which the
  contract test runs over, keeps only registered names, so a lost one would go untested."""
  with open(os.path.join(SPEC_DIR, 'index.json')) as f:
    tf_slim_names = sorted(entry['net'] for entry in json.load(f)['nets'])
  assert len(tf_slim_names) == 40
  assert sorted(set(tf_slim_names) - set(ALL_MODELS)) == []
  assert sorted(SPEC_MODELS) == tf_slim_names


def test_list_models_filters_with_shell_patterns():
  assert nets_factory.list_models('vgg_*') == ['vgg_16', 'vgg_19', 'vgg_a']
  assert nets_factory.list_models('no_such_*') == []


def test_unknown_name_lists_close_matches():
  with pytest.raises(ValueError, match="vgg_16"):
    nets_factory.get_network_fn('vgg16', num_classes=10)


def test_duplicate_registration_raises():
  def builder(images, num_classes, is_training):
    del images, num_classes, is_training
  with pytest.raises(ValueError, match='registered twice'):
    registry.register('lenet', arg_scope=None, default_image_size=28, preprocessing='lenet',
                      num_classes=10, logits_scope='x', paper='x')(builder)


@pytest.mark.parametrize('name', ALL_MODELS)
def test_metadata_is_complete(name):
  info = nets_factory.model_info(name)
  assert nets_factory.networks_map[name] is info.builder
  assert callable(nets_factory.arg_scopes_map[name])
  assert info.builder.default_image_size == info.default_image_size
  assert 0 < info.min_image_size <= info.default_image_size
  assert info.num_classes in (10, 1000, 1001)
  assert info.preprocessing and info.paper and info.logits_scope
  assert info.logits_scope.split('/')[0] in info.checkpoint_exclude_scopes


@pytest.mark.parametrize('name', ALL_MODELS)
def test_builds_trains_and_reuses(name, graph):
  """num_classes=7, finite logits, a gradient for every variable, an eval tower reusing them."""
  size, batch = _smoke_size(name), 2
  images = tf1.placeholder(tf.float32, _input_shape(name, batch, size))
  train_fn = nets_factory.get_network_fn(name, num_classes=7, weight_decay=1e-4,
                                         is_training=True)
  logits, end_points = train_fn(images)
  assert logits.shape.as_list() == [batch, 7]
  assert end_points, 'end_points must not be empty'
  trainable = tf1.trainable_variables()
  loss = tf.reduce_mean(tf.square(logits)) + tf.add_n(tf1.losses.get_regularization_losses())
  if 'AuxLogits' in end_points:
    # Trained together with the logits, as train_image_classifier does.
    loss += 0.4 * tf.reduce_mean(tf.square(end_points['AuxLogits']))
  grads = tf.gradients(loss, trainable)
  missing = [v.op.name for v, g in zip(trainable, grads) if g is None]
  assert not missing, f'no gradient for {missing}'

  num_variables = len(tf1.global_variables())
  eval_fn = nets_factory.get_network_fn(name, num_classes=7, is_training=False)
  with tf1.variable_scope(tf1.get_variable_scope(), reuse=True):
    eval_logits, _ = eval_fn(images)
  assert len(tf1.global_variables()) == num_variables, 'the eval tower made new variables'

  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    feed = {images: np.random.RandomState(0).uniform(-1, 1, images.shape.as_list())}
    out, eval_out, grad_norm = sess.run(
        [logits, eval_logits, tf.linalg.global_norm(grads)], feed)
  assert np.all(np.isfinite(out)) and np.all(np.isfinite(eval_out))
  assert np.isfinite(grad_norm) and grad_norm > 0


@pytest.mark.parametrize('name', ALL_MODELS)
def test_features_without_classes(name, graph):
  size = _smoke_size(name)
  images = tf1.placeholder(tf.float32, _input_shape(name, 1, size))
  features, end_points = nets_factory.get_network_fn(name, num_classes=0)(images)
  assert 'Logits' not in end_points and 'Predictions' not in end_points
  assert not any(key.endswith('/fc8') for key in end_points)
  assert features.shape[-1] > 7


@pytest.mark.parametrize('name', ALL_MODELS)
def test_rejects_bad_images(name, graph):
  network_fn = nets_factory.get_network_fn(name, num_classes=7)
  info = nets_factory.model_info(name)
  size = info.min_image_size
  shape = _input_shape(name, 1, size, channels=3)
  with pytest.raises(ValueError, match='5-D' if info.is_video_model else '4-D'):
    network_fn(tf1.placeholder(tf.float32, shape[1:]))
  with pytest.raises(ValueError, match='channels'):
    network_fn(tf1.placeholder(tf.float32, shape[:-1] + [4]))
  with pytest.raises(ValueError, match=f'at least {size}x{size}'):
    network_fn(tf1.placeholder(tf.float32, _input_shape(name, 1, size - 1, channels=3)))


def _spec(name):
  with open(os.path.join(SPEC_DIR, f'{name}.json')) as f:
    return json.load(f)


@pytest.mark.parametrize('name', SPEC_MODELS)
def test_matches_tf_slim_contract(name, graph):
  """Same variables (names, shapes), end points and parameter count as TF-Slim builds."""
  spec = _spec(name)
  images = tf1.placeholder(tf.float32, spec['input_shape'], name='input')
  network_fn = nets_factory.get_network_fn(name, num_classes=spec['num_classes'])
  assert network_fn.default_image_size == spec['default_image_size']
  logits, end_points = network_fn(images)

  expected = {v['name']: (v['shape'], v['trainable']) for v in spec['global_variables']}
  actual = {v.op.name: (v.shape.as_list(), v in tf1.trainable_variables())
            for v in tf1.global_variables()}
  assert sorted(set(expected) - set(actual)) == [], 'variables TF-Slim has and we lack'
  assert sorted(set(actual) - set(expected)) == [], 'variables we have and TF-Slim lacks'
  assert actual == expected

  assert [(e['key'], e['shape']) for e in spec['end_points']] == [
      (key, tensor.shape.as_list()) for key, tensor in end_points.items()]
  assert logits.shape.as_list() == spec['logits']['shape']
  assert logits.name == spec['logits']['tensor']
  trainable_params = sum(int(np.prod(v.shape)) for v in tf1.trainable_variables())
  assert trainable_params == spec['num_trainable_params']


@pytest.mark.parametrize('name', ['lenet', 'cifarnet', 'alexnet_bn'])
def test_checkpoint_round_trip(name, tmp_path):
  """Save from one graph, restore by name into a fresh one: the same logits."""
  info = nets_factory.model_info(name)
  size, channels = info.default_image_size, _channels(name)
  feed_images = np.random.RandomState(1).uniform(-1, 1, [2, size, size, channels])

  def build_and_run(restore_from=None):
    with tf.Graph().as_default():
      images = tf1.placeholder(tf.float32, [2, size, size, channels])
      logits, _ = nets_factory.get_network_fn(name, num_classes=5)(images)
      saver = tf1.train.Saver()
      with tf1.Session() as sess:
        if restore_from:
          saver.restore(sess, restore_from)
        else:
          sess.run(tf1.global_variables_initializer())
          # Non-trivial moving statistics, so that restoring them is tested too.
          for v in tf1.global_variables():
            if 'moving_' in v.op.name:
              v.load(np.random.RandomState(2).uniform(0.5, 1.5, v.shape.as_list()), sess)
          saver.save(sess, str(tmp_path / 'model.ckpt'))
        return sess.run(logits, {images: feed_images})

  saved = build_and_run()
  restored = build_and_run(restore_from=str(tmp_path / 'model.ckpt'))
  np.testing.assert_allclose(saved, restored, rtol=1e-6)


def _first_moving_mean_after_one_update(name, batch_norm_decay):
  size = _smoke_size(name)
  with tf.Graph().as_default():
    tf1.set_random_seed(0)
    images = tf.constant(np.random.RandomState(0).uniform(0, 1, [2, size, size, 3]),
                         tf.float32)
    nets_factory.get_network_fn(name, num_classes=7, is_training=True,
                                batch_norm_decay=batch_norm_decay)(images)
    moving_mean = next(v for v in tf1.global_variables()
                       if v.op.name.endswith('moving_mean'))
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      sess.run(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS))
      return sess.run(moving_mean)


@pytest.mark.parametrize('name', ['inception_v3', 'resnet_v1_50', 'mobilenet_v1',
                                  'mobilenet_v2', 'alexnet_bn'])
def test_batch_norm_decay_reaches_the_moving_averages(name):
  """From 0, one update moves the moving mean by (1 - decay) of the batch mean."""
  batch_mean = _first_moving_mean_after_one_update(name, 0.0)
  halfway = _first_moving_mean_after_one_update(name, 0.5)
  assert np.abs(batch_mean).max() > 0
  np.testing.assert_allclose(halfway, 0.5 * batch_mean, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize('name', ['vgg_16', 'alexnet', 'lenet'])
def test_batch_norm_decay_for_a_net_without_batch_norm_is_an_error(name):
  assert not nets_factory.has_batch_norm(name)
  with pytest.raises(ValueError, match='no batch normalization'):
    nets_factory.get_network_fn(name, num_classes=7, batch_norm_decay=0.9)
