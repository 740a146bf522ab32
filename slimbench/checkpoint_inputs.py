"""What a checkpoint and a converted dataset already say about a network's input.

A checkpoint fixes the channels of the images its network takes: the first convolution's
weights are [k, k, C, out] ([t, k, k, C, out] for a video model). Evaluation, export and
classification read C from there, so that a LeNet trained on MNIST needs no
--use_grayscale to be evaluated, exported or used; an explicit --use_grayscale that
contradicts the checkpoint fails in one line saying what differs.

The folder a checkpoint was trained in holds the training flags (flags.txt). Where they
name the same model, the preprocessing and image size that training used are the defaults
(`training_settings`): a network trained on 32x32 digits through LeNet's preprocessing is
evaluated as it was trained unless the flags say otherwise.

Which variable is the first convolution is learnt by building the network once on a
three-channel placeholder: the first variable created of rank 4 (5 for video) whose input
side is 3. Names are not guessed, so every registered family is covered.
"""

import functools
import os

from absl import logging
import tensorflow as tf

from slimbench.nets import nets_factory
from slimbench.preprocessing import preprocessing_factory
from slimbench import checkpoints

tf1 = tf.compat.v1

# The networks take 1 or 3 channels; variables are created in order, so the first with
# this input side is the one that sees the image.
_PROBE_CHANNELS = 3


class _Found(Exception):
  """Stops the probe build at the input convolution."""

  def __init__(self, name):
    super().__init__(name)
    self.name = name


@functools.lru_cache(maxsize=None)
def input_conv_variable(model_name):
  """Name of the variable of `model_name` whose shape holds the input channels, or None."""
  info = nets_factory.model_info(model_name)

  def stop_at_input_conv(next_creator, **kwargs):
    variable = next_creator(**kwargs)
    if variable.shape.rank in (4, 5) and variable.shape[-2] == _PROBE_CHANNELS:
      raise _Found(variable.op.name)
    return variable

  with tf.Graph().as_default():
    shape = nets_factory.input_shape(model_name, 1, info.min_image_size,
                                     channels=_PROBE_CHANNELS)
    images = tf1.placeholder(tf.float32, shape)
    # The build stops at the first convolution: a big network costs no more than a small.
    try:
      with tf1.variable_creator_scope(stop_at_input_conv):
        nets_factory.get_network_fn(model_name, num_classes=info.num_classes)(images)
    except _Found as found:
      return found.name
  return None


def checkpoint_channels(checkpoint, model_name):
  """Input channels of `model_name`'s network in `checkpoint`; None when the checkpoint
  lacks the input convolution (the restore then names what is missing)."""
  name = input_conv_variable(model_name)
  shapes = tf.train.load_checkpoint(checkpoint).get_variable_to_shape_map()
  if name is None or name not in shapes or len(shapes[name]) < 4:
    return None
  return int(shapes[name][-2])


_FLAGS_FILE = 'flags.txt'  # training.FLAGS_FILE (training imports far more than this needs)


def training_settings(checkpoint, model_name):
  """{'preprocessing_name': ..., 'train_image_size': int} as far as the flags.txt of the
  folder that trained `checkpoint` records them; {} when there is none, or it names
  another model. Training without --train_image_size trained at the model's size."""
  folder = os.path.dirname(checkpoint)
  if os.path.basename(folder) == checkpoints.BEST_DIR:  # a copy the evaluator kept
    folder = os.path.dirname(folder)
  try:
    with tf.io.gfile.GFile(os.path.join(folder, _FLAGS_FILE)) as f:
      lines = f.read().splitlines()
  except (tf.errors.OpError, OSError):
    return {}
  written = {}
  for line in lines:
    name, sep, value = line.strip().lstrip('-').partition('=')
    if sep:
      written[name] = value
  if written.get('model_name') != model_name:
    return {}
  settings = {}
  if written.get('preprocessing_name'):
    settings['preprocessing_name'] = written['preprocessing_name']
  if written.get('train_image_size', '').isdigit():
    settings['train_image_size'] = int(written['train_image_size'])
  else:
    settings['train_image_size'] = nets_factory.model_info(model_name).default_image_size
  return settings


def check_image_size(checkpoint, model_name, variables, image_size, settings, flag_name):
  """Fails in one line when a variable outside the logits has another shape in
  `checkpoint` and the checkpoint was trained at another image size: the layers after
  the last convolution (LeNet's fc3, for one) fit only the size they were trained on.

  Raises:
    ValueError: naming both sizes and the flag.
  """
  trained = settings.get('train_image_size')
  if not trained or trained == image_size:
    return
  logits_scope = nets_factory.model_info(model_name).logits_scope
  shapes = tf.train.load_checkpoint(checkpoint).get_variable_to_shape_map()
  for name, variable in variables.items():
    if (name in shapes and not name.startswith(logits_scope + '/') and
        list(shapes[name]) != variable.shape.as_list()):
      raise ValueError(
          f'checkpoint {checkpoint} was trained on {trained}x{trained} images (its folder\'s '
          f'{_FLAGS_FILE}) and its {name} fits only that size, the flags ask for '
          f'{image_size}x{image_size} (--{flag_name}={image_size})')


def default_from_training(flag_name, value, settings, key, checkpoint):
  """`value` if the user gave it, else the training run's `key` (logged), else None."""
  if value or key not in settings:
    return value
  logging.info('--%s=%s, as %s was trained (its folder\'s %s)', flag_name, settings[key],
               checkpoint, _FLAGS_FILE)
  return settings[key]


def preprocessed_channels(preprocessing_name, image_channels, use_grayscale):
  """Channels that `preprocessing_name` gives an image of `image_channels` (LeNet's keeps
  the image's, the others give 3, or 1 with use_grayscale)."""
  with tf.Graph().as_default():
    image = tf1.placeholder(tf.uint8, [None, None, image_channels])
    preprocess = preprocessing_factory.get_preprocessing(
        preprocessing_name, is_training=False, use_grayscale=use_grayscale)
    return int(preprocess(image, 32, 32).shape[-1])


def _plural(count):
  return f'{count} input channel' + ('' if count == 1 else 's')


def mismatch_message(source, count, asked, use_grayscale):
  """One line: `source` (e.g. 'checkpoint /tmp/lenet/model.ckpt-9') takes `count`
  channels where the flags give `asked`."""
  return (f'{source} has {_plural(count)}, the flags ask for {asked} '
          f'(--use_grayscale={str(use_grayscale).lower()})')


def choose_use_grayscale(checkpoint, checkpoint_count, use_grayscale, use_grayscale_given,
                         channels_given=lambda use_grayscale: 1 if use_grayscale else 3):
  """--use_grayscale for a network whose checkpoint takes `checkpoint_count` channels.

  Args:
    checkpoint: the checkpoint, for the message.
    checkpoint_count: its input channels, or None when unknown (`use_grayscale` is then
      kept).
    use_grayscale: the value of --use_grayscale.
    use_grayscale_given: whether the user gave --use_grayscale; if not, its other value
      is tried too.
    channels_given: fn(use_grayscale) -> channels the input pipeline then gives.

  Returns:
    (use_grayscale, expand): expand is True when the pipeline gives one channel (a
    grayscale dataset through a preprocessing that keeps it) and the network takes
    three: the channel is repeated, as decoding a grayscale image as RGB does.

  Raises:
    ValueError: the user's --use_grayscale contradicts the checkpoint (one line).
  """
  if checkpoint_count is None:
    return use_grayscale, False
  if checkpoint_count not in (1, 3):
    raise ValueError(f'checkpoint {checkpoint} has {_plural(checkpoint_count)}; images '
                     f'have 1 or 3')
  choices = [use_grayscale] if use_grayscale_given else [use_grayscale, not use_grayscale]
  for choice in choices:
    given = channels_given(choice)
    if given == checkpoint_count:
      return choice, False
    if given == 1 and checkpoint_count == 3 and not choice:
      return choice, True
  raise ValueError(mismatch_message(f'checkpoint {checkpoint}', checkpoint_count,
                                    channels_given(choices[0]), choices[0]))
