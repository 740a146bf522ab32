"""train_image_classifier.py's behaviour, on the built-in offline dataset."""

import json
import os
import signal
import subprocess
import sys
import time

from absl import flags
import numpy as np
import pytest
import tensorflow as tf

from slimbench import eval_flags
from slimbench import evaluation
from slimbench import optimization
from slimbench import train_flags
from slimbench import training

tf1 = tf.compat.v1
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _config(**values):
  """The TrainConfig of the training flags `values`, as the script reads them."""
  fv = flags.FlagValues()
  names = train_flags.define_train_flags(fv)
  argv = ['train'] + [f'--{key}={value}' for key, value in values.items()]
  fv(argv)
  return train_flags.read_train_config(fv, names)


def _lenet(train_dir, dataset_dir, **values):
  settings = dict(train_dir=train_dir, dataset_name='mnist5k', dataset_dir=dataset_dir,
                  model_name='lenet', optimizer='momentum', learning_rate=0.01,
                  weight_decay=0.0, batch_size=32, random_seed=1, num_readers=1,
                  num_preprocessing_threads=2, log_every_n_steps=50)
  settings.update(values)
  return _config(**settings)


def _variables(checkpoint_dir):
  reader = tf.train.load_checkpoint(checkpoint_dir)
  return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
          if name.startswith('LeNet/') and '/Momentum' not in name}


def _assert_beats_chance(checkpoint_dir, eval_dir, dataset_dir):
  """The float32 eval graph of the checkpoint scores well above chance on training data."""
  eval_fv = flags.FlagValues()
  eval_flags.define_eval_flags(eval_fv)
  eval_fv(['eval', f'--checkpoint_path={checkpoint_dir}', f'--eval_dir={eval_dir}',
           '--model_name=lenet', '--dataset_name=mnist5k', f'--dataset_dir={dataset_dir}',
           '--dataset_split_name=train', '--max_num_batches=5'])
  accuracy = evaluation.evaluate(eval_flags.read_eval_config(eval_fv))[0]['accuracy']
  assert accuracy > 0.5, f'training accuracy {accuracy} is near the 10% of chance'


def test_lenet_loss_falls_and_beats_chance(tmp_path, mnist5k_dir):
  config = _lenet(str(tmp_path / 'lenet'), mnist5k_dir, max_number_of_steps=150)
  results = training.train(config)
  assert results['global_step'] == 150
  with open(tmp_path / 'lenet' / training.RESULTS_FILE) as f:
    assert f.read()
  first_losses = []
  for event_file in tf.io.gfile.glob(str(tmp_path / 'lenet' / 'events.*')):
    for event in tf1.train.summary_iterator(event_file):
      first_losses += [v.simple_value for v in event.summary.value if v.tag == 'total_loss']
  assert first_losses and results['loss'] < first_losses[0] / 2

  _assert_beats_chance(tmp_path / 'lenet', tmp_path / 'ev', mnist5k_dir)
  flags_file = (tmp_path / 'lenet' / training.FLAGS_FILE).read_text()
  assert '--model_name=lenet' in flags_file and '--max_number_of_steps=150' in flags_file


def test_resume_continues_the_global_step(tmp_path, mnist5k_dir):
  train_dir = str(tmp_path / 'resume')
  config = _lenet(train_dir, mnist5k_dir, max_number_of_steps=4)
  training.train(config)
  config = _lenet(train_dir, mnist5k_dir, max_number_of_steps=7)
  results = training.train(config)
  assert results['global_step'] == 7
  assert results['steps_run'] == 3


def test_fine_tune_restores_all_but_excluded_scopes(tmp_path, mnist5k_dir):
  source = str(tmp_path / 'source')
  config = _lenet(source, mnist5k_dir, max_number_of_steps=3)
  training.train(config)
  # SGD at rate 0 leaves every variable as it was initialized or restored.
  config = _lenet(str(tmp_path / 'tuned'), mnist5k_dir, max_number_of_steps=1,
                  optimizer='sgd', learning_rate=0.0, checkpoint_path=source,
                  checkpoint_exclude_scopes='LeNet/fc4', random_seed=99)
  training.train(config)
  before, after = _variables(source), _variables(str(tmp_path / 'tuned'))
  for name, value in before.items():
    if name.startswith('LeNet/fc4'):
      assert not np.allclose(value, after[name]) or not value.any(), name
    else:
      np.testing.assert_array_equal(value, after[name], err_msg=name)


def test_trainable_scopes_leave_the_others_unchanged(tmp_path, mnist5k_dir):
  source = str(tmp_path / 'source')
  config = _lenet(source, mnist5k_dir, max_number_of_steps=2)
  training.train(config)
  config = _lenet(str(tmp_path / 'top'), mnist5k_dir, max_number_of_steps=3,
                  checkpoint_path=source, trainable_scopes='LeNet/fc4')
  training.train(config)
  before, after = _variables(source), _variables(str(tmp_path / 'top'))
  assert not np.allclose(before['LeNet/fc4/weights'], after['LeNet/fc4/weights'])
  for name in ('LeNet/conv1/weights', 'LeNet/conv2/biases', 'LeNet/fc3/weights'):
    np.testing.assert_array_equal(before[name], after[name], err_msg=name)


def test_checkpoint_path_is_ignored_once_train_dir_has_one(tmp_path, mnist5k_dir):
  train_dir = str(tmp_path / 'own')
  config = _lenet(train_dir, mnist5k_dir, max_number_of_steps=2)
  training.train(config)
  config = _lenet(train_dir, mnist5k_dir, max_number_of_steps=3,
                  checkpoint_path=str(tmp_path / 'does_not_matter'))
  assert training.train(config)['global_step'] == 3


def test_class_count_mismatch_says_which_flag(tmp_path, mnist5k_dir):
  source = str(tmp_path / 'source')
  config = _lenet(source, mnist5k_dir, max_number_of_steps=1)
  training.train(config)
  config = _lenet(str(tmp_path / 'nine'), mnist5k_dir, max_number_of_steps=1,
                  labels_offset=1, checkpoint_path=source)
  with pytest.raises(ValueError, match='--checkpoint_exclude_scopes=LeNet/fc4'):
    training.train(config)


def test_two_clones_train(tmp_path, mnist5k_dir):
  config = _lenet(str(tmp_path / 'clones'), mnist5k_dir, max_number_of_steps=3,
                  num_clones=2, batch_size=8)
  results = training.train(config)
  assert results['global_step'] == 3
  graph_variables = _variables(str(tmp_path / 'clones'))
  assert 'LeNet/conv1/weights' in graph_variables  # one shared set, no clone copies


def test_fp16_training_learns_into_a_float32_checkpoint(tmp_path, mnist5k_dir):
  train_dir = str(tmp_path / 'fp16')
  config = _lenet(train_dir, mnist5k_dir, max_number_of_steps=100, use_fp16=True,
                  weight_decay=4e-5)
  results = training.train(config)
  assert results['global_step'] == 100
  reader = tf.train.load_checkpoint(train_dir)
  dtypes = reader.get_variable_to_dtype_map()
  assert dtypes['LeNet/conv1/weights'] == tf.float32
  # The float32 eval graph reads it as any other checkpoint.
  _assert_beats_chance(train_dir, tmp_path / 'ev', mnist5k_dir)


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_checkpoint(tmp_path, mnist5k_dir):
  train_dir = str(tmp_path / 'nan')
  config = _lenet(train_dir, mnist5k_dir, max_number_of_steps=50, optimizer='sgd',
                  learning_rate=1e12)
  with pytest.raises(training.TrainingError, match='NaN or Inf'):
    training.train(config)
  weights = _variables(train_dir)['LeNet/conv1/weights']
  assert np.all(np.isfinite(weights))


@pytest.mark.parametrize('values, message', [
    ({'quantize_delay': 0}, 'quantize_delay'),
    ({'model_name': 'lenett'}, 'lenet'),
    ({'num_ps_tasks': 1}, 'multi-machine'),
    ({'fp16_loss_scale': 128}, 'add --use_fp16'),
])
def test_bad_flags_fail_clearly(tmp_path, mnist5k_dir, values, message):
  config = _lenet(str(tmp_path / 'bad'), mnist5k_dir, **values)
  with pytest.raises(ValueError, match=message):
    training.train(config)


def test_missing_dataset_dir_fails_clearly(tmp_path):
  config = _config(train_dir=str(tmp_path), model_name='lenet', dataset_name='mnist5k')
  with pytest.raises(ValueError, match='--dataset_dir is required'):
    training.train(config)


@pytest.mark.parametrize('optimizer', optimization.OPTIMIZERS)
def test_every_optimizer_takes_a_step(optimizer, graph):
  config = _config(optimizer=optimizer, learning_rate=0.1)
  weights = tf1.get_variable('w', initializer=tf.constant([1.0, -2.0]))
  loss = tf.reduce_sum(tf.square(weights))
  step = tf1.train.get_or_create_global_step()
  optimizer = optimization.configure_optimizer(0.1, config.optimizer)
  train_op = optimizer.minimize(loss, global_step=step)
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    before = sess.run(loss)
    sess.run(train_op)
    assert sess.run(loss) < before
    assert sess.run(step) == 1


@pytest.mark.parametrize('decay_type, steps, expected', [
    # 100 samples, batch 10: 10 steps per epoch; decay every 2 epochs = 20 steps.
    ('exponential', [0, 19, 20, 45], [0.1, 0.1, 0.05, 0.025]),
    ('fixed', [0, 1000], [0.1, 0.1]),
    ('polynomial', [0, 10, 20, 30], [0.1, 0.0505, 0.001, 0.001]),
])
def test_learning_rate_schedules(decay_type, steps, expected, graph):
  config = _config(learning_rate_decay_type=decay_type, learning_rate=0.1, batch_size=10,
                   num_epochs_per_decay=2, learning_rate_decay_factor=0.5,
                   end_learning_rate=0.001)
  step = tf1.placeholder(tf.int64, [])
  rate = optimization.configure_learning_rate(100, step, config.schedule,
                                              config.run.batch_size)
  with tf1.Session() as sess:
    values = [sess.run(rate, {step: s}) for s in steps]
  np.testing.assert_allclose(values, expected, rtol=1e-5)


def test_warmup_ramps_up_then_hands_over_to_the_schedule(graph):
  config = _config(learning_rate_decay_type='fixed', learning_rate=0.1, batch_size=10,
                   warmup_epochs=1)
  step = tf1.placeholder(tf.int64, [])
  rate = optimization.configure_learning_rate(100, step, config.schedule,
                                              config.run.batch_size)
  with tf1.Session() as sess:
    values = [sess.run(rate, {step: s}) for s in (0, 4, 9, 10, 50)]
  np.testing.assert_allclose(values, [0.01, 0.05, 0.1, 0.1, 0.1], rtol=1e-5)


def test_sigterm_saves_a_checkpoint_and_exits_with_128_plus_the_signal(tmp_path, mnist5k_dir):
  train_dir = tmp_path / 'signal'
  command = [sys.executable, os.path.join(REPO_ROOT, 'train_image_classifier.py'),
             f'--train_dir={train_dir}', '--model_name=lenet', '--dataset_name=mnist5k',
             f'--dataset_dir={mnist5k_dir}', '--log_every_n_steps=1', '--batch_size=8',
             '--num_readers=1', '--save_interval_secs=3600']
  process = subprocess.Popen(command, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, PYTHONPATH=REPO_ROOT))
  deadline = time.time() + 120
  for line in process.stderr:
    if 'step 3:' in line or time.time() > deadline:
      break
  process.send_signal(signal.SIGTERM)
  process.stderr.read()
  assert process.wait(timeout=60) == 128 + signal.SIGTERM
  step = tf.train.load_checkpoint(str(train_dir)).get_tensor('global_step')
  assert step >= 3
  with open(train_dir / training.RESULTS_FILE) as f:
    results = json.load(f)
  assert results['stopped'] == 'SIGTERM' and results['global_step'] == step


@pytest.mark.parametrize('mode', ['auto', 'tensorflow'])
def test_conv_gradients_flag_reaches_the_training_graph(tmp_path, mnist5k_dir, mode):
  """auto measures LeNet's conv2 (1.3 GFLOP both ways at batch 32; conv1's 80 MFLOP are too
  few to time) and keeps the choice in the cache; tensorflow keeps TensorFlow's ops."""
  config = _lenet(str(tmp_path / 'lenet'), mnist5k_dir, conv_gradients=mode)
  with tf.Graph().as_default() as graph:
    built = training.build_train_graph(config)
  op_types = {op.type for op in graph.get_operations()}
  if mode == 'tensorflow':
    assert built['conv_gradients'] == 'tensorflow'
    assert 'Conv2DBackpropFilter' in op_types
    return
  choices = built['conv_gradients']
  assert sorted(choices) == ['LeNet/conv1/Conv2D', 'LeNet/conv2/Conv2D'], choices
  assert choices['LeNet/conv1/Conv2D'] == 'tensorflow'
  assert choices['LeNet/conv2/Conv2D'] in ('tensorflow', 'taps')
  with open(os.path.join(os.environ['SLIMBENCH_CACHE_DIR'], 'kernel_choices.json')) as f:
    cached = [json.loads(key)['op'] for key in json.load(f)]
  # Other tests of this session may have cached other LeNet shapes beside it.
  assert any(op['input'] == [32, 14, 14, 32] and op['filter'] == [5, 5, 32, 64]
             for op in cached), cached
