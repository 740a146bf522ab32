"""Learning-rate flags of training: the schedule, its warm-up, and the plateau rule."""

from absl import flags

from slimbench import optimization


def define_learning_rate_flags(fv):
  """Defines the learning-rate flags on `fv`; returns their names."""
  before = set(fv)
  flags.DEFINE_enum('learning_rate_decay_type', 'exponential', optimization.DECAY_TYPES,
                    'How the learning rate decays (cosine: half a cosine down to '
                    '--end_learning_rate over --num_epochs_per_decay, then flat).',
                    flag_values=fv)
  flags.DEFINE_float('learning_rate', 0.01, 'Initial learning rate.', lower_bound=0.0,
                     flag_values=fv)
  flags.DEFINE_float('end_learning_rate', 0.0001, 'Final rate of polynomial decay, and the '
                     'floor of cosine decay.', lower_bound=0.0, flag_values=fv)
  flags.DEFINE_float('label_smoothing', 0.0, 'Label smoothing of the cross entropy.',
                     lower_bound=0.0, upper_bound=1.0, flag_values=fv)
  flags.DEFINE_float('learning_rate_decay_factor', 0.94, 'Learning rate decay factor.',
                     flag_values=fv)
  flags.DEFINE_float('num_epochs_per_decay', 2.0, 'Epochs between decays (exponential) or '
                     'until the end rate (polynomial, cosine: give the run\'s length after '
                     'the warm-up).', lower_bound=0.0, flag_values=fv)
  flags.DEFINE_float('warmup_epochs', 0.0, 'Epochs of linear warm-up from 0 to '
                     '--learning_rate before the decay schedule starts.', lower_bound=0.0,
                     flag_values=fv)
  flags.DEFINE_list('piecewise_boundaries_epochs', [], 'piecewise: epochs at which the rate '
                    'changes, increasing (e.g. 30,60,80).', flag_values=fv)
  flags.DEFINE_list('piecewise_learning_rates', [], 'piecewise: the rates before, between '
                    'and after the boundaries (one more than boundaries).', flag_values=fv)
  flags.DEFINE_string('plateau_metric_file', None, 'plateau: the CSV an evaluator writes '
                      '(eval_image_classifier.py --wait_for_checkpoints); by default '
                      'train_dir/eval/eval_results.csv.', flag_values=fv)
  flags.DEFINE_string('plateau_metric', 'accuracy', 'plateau: the column watched; higher '
                      'is better, except for a loss.', flag_values=fv)
  flags.DEFINE_integer('plateau_patience', 2, 'plateau: evaluations without improvement '
                       'before the rate is divided.', lower_bound=1, flag_values=fv)
  flags.DEFINE_float('plateau_factor', 10.0, 'plateau: what the rate is divided by.',
                     lower_bound=1.0, flag_values=fv)
  flags.DEFINE_float('plateau_min_delta', 0.0, 'plateau: the least change that counts as '
                     'an improvement.', lower_bound=0.0, flag_values=fv)
  flags.DEFINE_float('plateau_min_learning_rate', 0.0, 'plateau: the rate never goes '
                     'below this.', lower_bound=0.0, flag_values=fv)
  return sorted(set(fv) - before)
