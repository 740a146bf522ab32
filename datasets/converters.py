"""The converters of download_and_convert_data.py, by `--dataset_name`; no TensorFlow.

Usage:
  from . import converters
  converters.list_converters()        # ['cifar10', 'cifar100', 'flowers', ...]
  info = converters.get_spec('mnist5k').convert('/tmp/mnist5k')
"""

import difflib

# Importing a converter module registers it.
from . import convert_cifar  # pylint: disable=unused-import
from . import convert_fashion_mnist  # pylint: disable=unused-import
from . import convert_flowers  # pylint: disable=unused-import
from . import convert_image_folder  # pylint: disable=unused-import
from . import convert_imagenet  # pylint: disable=unused-import
from . import convert_mnist  # pylint: disable=unused-import
from . import convert_mnist5k  # pylint: disable=unused-import
from . import registry


def list_converters():
  return sorted(registry.registered_datasets())


def get_spec(name):
  """The `registry.DatasetSpec` of `name`.

  Raises:
    ValueError: `name` is not a built-in dataset; the message lists them.
  """
  specs = registry.registered_datasets()
  if name not in specs:
    close = difflib.get_close_matches(name, specs, n=3)
    hint = f' (did you mean {", ".join(close)}?)' if close else ''
    raise ValueError(f'unknown dataset {name!r}{hint}; known: {", ".join(sorted(specs))}')
  return specs[name]
