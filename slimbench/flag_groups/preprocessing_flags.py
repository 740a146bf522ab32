"""Preprocessing flags: how images are prepared for the network."""

from absl import flags


def define_preprocessing_flags(fv, with_name=True, with_threads=True, with_image_size=False):
  """Defines the preprocessing flags on `fv`; returns their names.

  Args:
    fv: the `flags.FlagValues` to define them on.
    with_name: define --preprocessing_name (export takes it from the checkpoint).
    with_threads: define --num_preprocessing_threads (scripts with an input pipeline).
    with_image_size: define --image_size (export and classify; training and evaluation
      keep TF-Slim's --train_image_size and --eval_image_size).
  """
  before = set(fv)
  if with_name:
    flags.DEFINE_string('preprocessing_name', None, 'Registered preprocessing; by default '
                        'the model\'s own, or with a checkpoint the one its training '
                        'folder\'s flags.txt records.', flag_values=fv)
  flags.DEFINE_boolean('use_grayscale', False, 'Give the network one-channel images. By '
                       'default training gives the dataset\'s channels, and evaluation, '
                       'export and classification the channels the checkpoint\'s first '
                       'convolution takes.', flag_values=fv)
  if with_image_size:
    flags.DEFINE_integer('image_size', None, 'Input side; by default the model\'s, or with '
                         'a checkpoint the one its training folder\'s flags.txt records.',
                         lower_bound=1, flag_values=fv)
  if with_threads:
    flags.DEFINE_integer('num_preprocessing_threads', 0,
                         'Examples decoded and preprocessed in parallel. 0 (the default): '
                         'the count that trained fastest on real JPEGs on this machine, '
                         'measured by its first training or benchmark run '
                         '(python -m slimbench.tune_runtime measures again).', lower_bound=0,
                         flag_values=fv)
  return sorted(set(fv) - before)
