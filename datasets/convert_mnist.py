"""MNIST from its four idx files: 60,000 train / 10,000 test digits, 28x28 grayscale.

LeCun et al., "Gradient-based learning applied to document recognition", Proc. IEEE 1998.
The files are taken from --source_dir (gzipped or not: an extracted copy, which MNIST has
no published checksum for), else from --dataset_dir under their official names (checked
against the published archives' SHA-256), else downloaded from Google's mirror
(yann.lecun.com refuses downloads now). Images are stored as lossless 28x28x1 PNG with
TF-Slim's keys; labels.txt names the classes as TF-Slim does ('zero' .. 'nine').

`convert_idx` serves every dataset in MNIST's four-file idx layout (Fashion-MNIST too).
A dataset whose decompressed idx content has published checksums is checked by those, so
a re-compressed copy passes and a damaged one does not; with --noverify_checksums, files
in the format under the official names convert whatever their bytes, with a warning,
and dataset_info.json says they were not verified. Format checks are never skipped.

Usage:
  python download_and_convert_data.py --dataset_name=mnist --dataset_dir=/tmp/mnist
"""

import dataclasses
import gzip
import hashlib
import os
import zlib
from typing import Optional

from absl import logging
import numpy as np

from . import builtin_datasets
from . import conversion
from . import dataset_utils
from . import download
from . import registry

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
_IMAGES_MAGIC = 2051
_LABELS_MAGIC = 2049


@dataclasses.dataclass(frozen=True)
class IdxFile:
  """One of the four files: the published .gz and, where known, its decompressed content.

  Attributes:
    remote: the published archive (its name, the SHA-256 and size of its bytes, URLs).
    content_sha256: SHA-256 of the decompressed idx bytes, or None when not published:
      then a file in --dataset_dir is checked by the archive's own bytes.
  """
  remote: download.RemoteFile
  content_sha256: Optional[str] = None


def _read_maybe_gzipped(path):
  try:
    with open(path, 'rb') as f:
      data = f.read()
    return gzip.decompress(data) if data[:2] == b'\x1f\x8b' else data
  except (OSError, EOFError, zlib.error) as e:
    raise ValueError(f'{path}: truncated or corrupt file ({e})') from None


def parse_idx(data, path, expected_magic):
  """The array in idx bytes: images uint8 [N, rows, cols, 1] or labels int64 [N].

  Raises:
    ValueError: naming `path`, when `data` is not an idx file of that kind.
  """
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


def read_idx(path, expected_magic):
  """The array in an idx file (gzipped or not); see `parse_idx`."""
  return parse_idx(_read_maybe_gzipped(path), path, expected_magic)


def _find_in_source(source_dir, filename):
  for name in (filename, filename[:-len('.gz')]):
    path = os.path.join(source_dir, name)
    if os.path.isfile(path):
      return path
  raise ValueError(f'{source_dir} has neither {filename} nor {filename[:-3]}')


@dataclasses.dataclass
class _Source:
  """A file to convert: its idx bytes, the SHA-256 that identifies it (of the content
  where the content's is published, else of the file) and whether it is the published one."""
  path: str
  content: bytes
  sha256: str
  official: bool


def _load_source(idx_file, dataset_dir, source_dir, verify_checksums):
  """The `_Source` of one of the four files, found, downloaded if missing, and checked.

  Raises:
    download.ChecksumError: the file is not the published one and `verify_checksums`.
    ValueError: the file is missing from source_dir, or not gzip/idx bytes.
  """
  remote = idx_file.remote
  archive = None
  if source_dir:
    path = _find_in_source(source_dir, remote.filename)
  else:
    path = os.path.join(dataset_dir, remote.filename)
    # A copy on disk is judged by its content when the content's checksum is known: a
    # re-compressed archive holds the same images.
    if not (idx_file.content_sha256 and os.path.exists(path)):
      archive = download.fetch_file(remote, dataset_dir, verify_checksums)
  content = _read_maybe_gzipped(path)
  if idx_file.content_sha256:
    sha256 = hashlib.sha256(content).hexdigest()
    official = sha256 == idx_file.content_sha256
    if not official:
      difference = (f'holds idx content ({len(content)} bytes decompressed) with SHA-256 '
                    f'{sha256}, expected {idx_file.content_sha256}')
      if verify_checksums:
        raise download.ChecksumError(f'{path} {difference}: a damaged or different file; '
                                     f'{download.UNVERIFIED_HINT}')
      download.unverified_warning(path, difference)
  elif archive:
    sha256, official = archive.sha256, archive.official
  else:
    logging.info('%s: no published checksum for an extracted copy; converting it '
                 'unverified', path)
    sha256, official = dataset_utils.sha256_of(path), False
  return _Source(path, content, sha256, official)


def _load_split(images, labels, num_classes):
  pixels = parse_idx(images.content, images.path, _IMAGES_MAGIC)
  label_array = parse_idx(labels.content, labels.path, _LABELS_MAGIC)
  if len(pixels) != len(label_array):
    raise ValueError(f'{images.path} has {len(pixels)} images but {labels.path} has '
                     f'{len(label_array)} labels')
  if label_array.size and label_array.max() >= num_classes:
    raise ValueError(f'{labels.path}: labels must be 0..{num_classes - 1}, found '
                     f'{label_array.max()}')
  return pixels, label_array


def convert_idx(name, files, class_names, dataset_dir, source_dir=None, overwrite=False,
                verify_checksums=True, train_shards=0, validation_shards=0):
  """Converts a dataset in MNIST's four-file idx layout; returns the dataset_info dict.

  Args:
    name: the dataset's name.
    files: 'train_images', 'train_labels', 'test_images', 'test_labels' -> `IdxFile`.
    class_names: names of labels 0, 1, ...
    dataset_dir, source_dir, overwrite, verify_checksums, train_shards,
      validation_shards: as `convert`'s.
  """
  sources = {key: _load_source(idx_file, dataset_dir, source_dir, verify_checksums)
             for key, idx_file in files.items()}
  job = conversion.Conversion(
      dataset_dir, name, name, overwrite=overwrite,
      fingerprint={'sha256': {key: source.sha256 for key, source in sources.items()},
                   'shards': [train_shards, validation_shards]})
  if job.complete:
    return job.info
  splits, num_bytes = [], 0
  for split_name, shards in (('train', train_shards), ('test', validation_shards)):
    pixels, labels = _load_split(sources[f'{split_name}_images'],
                                 sources[f'{split_name}_labels'], len(class_names))
    # Only picks the record writer: PNG keeps about a third of MNIST's pixels and 85% of
    # Fashion-MNIST's; either way a split fits in one 64 MB shard.
    split_bytes = pixels.nbytes // 3
    num_bytes += split_bytes
    items = [(pixels[i], int(labels[i])) for i in range(len(labels))]
    splits.append(conversion.Split(split_name, items, shards or conversion.auto_num_shards(
        len(items), split_bytes)))
  source = {}
  for key, item in sources.items():
    entry = {'path': os.path.abspath(item.path), 'url': files[key].remote.urls[0],
             'verified': item.official}
    entry['content_sha256' if files[key].content_sha256 else 'sha256'] = item.sha256
    source[os.path.basename(item.path)] = entry
  verified = all(item.official for item in sources.values())
  return job.write(splits, conversion.encode_pixels,
                   labels_to_names=dict(enumerate(class_names)), channels=1,
                   source=source, estimated_bytes=num_bytes,
                   extra_info={'checksums_verified': verified})


@registry.register('mnist')
def convert(dataset_dir, source_dir=None, overwrite=False, verify_checksums=True,
            train_shards=0, validation_shards=0):
  """Converts MNIST into `dataset_dir`; returns the dataset_info dict.

  Args:
    dataset_dir: output folder; the official .gz files found there are used.
    source_dir: a folder with the four idx files (gzipped or not) to use instead.
    overwrite: replace a dataset converted from other sources in dataset_dir.
    verify_checksums: refuse files in dataset_dir that are not the published ones;
      False converts them with a warning, recorded in dataset_info.json.
    train_shards: shards of train (0: one per 64 MB).
    validation_shards: shards of test (0: one per 64 MB).
  """
  return convert_idx('mnist', {key: IdxFile(remote) for key, remote in FILES.items()},
                     builtin_datasets.MNIST_CLASS_NAMES, dataset_dir, source_dir, overwrite,
                     verify_checksums, train_shards, validation_shards)
