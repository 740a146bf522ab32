"""The learning-rate schedules beyond TF-Slim's (inverse time, piecewise, plateau, cosine)
and gradient clipping."""

import csv

from absl import flags
import numpy as np
import pytest
import tensorflow as tf

from slimbench import optimization
from slimbench import train_flags
from slimbench import training

tf1 = tf.compat.v1


def _config(**values):
  """The TrainConfig of the training flags `values`, as the script reads them."""
  fv = flags.FlagValues()
  names = train_flags.define_train_flags(fv)
  fv(['train'] + [f'--{key}={value}' for key, value in values.items()])
  return train_flags.read_train_config(fv, names)


def _rates(config, steps, samples=100):
  with tf.Graph().as_default():
    step = tf1.placeholder(tf.int64, [])
    rate = optimization.configure_learning_rate(samples, step, config.schedule,
                                                config.run.batch_size)
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      return [float(sess.run(rate, {step: s})) for s in steps]


def test_inverse_time():
  # 10 steps per epoch, decay over 2 epochs: rate / (1 + 0.95 * step / 20).
  config = _config(learning_rate_decay_type='inverse_time', learning_rate=0.1, batch_size=10,
                   num_epochs_per_decay=2, learning_rate_decay_factor=0.95)
  np.testing.assert_allclose(_rates(config, [0, 20, 40]),
                             [0.1, 0.1 / 1.95, 0.1 / 2.9], rtol=1e-5)


def test_piecewise_epoch_boundaries():
  config = _config(learning_rate_decay_type='piecewise', batch_size=10,
                   piecewise_boundaries_epochs='1,3', piecewise_learning_rates='0.1,0.01,0.001')
  np.testing.assert_allclose(_rates(config, [0, 10, 11, 30, 31, 500]),
                             [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-5)


@pytest.mark.parametrize('boundaries, rates, message', [
    ('1,3', '0.1,0.01', 'one more value'),
    ('3,1', '0.1,0.01,0.001', 'increase'),
])
def test_piecewise_rejects_inconsistent_flags(boundaries, rates, message):
  config = _config(learning_rate_decay_type='piecewise', piecewise_boundaries_epochs=boundaries,
                   piecewise_learning_rates=rates)
  with pytest.raises(ValueError, match=message):
    _rates(config, [0])


def _write_metrics(path, rows):
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=['global_step', 'accuracy', 'loss'])
    writer.writeheader()
    for step, accuracy in rows:
      writer.writerow({'global_step': step, 'accuracy': accuracy, 'loss': 1 - accuracy})


def test_plateau_divides_the_rate_when_the_metric_stalls(tmp_path):
  metrics = tmp_path / 'eval_results.csv'
  config = _config(learning_rate_decay_type='plateau', learning_rate=0.01,
                   plateau_metric_file=str(metrics), plateau_patience=2, plateau_factor=10)
  with tf.Graph().as_default():
    step = tf1.train.get_or_create_global_step()
    rate = optimization.configure_learning_rate(100, step, config.schedule,
                                                config.run.batch_size)
    hook = optimization.schedule_hooks(config.schedule, config.run.train_dir,
                                       config.run.log_every_n_steps)[0]
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      hook.update(sess)  # no evaluations yet
      assert sess.run(rate) == pytest.approx(0.01)
      _write_metrics(metrics, [(10, 0.5), (20, 0.6), (30, 0.6)])
      hook.update(sess)
      assert sess.run(rate) == pytest.approx(0.01)  # one evaluation without improvement
      _write_metrics(metrics, [(10, 0.5), (20, 0.6), (30, 0.6), (40, 0.59)])
      hook.update(sess)
      assert sess.run(rate) == pytest.approx(0.001)  # two: divided by 10
      hook.update(sess)  # the same rows again change nothing
      assert sess.run(rate) == pytest.approx(0.001)


def test_plateau_rate_survives_a_restart(tmp_path, mnist5k_dir):
  metrics = tmp_path / 'metrics.csv'
  _write_metrics(metrics, [(1, 0.5), (2, 0.4), (3, 0.4)])
  train_dir = str(tmp_path / 'plateau')
  common = dict(train_dir=train_dir, model_name='lenet', dataset_name='mnist5k',
                dataset_dir=mnist5k_dir, batch_size=8, num_readers=1,
                learning_rate_decay_type='plateau', learning_rate=0.01, optimizer='sgd',
                plateau_metric_file=str(metrics), plateau_patience=2, log_every_n_steps=1)
  config = _config(max_number_of_steps=2, **common)
  training.train(config)
  assert tf.train.load_checkpoint(train_dir).get_tensor(
      'plateau/learning_rate') == pytest.approx(0.001)
  # A resumed run starts from the lowered rate, not from --learning_rate.
  _write_metrics(metrics, [])
  config = _config(max_number_of_steps=3, **common)
  training.train(config)
  assert tf.train.load_checkpoint(train_dir).get_tensor(
      'plateau/learning_rate') == pytest.approx(0.001)


def test_cosine_after_warmup_down_to_its_floor():
  # 10 steps per epoch: 1 epoch of warm-up (steps 0-9), then 4 epochs (40 steps) of cosine.
  config = _config(learning_rate_decay_type='cosine', learning_rate=0.1, end_learning_rate=0.001,
                   batch_size=10, warmup_epochs=1, num_epochs_per_decay=4)
  steps = [0, 4, 10, 20, 30, 50, 80]
  half_cosine = lambda t: 0.001 + 0.099 * 0.5 * (1 + np.cos(np.pi * t))
  expected = [0.01, 0.05, 0.1, half_cosine(0.25), 0.0505, 0.001, 0.001]
  np.testing.assert_allclose(_rates(config, steps), expected, rtol=1e-5)
  assert expected[3] == pytest.approx(0.085502, abs=1e-6)


def test_cosine_floor_above_the_rate_is_an_error():
  config = _config(learning_rate_decay_type='cosine', learning_rate=0.001,
                   end_learning_rate=0.01)
  with pytest.raises(ValueError, match='--end_learning_rate=0.01 is the floor'):
    _rates(config, [0])


@pytest.mark.parametrize('flag', ['--clip_gradient_norm=-1', '--end_learning_rate=-0.1'])
def test_negative_clip_or_floor_is_refused(flag):
  fv = flags.FlagValues()
  train_flags.define_train_flags(fv)
  with pytest.raises(flags.IllegalFlagValueError, match=flag.split('=')[0][2:]):
    fv(['train', flag])


def test_clip_by_global_norm_scales_only_above_the_bound():
  with tf.Graph().as_default():
    a, b = tf1.Variable([3.0]), tf1.Variable([[4.0]])
    gradients = [(tf.constant([3.0]), a), (tf.constant([[4.0]]), b)]  # global norm 5
    clipped, norm = training.clip_by_global_norm(gradients, 1.0)
    kept, _ = training.clip_by_global_norm(gradients, 10.0)
    with tf1.Session() as sess:
      assert sess.run(norm) == pytest.approx(5.0)
      first, second = sess.run([g for g, _ in clipped])
      np.testing.assert_allclose(first, [0.6], rtol=1e-6)
      np.testing.assert_allclose(second, [[0.8]], rtol=1e-6)
      first, second = sess.run([g for g, _ in kept])
      np.testing.assert_allclose(first, [3.0])
      np.testing.assert_allclose(second, [[4.0]])
      assert [v for _, v in clipped] == [a, b]


def _update_norm(train_dir):
  before = tf.train.load_checkpoint(f'{train_dir}/model.ckpt-0')
  after = tf.train.load_checkpoint(f'{train_dir}/model.ckpt-1')
  names = [n for n in after.get_variable_to_shape_map() if n.startswith('LeNet/')]
  return float(np.sqrt(sum(np.sum((after.get_tensor(n) - before.get_tensor(n)) ** 2)
                           for n in names)))


def test_one_sgd_step_moves_the_weights_by_lr_times_the_clip(tmp_path, mnist5k_dir):
  """Gradients far above the bound: the SGD update is lr * clip long, exactly."""
  common = dict(model_name='lenet', dataset_name='mnist5k', dataset_dir=mnist5k_dir,
                batch_size=2, num_readers=1, optimizer='sgd', learning_rate=0.5,
                learning_rate_decay_type='fixed', weight_decay=0.0, random_seed=3,
                max_number_of_steps=1)
  config = _config(train_dir=str(tmp_path / 'clipped'), clip_gradient_norm=0.002,
                   **common)
  training.train(config)
  assert _update_norm(tmp_path / 'clipped') == pytest.approx(0.5 * 0.002, rel=1e-4)
  config = _config(train_dir=str(tmp_path / 'free'), **common)
  training.train(config)
  assert _update_norm(tmp_path / 'free') > 10 * 0.5 * 0.002  # the bound did bind
