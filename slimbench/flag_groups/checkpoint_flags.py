"""Checkpoint flags: which weights to read, their moving averages, and fine-tuning."""

from absl import flags


def define_checkpoint_flags(fv, purpose, checkpoint_path=None, with_moving_average=False,
                            with_fine_tuning=False):
  """Defines --checkpoint_path and the flags asked for on `fv`; returns their names.

  Args:
    fv: the `flags.FlagValues` to define them on.
    purpose: the first sentence of --checkpoint_path's help: what this script does with it.
    checkpoint_path: its default (TF-Slim's evaluation reads /tmp/tfmodel/).
    with_moving_average: define --moving_average_decay (training and evaluation).
    with_fine_tuning: define the flags that choose what is restored and trained.
  """
  before = set(fv)
  flags.DEFINE_string('checkpoint_path', checkpoint_path, f'{purpose} A checkpoint (the '
                      'prefix of its files), or a folder whose latest checkpoint is taken.',
                      flag_values=fv)
  if with_moving_average:
    flags.DEFINE_float('moving_average_decay', None, 'Decay of the exponential moving '
                       'average of the model variables: training keeps it in the '
                       'checkpoints, evaluation evaluates the averages instead of the '
                       'variables; unset for none.', flag_values=fv)
  if with_fine_tuning:
    flags.DEFINE_string('checkpoint_exclude_scopes', None, 'Comma-separated variable scopes '
                        'not restored from --checkpoint_path.', flag_values=fv)
    flags.DEFINE_string('trainable_scopes', None, 'Comma-separated variable scopes to train; '
                        'unset trains all.', flag_values=fv)
    flags.DEFINE_boolean('ignore_missing_vars', False, 'Skip variables that the checkpoint '
                         'lacks instead of failing.', flag_values=fv)
  return sorted(set(fv) - before)
