"""The preprocessing registry: a preprocessing or model name to a preprocessing function.

A model's name resolves, when `get_preprocessing` is called, to the preprocessing its
published checkpoint was trained with (`nets_factory.model_info(name).preprocessing`), so
every registered model has one and a new family needs no entry here.

Usage:
  from . import preprocessing_factory
  preprocess = preprocessing_factory.get_preprocessing('inception_v3', is_training=True)
  image = preprocess(image, 299, 299)          # inside a tf.data map
  preprocessing_factory.resolve('vgg_16')        # 'vgg'
"""

import importlib

import tensorflow as tf

from . import alexnet_preprocessing
from . import cifarnet_preprocessing
from . import inception_preprocessing
from . import lenet_preprocessing
from . import vgg_preprocessing

# The networks' registry is a sibling package: top-level `nets` in a source checkout,
# `slimbench.nets` once installed.
nets_factory = importlib.import_module(
    __package__.rpartition('.')[0] + '.nets.nets_factory' if '.' in __package__
    else 'nets.nets_factory')

preprocessing_fn_map = {
    'alexnet': alexnet_preprocessing,
    'cifarnet': cifarnet_preprocessing,
    'inception': inception_preprocessing,
    'lenet': lenet_preprocessing,
    'vgg': vgg_preprocessing,
}


def list_preprocessing():
  """The preprocessing names, sorted."""
  return sorted(preprocessing_fn_map)


def resolve(name):
  """The preprocessing name that `name` (a preprocessing or registered model) stands for.

  Raises:
    ValueError: `name` is neither, or its model asks for a preprocessing that is unknown.
  """
  if name in preprocessing_fn_map:
    return name
  try:
    info = nets_factory.model_info(name)
  except ValueError:
    raise ValueError(
        f'Preprocessing name unknown: {name!r}; give one of '
        f'{", ".join(list_preprocessing())} or a registered model name '
        f'(nets_factory.list_models())') from None
  if info.preprocessing not in preprocessing_fn_map:
    raise ValueError(f'model {name!r} is registered with preprocessing '
                     f'{info.preprocessing!r}, which is not one of '
                     f'{", ".join(list_preprocessing())}')
  return info.preprocessing


def get_preprocessing(name, is_training=False, use_grayscale=False):
  """Returns `preprocessing_fn(image, output_height, output_width, **kwargs)`.

  Args:
    name: a preprocessing name ('alexnet', 'cifarnet', 'inception', 'lenet', 'vgg') or a
      registered model name, which stands for the preprocessing of its checkpoint.
    is_training: augment for training, or prepare deterministically for evaluation.
    use_grayscale: return one channel; otherwise three ('lenet' keeps the input's).

  Returns:
    preprocessing_fn: preprocesses one image [height, width, 1 or 3] of any dtype
      (integers scaled by their maximum, floats in [0, 1]) to float32
      [output_height, output_width, channels]; keyword arguments go to the module's
      `preprocess_image`. It carries `preprocessing_name`.

  Raises:
    ValueError: the name is not recognized.
  """
  preprocessing_name = resolve(name)
  module = preprocessing_fn_map[preprocessing_name]
  if not isinstance(is_training, bool) or not isinstance(use_grayscale, bool):
    raise ValueError(f'get_preprocessing: is_training and use_grayscale must be Python '
                     f'bools, got {is_training!r} and {use_grayscale!r}')

  # The recipes are graph code already; AutoGraph, which tf.data applies to map
  # functions, would only re-trace them through its converter, several times slower.
  @tf.autograph.experimental.do_not_convert
  def preprocessing_fn(image, output_height, output_width, **kwargs):
    return module.preprocess_image(image, output_height, output_width,
                                   is_training=is_training, use_grayscale=use_grayscale,
                                   **kwargs)

  preprocessing_fn.preprocessing_name = preprocessing_name
  return preprocessing_fn
