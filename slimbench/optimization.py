"""Optimizers and learning-rate schedules named by TF-Slim's training flags.

`configure_learning_rate` and `configure_optimizer` read the flag values of
`train_flags.define_optimization_flags` (any object with those attributes).
"""

import tensorflow as tf

tf1 = tf.compat.v1

OPTIMIZERS = ('adadelta', 'adagrad', 'adam', 'ftrl', 'momentum', 'sgd', 'rmsprop')
DECAY_TYPES = ('exponential', 'fixed', 'polynomial')


def steps_per_epoch(num_samples_per_epoch, flag_values):
  """Optimizer steps per epoch of this worker's data at the global batch size."""
  global_batch = flag_values.batch_size * flag_values.num_clones
  if flag_values.sync_replicas:
    global_batch *= flag_values.replicas_to_aggregate
  return max(1.0, num_samples_per_epoch / global_batch)


def configure_learning_rate(num_samples_per_epoch, global_step, flag_values):
  """The learning rate tensor of `--learning_rate_decay_type`, after `--warmup_epochs`.

  Raises:
    ValueError: the decay type is unknown.
  """
  epoch_steps = steps_per_epoch(num_samples_per_epoch, flag_values)
  decay_steps = max(1, int(epoch_steps * flag_values.num_epochs_per_decay))
  decay_type = flag_values.learning_rate_decay_type
  step = tf.cast(global_step, tf.int64)
  warmup_steps = int(epoch_steps * flag_values.warmup_epochs)
  # The schedule starts after the warm-up, so a warm-up does not eat into it.
  schedule_step = tf.maximum(step - warmup_steps, 0)
  if decay_type == 'exponential':
    rate = tf1.train.exponential_decay(
        flag_values.learning_rate, schedule_step, decay_steps,
        flag_values.learning_rate_decay_factor, staircase=True)
  elif decay_type == 'fixed':
    rate = tf.constant(flag_values.learning_rate, tf.float32)
  elif decay_type == 'polynomial':
    rate = tf1.train.polynomial_decay(
        flag_values.learning_rate, schedule_step, decay_steps,
        flag_values.end_learning_rate, power=1.0, cycle=False)
  else:
    raise ValueError(f'--learning_rate_decay_type={decay_type!r} is not one of '
                     f'{", ".join(DECAY_TYPES)}')
  if warmup_steps > 0:
    warmup = flag_values.learning_rate * tf.cast(step + 1, tf.float32) / warmup_steps
    rate = tf1.where(step < warmup_steps, warmup, rate)
  return tf.identity(rate, name='learning_rate')


def configure_optimizer(learning_rate, flag_values):
  """The `tf.compat.v1.train` optimizer named by `--optimizer`, with its flags.

  Raises:
    ValueError: the optimizer name is unknown.
  """
  name = flag_values.optimizer
  if name == 'adadelta':
    return tf1.train.AdadeltaOptimizer(learning_rate, rho=flag_values.adadelta_rho,
                                       epsilon=flag_values.opt_epsilon)
  if name == 'adagrad':
    return tf1.train.AdagradOptimizer(
        learning_rate,
        initial_accumulator_value=flag_values.adagrad_initial_accumulator_value)
  if name == 'adam':
    return tf1.train.AdamOptimizer(learning_rate, beta1=flag_values.adam_beta1,
                                   beta2=flag_values.adam_beta2,
                                   epsilon=flag_values.opt_epsilon)
  if name == 'ftrl':
    return tf1.train.FtrlOptimizer(
        learning_rate, learning_rate_power=flag_values.ftrl_learning_rate_power,
        initial_accumulator_value=flag_values.ftrl_initial_accumulator_value,
        l1_regularization_strength=flag_values.ftrl_l1,
        l2_regularization_strength=flag_values.ftrl_l2)
  if name == 'momentum':
    return tf1.train.MomentumOptimizer(learning_rate, momentum=flag_values.momentum,
                                       name='Momentum')
  if name == 'rmsprop':
    return tf1.train.RMSPropOptimizer(learning_rate, decay=flag_values.rmsprop_decay,
                                      momentum=flag_values.rmsprop_momentum,
                                      epsilon=flag_values.opt_epsilon)
  if name == 'sgd':
    return tf1.train.GradientDescentOptimizer(learning_rate)
  raise ValueError(f'--optimizer={name!r} is not one of {", ".join(OPTIMIZERS)}')
