"""Optimizers and learning-rate schedules named by TF-Slim's training flags.

`configure_learning_rate` takes a `config.ScheduleConfig` and `configure_optimizer` a
`config.OptimizerConfig` (their fields are the training flags of the same names).
Beyond TF-Slim's exponential, fixed and polynomial decay:
- inverse_time: rate / (1 + decay_factor * epoch / num_epochs_per_decay);
- cosine: half a cosine from the rate down to end_learning_rate over num_epochs_per_decay
  epochs (Loshchilov & Hutter, SGDR, 2017, without restarts), then flat at that floor;
- piecewise: constant rates between epoch boundaries;
- plateau: the AlexNet paper's rule, the rate divided by a factor whenever the validation
  metric that the evaluator writes (eval_image_classifier.py --wait_for_checkpoints)
  has not improved for a patience window. The current rate lives in a variable, so a
  resumed run keeps it.
"""

import csv
import math
import os

from absl import logging
import tensorflow as tf

tf1 = tf.compat.v1

OPTIMIZERS = ('adadelta', 'adagrad', 'adam', 'ftrl', 'momentum', 'sgd', 'rmsprop')
DECAY_TYPES = ('exponential', 'fixed', 'polynomial', 'inverse_time', 'piecewise', 'plateau',
               'cosine')
PLATEAU_SCOPE = 'plateau'


def steps_per_epoch(num_samples_per_epoch, global_batch_size):
  """Optimizer steps per epoch of this worker's data at `global_batch_size` examples per
  step (over every clone, and every aggregated replica in synchronous training)."""
  return max(1.0, num_samples_per_epoch / global_batch_size)


def configure_learning_rate(num_samples_per_epoch, global_step, schedule, global_batch_size):
  """The learning rate tensor of `--learning_rate_decay_type`, after `--warmup_epochs`.

  Args:
    num_samples_per_epoch: examples in one epoch of the training data.
    global_step: the global step tensor.
    schedule: a `config.ScheduleConfig`.
    global_batch_size: examples per optimizer step (`steps_per_epoch`).

  Raises:
    ValueError: the decay type is unknown, or its flags disagree.
  """
  epoch_steps = steps_per_epoch(num_samples_per_epoch, global_batch_size)
  decay_steps = max(1, int(epoch_steps * schedule.num_epochs_per_decay))
  decay_type = schedule.learning_rate_decay_type
  step = tf.cast(global_step, tf.int64)
  warmup_steps = int(epoch_steps * schedule.warmup_epochs)
  # The schedule starts after the warm-up, so a warm-up does not eat into it.
  schedule_step = tf.maximum(step - warmup_steps, 0)
  if decay_type == 'exponential':
    rate = tf1.train.exponential_decay(
        schedule.learning_rate, schedule_step, decay_steps,
        schedule.learning_rate_decay_factor, staircase=True)
  elif decay_type == 'fixed':
    rate = tf.constant(schedule.learning_rate, tf.float32)
  elif decay_type == 'polynomial':
    rate = tf1.train.polynomial_decay(
        schedule.learning_rate, schedule_step, decay_steps,
        schedule.end_learning_rate, power=1.0, cycle=False)
  elif decay_type == 'inverse_time':
    rate = tf1.train.inverse_time_decay(
        schedule.learning_rate, schedule_step, decay_steps,
        schedule.learning_rate_decay_factor, staircase=False)
  elif decay_type == 'cosine':
    rate = _cosine(schedule.learning_rate, schedule.end_learning_rate, schedule_step,
                   decay_steps)
  elif decay_type == 'piecewise':
    rate = _piecewise(schedule_step, epoch_steps, schedule)
  elif decay_type == 'plateau':
    rate = _plateau_variables(schedule.learning_rate)['rate'].read_value()
  else:
    raise ValueError(f'--learning_rate_decay_type={decay_type!r} is not one of '
                     f'{", ".join(DECAY_TYPES)}')
  if warmup_steps > 0:
    warmup = schedule.learning_rate * tf.cast(step + 1, tf.float32) / warmup_steps
    rate = tf1.where(step < warmup_steps, warmup, rate)
  return tf.identity(rate, name='learning_rate')


def _cosine(initial_rate, end_rate, step, decay_steps):
  """end + (initial - end) * (1 + cos(pi * step / decay_steps)) / 2, then end."""
  if end_rate > initial_rate:
    raise ValueError(f'--end_learning_rate={end_rate} is the floor of the cosine decay and '
                     f'must not exceed --learning_rate={initial_rate}')
  progress = tf.minimum(tf.cast(step, tf.float32) / float(decay_steps), 1.0)
  cosine = 0.5 * (1.0 + tf.cos(math.pi * progress))
  return end_rate + (initial_rate - end_rate) * cosine


def _piecewise(step, epoch_steps, schedule):
  boundaries = [float(b) for b in schedule.piecewise_boundaries_epochs]
  rates = [float(r) for r in schedule.piecewise_learning_rates]
  if len(rates) != len(boundaries) + 1:
    raise ValueError(f'--piecewise_learning_rates needs one more value than '
                     f'--piecewise_boundaries_epochs ({len(boundaries)} boundaries, '
                     f'{len(rates)} rates)')
  if boundaries != sorted(boundaries) or len(set(boundaries)) != len(boundaries):
    raise ValueError('--piecewise_boundaries_epochs must increase strictly')
  steps = [int(round(b * epoch_steps)) for b in boundaries]
  return tf1.train.piecewise_constant(step, [tf.constant(s, tf.int64) for s in steps], rates)


def _plateau_variables(initial_rate=None):
  """The plateau schedule's state, created once: rate, best metric, evaluations seen."""
  with tf1.variable_scope(PLATEAU_SCOPE, reuse=tf1.AUTO_REUSE):
    def variable(name, value, dtype):
      return tf1.get_variable(name, dtype=dtype, initializer=tf.constant(value, dtype),
                              trainable=False)
    return {
        'rate': variable('learning_rate', initial_rate or 0.0, tf.float32),
        # The lowest float32 rather than -inf: checkpoints hold finite values only, and
        # the trainer refuses to save non-finite variables (a sign of divergence).
        'best': variable('best_metric', float(tf.float32.min), tf.float32),
        'bad_evaluations': variable('evaluations_without_improvement', 0, tf.int64),
        'last_step': variable('last_evaluated_step', -1, tf.int64),
    }


class PlateauHook(tf1.train.SessionRunHook):
  """Divides the plateau rate when the evaluator's metric stops improving.

  Reads the CSV that eval_image_classifier.py writes (one row per evaluated checkpoint):
  `schedule.plateau_metric_file`, by default eval/eval_results.csv in `train_dir`; every
  row newer than the last one seen counts as one evaluation.
  """

  def __init__(self, schedule, train_dir, check_every_n_steps):
    self._file = schedule.plateau_metric_file or os.path.join(
        train_dir, 'eval', 'eval_results.csv')
    self._metric = schedule.plateau_metric
    self._patience = schedule.plateau_patience
    self._factor = schedule.plateau_factor
    self._min_delta = schedule.plateau_min_delta
    self._min_rate = schedule.plateau_min_learning_rate
    self._every = check_every_n_steps
    self._steps = 0
    self._state = _plateau_variables()
    self._inputs = {name: tf1.placeholder(v.dtype.base_dtype, [])
                    for name, v in self._state.items()}
    self._assign = tf.group(*[v.assign(self._inputs[name])
                              for name, v in self._state.items()])

  def _new_rows(self, last_step):
    if not tf.io.gfile.exists(self._file):
      return []
    with tf.io.gfile.GFile(self._file) as f:
      rows = [row for row in csv.DictReader(f) if int(row['global_step']) > last_step]
    if rows and self._metric not in rows[0]:
      raise ValueError(f'--plateau_metric={self._metric}: {self._file} has no such column '
                       f'(it has {", ".join(rows[0])})')
    return sorted(rows, key=lambda row: int(row['global_step']))

  def update(self, session):
    """Takes the evaluations written since the last call into account."""
    state = session.run(self._state)
    rows = self._new_rows(int(state['last_step']))
    if not rows:
      return state['rate']
    for row in rows:
      value = float(row[self._metric])
      # Lower is better for a loss; higher for accuracies.
      score = -value if 'loss' in self._metric else value
      if score > state['best'] + self._min_delta:
        state['best'], state['bad_evaluations'] = score, 0
      else:
        state['bad_evaluations'] += 1
      if state['bad_evaluations'] >= self._patience:
        lowered = max(state['rate'] / self._factor, self._min_rate)
        logging.info('%s has not improved for %d evaluations (step %s): learning rate '
                     '%.6g -> %.6g', self._metric, self._patience, row['global_step'],
                     state['rate'], lowered)
        state['rate'], state['bad_evaluations'] = lowered, 0
      state['last_step'] = int(row['global_step'])
    session.run(self._assign, {self._inputs[name]: value for name, value in state.items()})
    return state['rate']

  def after_run(self, run_context, run_values):
    self._steps += 1
    if self._steps % self._every == 0:
      self.update(run_context.session)


def schedule_hooks(schedule, train_dir, check_every_n_steps):
  """Session hooks the learning-rate schedule `schedule` needs (the plateau's metric
  reader, looking for new evaluations every `check_every_n_steps` steps)."""
  if schedule.learning_rate_decay_type != 'plateau':
    return []
  return [PlateauHook(schedule, train_dir, check_every_n_steps)]


def configure_optimizer(learning_rate, optimizer_config):
  """The `tf.compat.v1.train` optimizer named by `--optimizer`, with its flags (the fields
  of the `config.OptimizerConfig` `optimizer_config`).

  Raises:
    ValueError: the optimizer name is unknown.
  """
  name = optimizer_config.optimizer
  if name == 'adadelta':
    return tf1.train.AdadeltaOptimizer(learning_rate, rho=optimizer_config.adadelta_rho,
                                       epsilon=optimizer_config.opt_epsilon)
  if name == 'adagrad':
    return tf1.train.AdagradOptimizer(
        learning_rate,
        initial_accumulator_value=optimizer_config.adagrad_initial_accumulator_value)
  if name == 'adam':
    return tf1.train.AdamOptimizer(learning_rate, beta1=optimizer_config.adam_beta1,
                                   beta2=optimizer_config.adam_beta2,
                                   epsilon=optimizer_config.opt_epsilon)
  if name == 'ftrl':
    return tf1.train.FtrlOptimizer(
        learning_rate, learning_rate_power=optimizer_config.ftrl_learning_rate_power,
        initial_accumulator_value=optimizer_config.ftrl_initial_accumulator_value,
        l1_regularization_strength=optimizer_config.ftrl_l1,
        l2_regularization_strength=optimizer_config.ftrl_l2)
  if name == 'momentum':
    return tf1.train.MomentumOptimizer(learning_rate, momentum=optimizer_config.momentum,
                                       name='Momentum')
  if name == 'rmsprop':
    return tf1.train.RMSPropOptimizer(learning_rate, decay=optimizer_config.rmsprop_decay,
                                      momentum=optimizer_config.rmsprop_momentum,
                                      epsilon=optimizer_config.opt_epsilon)
  if name == 'sgd':
    return tf1.train.GradientDescentOptimizer(learning_rate)
  raise ValueError(f'--optimizer={name!r} is not one of {", ".join(OPTIMIZERS)}')
