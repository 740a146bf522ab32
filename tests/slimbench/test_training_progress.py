"""What training reports while it runs: the step log's % and ETA, and TensorBoard's
curves (rates, and a summary where training ended)."""

import glob
import logging
import os
import re

from absl import flags
import tensorflow as tf

from slimbench import train_flags
from slimbench import training

tf1 = tf.compat.v1
STEP_LINE = re.compile(r'step (\d+): loss = [\d.]+ \([\d.]+ sec/step, [\d.]+ images/sec\)'
                       r'(?:, (\d+)%(?: ETA (\d+s|\d+m\d\ds|\d+h\d\dm))?)?$')


def _train(train_dir, dataset_dir, extra_hooks=(), **values):
  settings = dict(train_dir=train_dir, dataset_name='mnist5k', dataset_dir=dataset_dir,
                  model_name='lenet', optimizer='sgd', learning_rate=0.01, batch_size=8,
                  random_seed=1, num_readers=1, num_preprocessing_threads=1,
                  log_every_n_steps=2)
  settings.update(values)
  fv = flags.FlagValues()
  names = train_flags.define_train_flags(fv)
  fv(['train'] + [f'--{key}={value}' for key, value in settings.items()])
  return training.train(train_flags.read_train_config(fv, names), extra_hooks=extra_hooks)


def _step_lines(caplog):
  return [STEP_LINE.match(r.getMessage()) for r in caplog.records
          if r.getMessage().startswith('step ')]


def _scalars(train_dir):
  """{tag: {step: value}} of every scalar summary in train_dir's event files."""
  scalars = {}
  for event_file in glob.glob(os.path.join(train_dir, 'events.out.tfevents.*')):
    for event in tf1.train.summary_iterator(event_file):
      for value in event.summary.value:
        if value.HasField('simple_value'):
          scalars.setdefault(value.tag, {})[event.step] = value.simple_value
  return scalars


class _StopAtHook(tf1.train.SessionRunHook):
  def __init__(self, step):
    self._step = step
    self._global_step = None

  def begin(self):
    self._global_step = tf1.train.get_global_step()

  def before_run(self, run_context):
    return tf1.train.SessionRunArgs(self._global_step)

  def after_run(self, run_context, run_values):
    if run_values.results + 1 >= self._step:
      run_context.request_stop()


def test_known_step_count_logs_percent_and_eta_and_ends_with_a_summary(
    tmp_path, mnist5k_dir, caplog):
  caplog.set_level(logging.INFO)
  train_dir = str(tmp_path / 'run')
  # save_summaries_secs is TF-Slim's 600: far longer than this run.
  _train(train_dir, mnist5k_dir, max_number_of_steps=6)

  lines = _step_lines(caplog)
  assert lines and all(lines), [r.getMessage() for r in caplog.records]
  steps = [int(m.group(1)) for m in lines]
  assert steps == [1, 2, 4, 6]
  assert lines[0].group(2) == '16' and lines[0].group(3) is None  # no rate yet: no ETA
  assert [m.group(2) for m in lines[1:]] == ['33', '66', '100']
  assert lines[-1].group(3) == '0s'

  scalars = _scalars(train_dir)
  # The first step's summary, and one at the last step although 600 s did not pass.
  assert sorted(scalars['total_loss']) == [1, 6]
  assert sorted(scalars['train/batch_accuracy']) == [1, 6]
  assert sorted(scalars['global_step/sec']) == [6]
  assert scalars['global_step/sec'][6] > 0
  assert abs(scalars['images/sec'][6] - 8 * scalars['global_step/sec'][6]) < 1e-3 * (
      scalars['images/sec'][6])


def test_run_stopped_early_without_a_step_count_logs_no_eta_and_still_ends_with_a_summary(
    tmp_path, mnist5k_dir, caplog):
  caplog.set_level(logging.INFO)
  train_dir = str(tmp_path / 'run')
  results = _train(train_dir, mnist5k_dir, extra_hooks=[_StopAtHook(3)])
  assert results['global_step'] == 3

  lines = _step_lines(caplog)
  assert [int(m.group(1)) for m in lines] == [1, 2]
  assert all(m.group(2) is None for m in lines)  # no step count: no % and no ETA

  scalars = _scalars(train_dir)
  assert sorted(scalars['total_loss']) == [1, 3]
  assert sorted(scalars['global_step/sec']) == [3]


def test_eta_reads_as_a_person_says_it():
  assert [training.format_duration(s) for s in (0.4, 45, 200, 3599.6, 7500)] == [
      '0s', '45s', '3m20s', '1h00m', '2h05m']
