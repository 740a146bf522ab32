"""Optimizer flags of training: TF-Slim's names and defaults, plus clipping and batch norm."""

from absl import flags

from slimbench import optimization


def define_optimizer_flags(fv):
  """Defines the optimizer flags on `fv`; returns their names."""
  before = set(fv)
  flags.DEFINE_float('weight_decay', 0.00004, 'L2 weight decay of the model.',
                     lower_bound=0.0, flag_values=fv)
  flags.DEFINE_enum('optimizer', 'rmsprop', optimization.OPTIMIZERS, 'The optimizer.',
                    flag_values=fv)
  flags.DEFINE_float('adadelta_rho', 0.95, 'Decay rate of adadelta.', flag_values=fv)
  flags.DEFINE_float('adagrad_initial_accumulator_value', 0.1,
                     'Starting value of the AdaGrad accumulators.', flag_values=fv)
  flags.DEFINE_float('adam_beta1', 0.9, 'Decay of the first moment estimates.',
                     flag_values=fv)
  flags.DEFINE_float('adam_beta2', 0.999, 'Decay of the second moment estimates.',
                     flag_values=fv)
  flags.DEFINE_float('opt_epsilon', 1.0, 'Epsilon of adadelta, adam and rmsprop.',
                     flag_values=fv)
  flags.DEFINE_float('ftrl_learning_rate_power', -0.5, 'Learning rate power of FTRL.',
                     flag_values=fv)
  flags.DEFINE_float('ftrl_initial_accumulator_value', 0.1,
                     'Starting value of the FTRL accumulators.', flag_values=fv)
  flags.DEFINE_float('ftrl_l1', 0.0, 'FTRL L1 regularization strength.', flag_values=fv)
  flags.DEFINE_float('ftrl_l2', 0.0, 'FTRL L2 regularization strength.', flag_values=fv)
  flags.DEFINE_float('momentum', 0.9, 'Momentum of the momentum optimizer.', flag_values=fv)
  flags.DEFINE_float('rmsprop_momentum', 0.9, 'Momentum of RMSProp.', flag_values=fv)
  flags.DEFINE_float('rmsprop_decay', 0.9, 'Decay of RMSProp.', flag_values=fv)
  flags.DEFINE_float('clip_gradient_norm', 0.0, 'Rescale the gradients whenever their '
                     'global norm (over every trained variable, clones summed) exceeds this; '
                     '0 does not clip.', lower_bound=0.0, flag_values=fv)
  flags.DEFINE_float('batch_norm_decay', None, 'Decay of the batch-norm moving statistics; '
                     'by default the family\'s (0.997-0.9997, made for long ImageNet runs: '
                     'short runs want 0.9 or their evaluation sees unsettled statistics).',
                     lower_bound=0.0, upper_bound=1.0, flag_values=fv)
  flags.DEFINE_integer('quantize_delay', -1,
                       'TF-Slim\'s quantization-aware training delay. Its machinery '
                       '(tf.contrib.quantize) no longer exists: any value >= 0 is an error.',
                       flag_values=fv)
  flags.DEFINE_boolean('sync_replicas', False, 'Aggregate the replicas\' gradients '
                       'synchronously.', flag_values=fv)
  flags.DEFINE_integer('replicas_to_aggregate', 1, 'Gradients to aggregate per step with '
                       '--sync_replicas.', lower_bound=1, flag_values=fv)
  return sorted(set(fv) - before)
