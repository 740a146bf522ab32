"""Flowers: TensorFlow's flower_photos, 3,670 JPEGs of 5 kinds, as TF-Slim splits them.

The photos come from --source_dir (an extracted flower_photos/ folder or its parent), else
from `flower_photos.tgz` in --dataset_dir (checked against its SHA-256), else a download.
The archive is extracted safely into a hidden folder that is removed after conversion.
As in TF-Slim, 350 photos chosen by a seeded shuffle form `validation` and the other 3,320
`train`, each in 5 shards named flowers_SPLIT_0000N-of-00005.tfrecord; the classes are the
sorted folder names (daisy, dandelion, roses, sunflowers, tulips). JPEG bytes are stored
as they are.

Usage:
  python download_and_convert_data.py --dataset_name=flowers --dataset_dir=/tmp/flowers
"""

import os
import shutil

import numpy as np

from . import archives
from . import conversion
from . import convert_image_folder
from . import download
from . import registry

ARCHIVE = download.RemoteFile(
    'flower_photos.tgz', '4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c',
    228813984,
    ('https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz',
     'http://download.tensorflow.org/example_images/flower_photos.tgz'))
FOLDER = 'flower_photos'
NUM_VALIDATION = 350
NUM_SHARDS = 5
SPLIT_SEED = 0
_EXTRACTED = '.flower_photos.extracted'


def _photos_folder(root):
  """root/flower_photos if it exists, else root."""
  nested = os.path.join(root, FOLDER)
  return nested if os.path.isdir(nested) else root


def split_photos(folder, num_validation=NUM_VALIDATION):
  """(train, validation) lists of (path, class name), and the class names."""
  classes = convert_image_folder.class_folders(folder)
  if not classes:
    raise ValueError(f'{folder} has no class folders; expected {FOLDER}/daisy/*.jpg ...')
  found, _ = convert_image_folder.images_by_class(folder, classes)
  photos = [(path, name) for name in classes for path in found[name]]
  if len(photos) <= num_validation:
    raise ValueError(f'{folder} has {len(photos)} photos; flowers needs more than the '
                     f'{num_validation} of its validation split')
  order = np.random.RandomState(SPLIT_SEED).permutation(len(photos))
  shuffled = [photos[i] for i in order]
  return shuffled[num_validation:], shuffled[:num_validation], classes


@registry.register('flowers')
def convert(dataset_dir, source_dir=None, overwrite=False, verify_checksums=True,
            num_workers=1, train_shards=0, validation_shards=0,
            num_validation=NUM_VALIDATION):
  """Converts flower_photos into `dataset_dir`; returns the dataset_info dict.

  Args:
    dataset_dir: output folder; flower_photos.tgz found there is used.
    source_dir: an extracted flower_photos/ folder (or its parent) to use instead.
    overwrite: replace a dataset converted from other sources in dataset_dir.
    verify_checksums: refuse a flower_photos.tgz in dataset_dir that is not the published
      one; False converts it with a warning, recorded in dataset_info.json.
    num_workers: conversion processes.
    train_shards: shards of train (0: TF-Slim's 5).
    validation_shards: shards of validation (0: TF-Slim's 5).
    num_validation: photos in validation (TF-Slim: 350).
  """
  extracted = None
  if source_dir:
    folder = _photos_folder(source_dir)
    source = {'source_dir': os.path.abspath(folder)}
    listing, _ = convert_image_folder.list_images(folder)
    identity = [(os.path.relpath(p, folder), os.path.getsize(p)) for p in listing]
  else:
    local = download.fetch_file(ARCHIVE, dataset_dir, verify_checksums)
    archive = local.path
    source = {'archive': archive, 'sha256': local.sha256, 'url': ARCHIVE.urls[0]}
    identity = local.sha256
  shards = [train_shards or NUM_SHARDS, validation_shards or NUM_SHARDS]
  job = conversion.Conversion(dataset_dir, 'flowers', 'flowers', overwrite=overwrite,
                              fingerprint={'source': identity, 'shards': shards,
                                           'num_validation': num_validation})
  if job.complete:
    return job.info
  if not source_dir:
    extracted = os.path.join(dataset_dir, _EXTRACTED)
    if not os.path.isdir(extracted):
      archives.safe_extract(archive, extracted)
    folder = _photos_folder(extracted)
  train, validation, classes = split_photos(folder, num_validation)
  labels = {name: index for index, name in enumerate(classes)}
  splits = [conversion.Split(split_name, [(path, labels[name], os.path.relpath(path, folder))
                                          for path, name in photos], num_shards)
            for split_name, photos, num_shards in (('train', train, shards[0]),
                                                   ('validation', validation, shards[1]))]
  num_bytes = sum(os.path.getsize(path) for path, _ in train + validation)
  info = job.write(splits, conversion.encode_image_file,
                   labels_to_names=dict(enumerate(classes)), channels=3, source=source,
                   num_workers=num_workers, estimated_bytes=num_bytes,
                   extra_info={'checksums_verified': not source_dir and local.official})
  if extracted:
    shutil.rmtree(extracted)
  return info
