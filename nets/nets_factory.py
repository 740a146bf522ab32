"""The network registry: model names to builders, with TF-Slim's interface.

Usage:
  from . import nets_factory
  network_fn = nets_factory.get_network_fn('vgg_16', num_classes=1000)
  logits, end_points = network_fn(images)   # images: [batch, 224, 224, 3]
  nets_factory.list_models('resnet_v1_*')
"""

import difflib
import fnmatch
import functools
import inspect

import tf_slim as slim

from . import gradients
from . import registry
# Importing a family module registers its builders.
from . import alexnet  # pylint: disable=unused-import
from . import cifarnet  # pylint: disable=unused-import
from . import i3d  # pylint: disable=unused-import
from . import inception  # pylint: disable=unused-import
from . import lenet  # pylint: disable=unused-import
from .mobilenet import mobilenet_v2  # pylint: disable=unused-import
from .mobilenet import mobilenet_v3  # pylint: disable=unused-import
from . import mobilenet_v1  # pylint: disable=unused-import
from .nasnet import nasnet  # pylint: disable=unused-import
from .nasnet import pnasnet  # pylint: disable=unused-import
from . import overfeat  # pylint: disable=unused-import
from . import resnet_v1  # pylint: disable=unused-import
from . import resnet_v2  # pylint: disable=unused-import
from . import s3dg  # pylint: disable=unused-import
from . import vgg  # pylint: disable=unused-import

_MODELS = registry.registered_models()

networks_map = {name: info.builder for name, info in _MODELS.items()}
arg_scopes_map = {name: info.arg_scope for name, info in _MODELS.items()}


def list_models(pattern='*'):
  """Sorted registered names that match the shell-style `pattern` (e.g. 'vgg_*')."""
  return sorted(name for name in _MODELS if fnmatch.fnmatchcase(name, pattern))


def model_info(name):
  """The `registry.ModelInfo` of `name`.

  Raises:
    ValueError: `name` is not registered; the message lists close matches.
  """
  if name not in _MODELS:
    close = difflib.get_close_matches(name, _MODELS, n=5, cutoff=0.5)
    hint = f'; did you mean {", ".join(close)}?' if close else ''
    raise ValueError(f'Name of network unknown: {name!r}{hint} '
                     f'(nets_factory.list_models() lists all {len(_MODELS)})')
  return _MODELS[name]


def input_shape(name, batch_size, image_size=None, num_frames=None, channels=None):
  """The input shape `name` takes: [batch, size, size, C], or for a video model
  [batch, frames, size, size, C]; sizes, frames and channels default to the registry's.

  Raises:
    ValueError: `num_frames` is given for an image model.
  """
  info = model_info(name)
  image_size = info.default_image_size if image_size is None else image_size
  channels = info.input_channels if channels is None else channels
  if not info.is_video_model:
    if num_frames is not None:
      raise ValueError(f'{name} is an image model: num_frames does not apply')
    return [batch_size, image_size, image_size, channels]
  num_frames = info.num_frames if num_frames is None else num_frames
  return [batch_size, num_frames, image_size, image_size, channels]


def _batch_norm_decay_argument(info):
  # The families name this argument as their original code did.
  parameters = inspect.signature(info.arg_scope).parameters
  return next((n for n in ('batch_norm_decay', 'bn_decay') if n in parameters), None)


def has_batch_norm(name):
  """Whether `name` uses batch normalization (so `batch_norm_decay` applies)."""
  return _batch_norm_decay_argument(model_info(name)) is not None


def _family_arg_scope(info, weight_decay, batch_norm_decay):
  kwargs = {'weight_decay': weight_decay}
  if batch_norm_decay is not None:
    name = _batch_norm_decay_argument(info)
    if name is None:
      raise ValueError(f'{info.name} has no batch normalization: batch_norm_decay does not '
                       f'apply')
    kwargs[name] = batch_norm_decay
  return info.arg_scope(**kwargs)


def get_network_fn(name, num_classes, weight_decay=0.0, is_training=False,
                   batch_norm_decay=None, conv_gradients='fast'):
  """Returns a network function such as `logits, end_points = network_fn(images)`.

  Args:
    name: the registered name of the network.
    num_classes: number of classes; 0 or None makes the function return the features
      before the logits.
    weight_decay: L2 regularization of the model's weights.
    is_training: build the training graph (dropout, batch statistics).
    batch_norm_decay: decay of the batch-norm moving statistics instead of the family's
      default; short runs need a lower one (0.9) for their moving statistics to settle.
    conv_gradients: how the convolutions' gradients are computed, as
      `gradients.conv_gradients` takes it: 'tensorflow', 'fast' (the fixed rule) or a
      chooser that measures (`slimbench.kernel_tuning.KernelChooser`).

  Returns:
    network_fn: `fn(images, **kwargs) -> (logits, end_points)` under the family's arg
      scope, its convolutions differentiated as `conv_gradients` says;
      it carries `default_image_size` and `num_frames` (None for an image model; a video
      model takes clips [batch, num_frames, height, width, channels]). Keyword arguments
      go to the builder.

  Raises:
    ValueError: the network name is not registered, or batch_norm_decay is given for a
      net without batch normalization.
  """
  info = model_info(name)
  arg_scope = _family_arg_scope(info, weight_decay, batch_norm_decay)

  @functools.wraps(info.builder)
  def network_fn(images, **kwargs):
    with slim.arg_scope(arg_scope), gradients.conv_gradients(conv_gradients):
      return info.builder(images, num_classes=num_classes, is_training=is_training, **kwargs)

  network_fn.default_image_size = info.default_image_size
  network_fn.num_frames = info.num_frames
  return network_fn
