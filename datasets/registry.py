"""Registration of the built-in datasets: each converter registers itself with its facts.

A converter module registers its `convert` function next to its definition:

    @registry.register('cifar10', num_classes=10, splits=('train', 'test'), channels=3,
                       tfslim_files={'train': 'cifar10_train.tfrecord', ...},
                       tfslim_sizes={'train': 50000, 'test': 10000}, ...)
    def convert(dataset_dir, source_dir=None, ...):
      ...

`converters` imports the converter modules; `dataset_factory` reads the facts to find
datasets converted by TF-Slim's own scripts (its file names, known sizes and names).
"""

import dataclasses
import inspect
from typing import Callable, Optional


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """What is known about a built-in dataset before it is converted.

  Attributes:
    name: `--dataset_name`.
    convert: `convert(dataset_dir, source_dir=None, ..., **options) -> dataset_info`.
    splits: split names the converter writes.
    num_classes: classes (None when they come from the source, e.g. image_folder).
    channels: channels of the images (1 or 3).
    description: one line for --help and error messages.
    options: the keyword options `convert` takes besides dataset_dir.
    tfslim_files: split -> glob of the files TF-Slim's own converter wrote, or None.
    tfslim_sizes: split -> number of records in those files.
    tfslim_class_names: class names when TF-Slim's files come without labels.txt.
    tfslim_background: TF-Slim's files use label 0 for background (ImageNet).
    tfslim_bboxes: TF-Slim's files carry bounding boxes (ImageNet).
  """
  name: str
  convert: Callable
  splits: tuple
  num_classes: Optional[int]
  channels: int
  description: str
  options: tuple
  tfslim_files: Optional[dict] = None
  tfslim_sizes: Optional[dict] = None
  tfslim_class_names: Optional[tuple] = None
  tfslim_background: bool = False
  tfslim_bboxes: bool = False


_DATASETS = {}


def register(name, *, splits, num_classes, channels, description, tfslim_files=None,
             tfslim_sizes=None, tfslim_class_names=None, tfslim_background=False,
             tfslim_bboxes=False):
  """Returns a decorator that registers a converter under `name`.

  Raises:
    ValueError: `name` is registered already.
  """
  def decorator(convert):
    if name in _DATASETS:
      raise ValueError(f'dataset {name!r} is registered twice '
                       f'({_DATASETS[name].convert.__module__} and {convert.__module__})')
    options = tuple(p for p in inspect.signature(convert).parameters if p != 'dataset_dir')
    _DATASETS[name] = DatasetSpec(
        name=name, convert=convert, splits=tuple(splits), num_classes=num_classes,
        channels=channels, description=description, options=options,
        tfslim_files=tfslim_files, tfslim_sizes=tfslim_sizes,
        tfslim_class_names=tuple(tfslim_class_names) if tfslim_class_names else None,
        tfslim_background=tfslim_background, tfslim_bboxes=tfslim_bboxes)
    return convert
  return decorator


def registered_datasets():
  """name -> DatasetSpec of every registered dataset."""
  return dict(_DATASETS)
