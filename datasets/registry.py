"""Registration of the built-in datasets' converters, by the name of their table row.

A converter module registers its `convert` function next to its definition; the
dataset's facts (splits, classes, TF-Slim's file names) are its row in
`builtin_datasets.BUILTIN_DATASETS`, which the reader uses without importing converters:

    @registry.register('cifar10')
    def convert_cifar10(dataset_dir, source_dir=None, ...):
      ...

`converters` imports the converter modules.
"""

import dataclasses
import inspect
from typing import Callable

from . import builtin_datasets


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """A built-in dataset's converter.

  Attributes:
    name: `--dataset_name`.
    convert: `convert(dataset_dir, source_dir=None, ..., **options) -> dataset_info`.
    options: the keyword options `convert` takes besides dataset_dir.
    dataset: the dataset's `builtin_datasets.BuiltinDataset` row.
  """
  name: str
  convert: Callable
  options: tuple
  dataset: builtin_datasets.BuiltinDataset


_DATASETS = {}


def register(name):
  """Returns a decorator that registers a converter of the built-in dataset `name`.

  Raises:
    ValueError: `name` has no row in `builtin_datasets.BUILTIN_DATASETS`, or is
      registered already.
  """
  if name not in builtin_datasets.BUILTIN_DATASETS:
    raise ValueError(f'dataset {name!r} has no row in builtin_datasets.BUILTIN_DATASETS')

  def decorator(convert):
    if name in _DATASETS:
      raise ValueError(f'dataset {name!r} is registered twice '
                       f'({_DATASETS[name].convert.__module__} and {convert.__module__})')
    options = tuple(p for p in inspect.signature(convert).parameters if p != 'dataset_dir')
    _DATASETS[name] = DatasetSpec(name=name, convert=convert, options=options,
                                  dataset=builtin_datasets.BUILTIN_DATASETS[name])
    return convert
  return decorator


def registered_datasets():
  """name -> DatasetSpec of every registered dataset."""
  return dict(_DATASETS)
