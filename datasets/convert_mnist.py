"""MNIST from its four idx files: 60,000 train / 10,000 test digits, 28x28 grayscale.

LeCun et al., "Gradient-based learning applied to document recognition", Proc. IEEE 1998.
The files are taken from --source_dir (gzipped or not, no checksum: an extracted copy),
else from --dataset_dir under their official names (checked against their SHA-256), else
downloaded from Google's mirror (yann.lecun.com refuses downloads now). Images are stored
as lossless 28x28x1 PNG with TF-Slim's keys; labels.txt names the classes as TF-Slim does
('zero' .. 'nine').

Usage:
  python download_and_convert_data.py --dataset_name=mnist --dataset_dir=/tmp/mnist
"""

import gzip
import os
import zlib

import numpy as np

from datasets import conversion
from datasets import download
from datasets import registry

_MIRRORS = ('https://storage.googleapis.com/cvdf-datasets/mnist/',
            'https://ossci-datasets.s3.amazonaws.com/mnist/')


def _remote(filename, sha256, size):
  return download.RemoteFile(filename, sha256, size, tuple(m + filename for m in _MIRRORS))


FILES = {
    'train_images': _remote('train-images-idx3-ubyte.gz',
                            '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
                            9912422),
    'train_labels': _remote('train-labels-idx1-ubyte.gz',
                            '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
                            28881),
    'test_images': _remote('t10k-images-idx3-ubyte.gz',
                           '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
                           1648877),
    'test_labels': _remote('t10k-labels-idx1-ubyte.gz',
                           'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
                           4542),
}
CLASS_NAMES = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine')
_IMAGES_MAGIC = 2051
_LABELS_MAGIC = 2049


def _read_maybe_gzipped(path):
  try:
    with open(path, 'rb') as f:
      data = f.read()
    return gzip.decompress(data) if data[:2] == b'\x1f\x8b' else data
  except (OSError, EOFError, zlib.error) as e:
    raise ValueError(f'{path}: truncated or corrupt file ({e})') from None


def read_idx(path, expected_magic):
  """The array in an idx file: images uint8 [N, rows, cols, 1] or labels int64 [N]."""
  data = _read_maybe_gzipped(path)
  if len(data) < 8:
    raise ValueError(f'{path}: too short for an idx file')
  magic = int.from_bytes(data[:4], 'big')
  if magic != expected_magic:
    kind = 'images' if expected_magic == _IMAGES_MAGIC else 'labels'
    raise ValueError(f'{path}: not an idx {kind} file (magic {magic}, expected '
                     f'{expected_magic})')
  num_dims = data[3]
  header = 4 + 4 * num_dims
  dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(num_dims)]
  expected = header + int(np.prod(dims))
  if len(data) != expected:
    raise ValueError(f'{path}: {len(data)} bytes, expected {expected} for shape {dims} '
                     '(truncated?)')
  array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
  if expected_magic == _IMAGES_MAGIC:
    return array.reshape(dims + [1])
  return array.astype(np.int64)


def _find_in_source(source_dir, filename):
  for name in (filename, filename[:-len('.gz')]):
    path = os.path.join(source_dir, name)
    if os.path.isfile(path):
      return path
  raise ValueError(f'{source_dir} has neither {filename} nor {filename[:-3]}')


def _load_split(images_path, labels_path):
  pixels = read_idx(images_path, _IMAGES_MAGIC)
  labels = read_idx(labels_path, _LABELS_MAGIC)
  if len(pixels) != len(labels):
    raise ValueError(f'{images_path} has {len(pixels)} images but {labels_path} has '
                     f'{len(labels)} labels')
  if labels.size and labels.max() > 9:
    raise ValueError(f'{labels_path}: labels must be 0..9, found {labels.max()}')
  return pixels, labels


@registry.register('mnist', splits=('train', 'test'), num_classes=10, channels=1,
                   description='MNIST digits (idx files): 60,000 train / 10,000 test, 28x28',
                   tfslim_files={'train': 'mnist_train.tfrecord',
                                 'test': 'mnist_test.tfrecord'},
                   tfslim_sizes={'train': 60000, 'test': 10000},
                   tfslim_class_names=CLASS_NAMES)
def convert(dataset_dir, source_dir=None, overwrite=False, train_shards=0,
            validation_shards=0):
  """Converts MNIST into `dataset_dir`; returns the dataset_info dict.

  Args:
    dataset_dir: output folder; the official .gz files found there are used.
    source_dir: a folder with the four idx files (gzipped or not) to use instead.
    overwrite: replace a dataset converted from other sources in dataset_dir.
    train_shards: shards of train (0: one per 64 MB).
    validation_shards: shards of test (0: one per 64 MB).
  """
  if source_dir:
    paths = {key: _find_in_source(source_dir, remote.filename)
             for key, remote in FILES.items()}
    checksums = {key: download.sha256_of(path) for key, path in paths.items()}
  else:
    paths = {key: download.fetch(remote, dataset_dir) for key, remote in FILES.items()}
    checksums = {key: remote.sha256 for key, remote in FILES.items()}
  job = conversion.Conversion(
      dataset_dir, 'mnist', 'mnist', overwrite=overwrite,
      fingerprint={'sha256': checksums, 'shards': [train_shards, validation_shards]})
  if job.complete:
    return job.info
  splits, num_bytes = [], 0
  for split_name, prefix, shards in (('train', 'train', train_shards),
                                     ('test', 'test', validation_shards)):
    pixels, labels = _load_split(paths[f'{prefix}_images'], paths[f'{prefix}_labels'])
    # PNG compresses MNIST digits to about a third of their pixels.
    split_bytes = pixels.nbytes // 3
    num_bytes += split_bytes
    items = [(pixels[i], int(labels[i])) for i in range(len(labels))]
    splits.append(conversion.Split(split_name, items, shards or conversion.auto_num_shards(
        len(items), split_bytes)))
  source = {os.path.basename(paths[key]): {'sha256': checksums[key],
                                            'url': FILES[key].urls[0]} for key in FILES}
  return job.write(splits, conversion.encode_pixels,
                   labels_to_names=dict(enumerate(CLASS_NAMES)), channels=1,
                   source=source, estimated_bytes=num_bytes)
