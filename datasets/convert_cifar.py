"""CIFAR-10 and CIFAR-100: 50,000 train / 10,000 test colour images, 32x32.

Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009. The sources, in
order: an extracted folder given by --source_dir; the official archives in --dataset_dir
(`cifar-10-binary.tar.gz`, else `cifar-10-python.tar.gz`; `cifar-100-...` alike), checked
against their SHA-256 (--noverify_checksums: converted anyway, with a warning, and recorded
as not verified); else the binary archive is downloaded. The binary version is plain
bytes (label, then 1024 red, green and blue values); the python version's pickles go
through `archives.restricted_unpickle`, which builds nothing but containers and numeric
arrays. Both versions hold the same images in the same order.

Images are stored as lossless PNG with TF-Slim's keys. CIFAR-100's label is the fine label
(100 classes); the coarse one (20 superclasses) is kept as image/class/coarse_label and
its names in dataset_info.json.

Usage:
  python download_and_convert_data.py --dataset_name=cifar10 --dataset_dir=/tmp/cifar10
"""

import os

import numpy as np

from . import archives
from . import builtin_datasets
from . import conversion
from . import dataset_utils
from . import download
from . import registry

_URL = 'https://www.cs.toronto.edu/~kriz/'
IMAGE_SIZE = 32
_PIXELS = 3 * IMAGE_SIZE * IMAGE_SIZE

# Per dataset: archive files and their members. Binary first: it needs no unpickling.
VARIANTS = {
    'cifar10': {
        'binary': download.RemoteFile(
            'cifar-10-binary.tar.gz',
            'c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd', 170052171,
            (_URL + 'cifar-10-binary.tar.gz',)),
        'python': download.RemoteFile(
            'cifar-10-python.tar.gz',
            '6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce', 170498071,
            (_URL + 'cifar-10-python.tar.gz',)),
        'binary_folder': 'cifar-10-batches-bin',
        'python_folder': 'cifar-10-batches-py',
        'binary_members': {'train': [f'data_batch_{i}.bin' for i in range(1, 6)],
                           'test': ['test_batch.bin'], 'names': 'batches.meta.txt'},
        'python_members': {'train': [f'data_batch_{i}' for i in range(1, 6)],
                           'test': ['test_batch'], 'names': 'batches.meta'},
        'num_classes': 10,
    },
    'cifar100': {
        'binary': download.RemoteFile(
            'cifar-100-binary.tar.gz',
            '58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec', 168513733,
            (_URL + 'cifar-100-binary.tar.gz',)),
        'python': download.RemoteFile(
            'cifar-100-python.tar.gz',
            '85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7', 169001437,
            (_URL + 'cifar-100-python.tar.gz',)),
        'binary_folder': 'cifar-100-binary',
        'python_folder': 'cifar-100-python',
        'binary_members': {'train': ['train.bin'], 'test': ['test.bin'],
                           'names': 'fine_label_names.txt',
                           'coarse_names': 'coarse_label_names.txt'},
        'python_members': {'train': ['train'], 'test': ['test'], 'names': 'meta'},
        'num_classes': 100,
    },
}


def parse_binary(data, source_name, cifar100):
  """(pixels uint8 [N, 32, 32, 3], labels [N], coarse labels [N] or None) of a .bin batch."""
  record = _PIXELS + (2 if cifar100 else 1)
  if not data or len(data) % record:
    raise ValueError(f'{source_name}: {len(data)} bytes is not a whole number of '
                     f'{record}-byte CIFAR records (truncated?)')
  table = np.frombuffer(data, dtype=np.uint8).reshape(-1, record)
  pixels = table[:, -_PIXELS:].reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE).transpose(0, 2, 3, 1)
  if cifar100:
    return pixels, table[:, 1].astype(np.int64), table[:, 0].astype(np.int64)
  return pixels, table[:, 0].astype(np.int64), None


def parse_pickle(data, source_name, cifar100):
  """Like parse_binary, for a batch of the python version (restricted unpickling)."""
  batch = archives.restricted_unpickle(data, source_name)
  label_key = b'fine_labels' if cifar100 else b'labels'
  if not isinstance(batch, dict) or b'data' not in batch or label_key not in batch:
    raise ValueError(f'{source_name}: expected a dict with data and {label_key.decode()}')
  table = np.asarray(batch[b'data'])
  labels = np.asarray(batch[label_key], dtype=np.int64)
  if table.dtype != np.uint8 or table.ndim != 2 or table.shape[1] != _PIXELS or (
      len(labels) != len(table)):
    raise ValueError(f'{source_name}: data must be uint8 [N, {_PIXELS}] with N labels, got '
                     f'{table.dtype} {table.shape} and {len(labels)} labels')
  pixels = table.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE).transpose(0, 2, 3, 1)
  coarse = np.asarray(batch[b'coarse_labels'], dtype=np.int64) if cifar100 else None
  return pixels, labels, coarse


def _names_from_text(data):
  return [line.strip() for line in data.decode('utf-8').splitlines() if line.strip()]


def _names_from_meta(data, source_name, key):
  meta = archives.restricted_unpickle(data, source_name)
  names = meta.get(key) if isinstance(meta, dict) else None
  if not isinstance(names, list):
    raise ValueError(f'{source_name}: no {key.decode()} list')
  return [n.decode('utf-8') if isinstance(n, bytes) else str(n) for n in names]


def _find_source(name, dataset_dir, source_dir, verify_checksums):
  """('folder' | 'archive', 'binary' | 'python', path, download.LocalFile or None)."""
  variant = VARIANTS[name]
  if source_dir:
    for kind in ('binary', 'python'):
      folder = variant[f'{kind}_folder']
      for candidate in (os.path.join(source_dir, folder), source_dir):
        first = variant[f'{kind}_members']['test'][0]
        if os.path.isfile(os.path.join(candidate, first)):
          return 'folder', kind, candidate, None
    raise ValueError(f'{source_dir} holds neither {variant["binary_folder"]}/ nor '
                     f'{variant["python_folder"]}/ (or their files)')
  for kind in ('binary', 'python'):
    path = os.path.join(dataset_dir, variant[kind].filename)
    if os.path.exists(path):
      local = download.check(path, variant[kind], verify_checksums)
      return 'archive', kind, path, local
  local = download.fetch_file(variant['binary'], dataset_dir, verify_checksums)
  return 'archive', 'binary', local.path, local


def _read_members(location, kind, path, members):
  """Bytes of the wanted members, by base name, from the folder or the archive."""
  wanted = {m for key in ('train', 'test') for m in members[key]}
  wanted |= {members[k] for k in ('names', 'coarse_names') if k in members}
  if location == 'folder':
    found = {}
    for member in wanted:
      member_path = os.path.join(path, member)
      if os.path.isfile(member_path):
        with open(member_path, 'rb') as f:
          found[member] = f.read()
  else:
    found = dict((archives.member_basename(n), data) for n, data in
                 archives.iter_tar(path, lambda n: archives.member_basename(n) in wanted))
  missing = [m for key in ('train', 'test') for m in members[key] if m not in found]
  if missing:
    raise ValueError(f'{path}: missing {", ".join(missing)} ({kind} version)')
  return found


def _convert(name, dataset_dir, source_dir, overwrite, verify_checksums, num_workers,
             train_shards, validation_shards):
  variant = VARIANTS[name]
  cifar100 = name == 'cifar100'
  location, kind, path, archive = _find_source(name, dataset_dir, source_dir,
                                               verify_checksums)
  members = variant[f'{kind}_members']
  if archive:
    checksum = archive.sha256
  else:
    # Extracted batches have no published checksum: the conversion records them unverified.
    checksum = {m: dataset_utils.sha256_of(os.path.join(path, m))
                for key in ('train', 'test') for m in members[key]}
  job = conversion.Conversion(dataset_dir, name, name, overwrite=overwrite,
                              fingerprint={'source': checksum, 'kind': kind,
                                           'shards': [train_shards, validation_shards]})
  if job.complete:
    return job.info
  found = _read_members(location, kind, path, members)
  parse = parse_binary if kind == 'binary' else parse_pickle
  num_classes = variant['num_classes']
  splits = []
  for split_name, shards in (('train', train_shards), ('test', validation_shards)):
    items = []
    for member in members[split_name]:
      source_name = f'{path}:{member}' if location == 'archive' else os.path.join(path, member)
      pixels, labels, coarse = parse(found[member], source_name, cifar100)
      if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f'{source_name}: labels outside 0..{num_classes - 1}')
      for i in range(len(labels)):
        extra = {'image/class/coarse_label': int(coarse[i])} if cifar100 else {}
        items.append((pixels[i], int(labels[i]), extra))
    # PNG keeps CIFAR's photos at about 90% of their raw pixels.
    split_bytes = len(items) * _PIXELS * 9 // 10
    splits.append(conversion.Split(split_name, items, shards or
                                   conversion.auto_num_shards(len(items), split_bytes)))

  names_member = members['names']
  if names_member in found:
    source_name = f'{path}:{names_member}'
    names = (_names_from_text(found[names_member]) if kind == 'binary' else
             _names_from_meta(found[names_member], source_name,
                              b'fine_label_names' if cifar100 else b'label_names'))
  else:
    names = list(builtin_datasets.CIFAR10_CLASS_NAMES) if not cifar100 else []
  if len(names) != num_classes:
    names = [str(i) for i in range(num_classes)]
  extra_info = {}
  if cifar100:
    if kind == 'binary' and members['coarse_names'] in found:
      extra_info['coarse_class_names'] = _names_from_text(found[members['coarse_names']])
    elif kind == 'python' and names_member in found:
      extra_info['coarse_class_names'] = _names_from_meta(
          found[names_member], f'{path}:{names_member}', b'coarse_label_names')
  source = {'path': path, 'version': kind, 'sha256': checksum,
            'url': variant[kind].urls[0] if location == 'archive' else None}
  extra_info['checksums_verified'] = bool(archive and archive.official)
  return job.write(splits, conversion.encode_pixels,
                   labels_to_names=dict(enumerate(names)), channels=3, source=source,
                   num_workers=num_workers,
                   estimated_bytes=sum(len(s.items) for s in splits) * _PIXELS,
                   extra_info=extra_info)


@registry.register('cifar10')
def convert_cifar10(dataset_dir, source_dir=None, overwrite=False, verify_checksums=True,
                    num_workers=1, train_shards=0, validation_shards=0):
  """Converts CIFAR-10 into `dataset_dir`; returns the dataset_info dict.

  Args:
    dataset_dir: output folder; the official archives found there are used.
    source_dir: an extracted cifar-10-batches-bin/ or cifar-10-batches-py/ (or its parent).
    overwrite: replace a dataset converted from other sources in dataset_dir.
    verify_checksums: refuse an archive in dataset_dir that is not the published one;
      False converts it with a warning, recorded in dataset_info.json.
    num_workers: conversion processes.
    train_shards: shards of train (0: one per 64 MB).
    validation_shards: shards of test (0: one per 64 MB).
  """
  return _convert('cifar10', dataset_dir, source_dir, overwrite, verify_checksums,
                  num_workers, train_shards, validation_shards)


@registry.register('cifar100')
def convert_cifar100(dataset_dir, source_dir=None, overwrite=False, verify_checksums=True,
                     num_workers=1, train_shards=0, validation_shards=0):
  """Converts CIFAR-100 into `dataset_dir`; returns the dataset_info dict.

  Args:
    dataset_dir: output folder; the official archives found there are used.
    source_dir: an extracted cifar-100-binary/ or cifar-100-python/ (or its parent).
    overwrite: replace a dataset converted from other sources in dataset_dir.
    verify_checksums: refuse an archive in dataset_dir that is not the published one;
      False converts it with a warning, recorded in dataset_info.json.
    num_workers: conversion processes.
    train_shards: shards of train (0: one per 64 MB).
    validation_shards: shards of test (0: one per 64 MB).
  """
  return _convert('cifar100', dataset_dir, source_dir, overwrite, verify_checksums,
                  num_workers, train_shards, validation_shards)
