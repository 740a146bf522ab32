"""Checks of a builder's inputs that fail with one line naming the net and what it expected."""

import numpy as np
import tensorflow as tf


def check_images(images, net_name, min_size=None, channels=(1, 3)):
  """Validates a batch of images before a net is built on it.

  Args:
    images: the input tensor.
    net_name: name used in the error message.
    min_size: smallest height and width the net accepts, or None.
    channels: channel counts the net accepts.

  Returns:
    `images` as a tensor.

  Raises:
    ValueError: one clear line saying what was expected.
  """
  images = tf.convert_to_tensor(images)
  shape = images.shape
  if shape.rank != 4:
    raise ValueError(f'{net_name}: images must be a 4-D batch [batch, height, width, '
                     f'channels], got shape {shape}')
  if shape[3] is None or shape[3] not in channels:
    expected = ' or '.join(str(c) for c in channels)
    raise ValueError(f'{net_name}: images must have {expected} channels, got shape {shape}')
  if min_size:
    for side, size in (('height', shape[1]), ('width', shape[2])):
      if size is not None and size < min_size:
        raise ValueError(f'{net_name}: image {side} {size} is too small; this net needs '
                         f'at least {min_size}x{min_size}')
  return images


def check_flag(value, name, net_name, allow_tensor=False):
  """Raises unless `value` is a bool (Python or numpy), or with `allow_tensor` a tensor.

  A TF-Slim call that passes arguments by position puts a scope name or a number into a
  flag when the order differs; truthiness would accept it silently.

  Raises:
    TypeError: one line naming the net, the argument and what it got.
  """
  if isinstance(value, (bool, np.bool_)) or (allow_tensor and tf.is_tensor(value)):
    return
  net_name = getattr(net_name, 'name', net_name)  # A VariableScope passed as `scope`.
  expected = 'True, False or a boolean tensor' if allow_tensor else 'True or False'
  raise TypeError(f'{net_name}: {name} must be {expected}, got {value!r} '
                  f'({type(value).__name__})')


def check_flags(net_name, **flags):
  """`check_flag` for each of a builder's boolean arguments, given by name."""
  for name, value in flags.items():
    check_flag(value, name, net_name)

