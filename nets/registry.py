"""Registration of network builders and the metadata record of each model.

Every registered model is a plain function named as the model and decorated with
`register` where it is defined; its body calls the family's shared builder with the
variant's row of the family's table, as TF-Slim's `resnet_v1_50` calls `resnet_v1` with its
blocks. VGG-16 in nets/vgg.py:

    @registry.register('vgg_16', arg_scope=vgg_arg_scope, default_image_size=224,
                       preprocessing='vgg', num_classes=1000, logits_scope='vgg_16/fc8',
                       paper=PAPER)
    def vgg_16(inputs, num_classes=1000, is_training=True, dropout_keep_prob=0.5,
               spatial_squeeze=True, reuse=None, scope='vgg_16', fc_conv_padding='VALID',
               global_pool=False):
      return vgg(inputs, BLOCKS['vgg_16'], num_classes, is_training, dropout_keep_prob,
                 spatial_squeeze, reuse, scope, 'vgg_16', fc_conv_padding, global_pool)

(nets/vgg.py passes the fields its three variants share as one dict, `**_REGISTRY_FIELDS`,
and gives each a docstring.) `nets_factory` imports the family modules and exposes the registry
through TF-Slim's `networks_map` / `arg_scopes_map` / `get_network_fn`.
"""

import dataclasses
from typing import Callable, Optional


@dataclasses.dataclass(frozen=True)
class ModelInfo:
  """What a user needs to know to train, fine-tune or evaluate a registered model.

  Attributes:
    name: registry name (`--model_name`).
    builder: `fn(images, num_classes, is_training, **kwargs) -> (logits, end_points)`.
    arg_scope: `fn(weight_decay=...) -> arg_scope` holding the family's layer defaults.
    default_image_size: side of the square input the published checkpoint was trained on.
    preprocessing: name in `preprocessing_factory` that the published checkpoint expects.
    num_classes: classes of the published checkpoint (1001 means class 0 is background).
    logits_scope: variable scope of the classifier; the natural
      `--checkpoint_exclude_scopes` when fine-tuning on another label set.
    aux_logits_scope: variable scope of the auxiliary classifier, or None.
    paper: the paper the definition follows.
    min_image_size: smallest square input the default build accepts.
    input_channels: channels of the published checkpoint's input (1 for MNIST's LeNet).
    num_frames: frames per clip of a video model's published checkpoint; None for an image
      model. A video model takes [batch, num_frames, height, width, channels].
  """
  name: str
  builder: Callable
  arg_scope: Callable
  default_image_size: int
  preprocessing: str
  num_classes: int
  logits_scope: str
  aux_logits_scope: Optional[str]
  paper: str
  min_image_size: int
  input_channels: int = 3
  num_frames: Optional[int] = None

  @property
  def is_video_model(self):
    """Whether the model takes clips [batch, frames, height, width, channels]."""
    return self.num_frames is not None

  @property
  def checkpoint_exclude_scopes(self):
    """Scopes to leave out when restoring a published checkpoint for a new label set."""
    scopes = [self.logits_scope]
    if self.aux_logits_scope:
      scopes.append(self.aux_logits_scope)
    return ','.join(scopes)


_MODELS = {}


def register(name, *, arg_scope, default_image_size, preprocessing, num_classes,
             logits_scope, paper, aux_logits_scope=None, min_image_size=None,
             input_channels=3, num_frames=None):
  """Returns a decorator that registers `builder` under `name`.

  The decorator also sets TF-Slim's `builder.default_image_size` and our
  `builder.min_image_size` (the default size unless given), so that code written for
  TF-Slim finds them where it looks.

  Raises:
    ValueError: `name` is registered already.
  """
  def decorator(builder):
    if name in _MODELS:
      raise ValueError(f'model {name!r} is registered twice '
                       f'({_MODELS[name].builder.__module__} and {builder.__module__})')
    builder.default_image_size = default_image_size
    builder.min_image_size = min_image_size or default_image_size
    _MODELS[name] = ModelInfo(
        name=name, builder=builder, arg_scope=arg_scope,
        default_image_size=default_image_size, preprocessing=preprocessing,
        num_classes=num_classes, logits_scope=logits_scope,
        aux_logits_scope=aux_logits_scope, paper=paper,
        min_image_size=builder.min_image_size, input_channels=input_channels,
        num_frames=num_frames)
    return builder
  return decorator


def registered_models():
  """The registry: name -> ModelInfo, in registration order."""
  return dict(_MODELS)
