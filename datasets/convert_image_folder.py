"""image_folder: any folder of class sub-folders of images (cats vs dogs, your own photos).

Two layouts are understood:
  SOURCE/train/CLASS/*.jpg, SOURCE/validation/CLASS/*.jpg (or val/), SOURCE/test/CLASS/...
      the splits as given;
  SOURCE/CLASS/*.jpg
      split per class by --validation_fraction with a seeded permutation (stratified), so
      every class keeps its share in validation.
Class folders are searched recursively for .jpg/.jpeg/.png/.bmp/.gif/.tif/.webp files
(other files are skipped and counted in dataset_info.json). Labels follow the sorted class
folder names, 0..N-1. JPEG and 8-bit PNG bytes are stored as they are; CMYK JPEGs and other
formats are re-encoded (see `images.prepare_image`). Every image is decoded once before
any shard is written: unreadable ones are an error that lists them all, or, with
--skip_bad_images, are left out and listed in dataset_info.json. Fewer than two classes
is an error. Readers decode to 3 channels when any image is in colour, so grayscale and
colour images mix freely, and to 1 when all are gray.

The converted dataset is named after the source folder (or --output_name); read it with
`get_dataset(<that name> or 'image_folder', split, dataset_dir)`.

Usage:
  python download_and_convert_data.py --dataset_name=image_folder \\
      --source_dir=~/data/PetImages --dataset_dir=/tmp/pets --validation_fraction=0.1
"""

import multiprocessing
import os
import re

from absl import logging
import numpy as np

from . import conversion
from . import images
from . import registry

SPLIT_FOLDERS = {'train': ('train',), 'validation': ('validation', 'val'), 'test': ('test',)}
DEFAULT_VALIDATION_FRACTION = 0.1
_NAME_PATTERN = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')


def class_folders(folder):
  return sorted(entry.name for entry in os.scandir(folder)
                if entry.is_dir() and not entry.name.startswith('.'))


def list_images(folder):
  """(image paths sorted, number of other files) under `folder`, recursively."""
  paths, skipped = [], 0
  for root, dirs, files in os.walk(folder):
    dirs[:] = sorted(d for d in dirs if not d.startswith('.'))
    for filename in files:
      if filename.startswith('.'):
        continue
      if filename.lower().endswith(images.IMAGE_EXTENSIONS):
        paths.append(os.path.join(root, filename))
      else:
        skipped += 1
  return sorted(paths), skipped


def images_by_class(folder, classes):
  """class -> sorted image paths; raises for an empty class folder."""
  found, skipped = {}, 0
  for name in classes:
    paths, other = list_images(os.path.join(folder, name))
    if not paths:
      raise ValueError(f'class folder {os.path.join(folder, name)} has no images (expected '
                       f'{", ".join(images.IMAGE_EXTENSIONS)} files)')
    found[name] = paths
    skipped += other
  return found, skipped


def _split_folders(source_dir):
  """split -> folder, when source_dir has train/ (and validation/ or val/, test/)."""
  present = set(class_folders(source_dir))
  if 'train' not in present:
    return None
  folders = {}
  for split, names in SPLIT_FOLDERS.items():
    matches = [n for n in names if n in present]
    if len(matches) > 1:
      raise ValueError(f'{source_dir} has both {" and ".join(matches)}/; keep one as the '
                       f'{split} split')
    if matches:
      folders[split] = os.path.join(source_dir, matches[0])
  return folders


def _check_two_classes(classes, folder):
  if len(classes) < 2:
    found = ', '.join(classes) or 'none'
    raise ValueError(f'{folder} has {len(classes)} class folder(s) ({found}); a classifier '
                     'needs at least two (expected CLASS/*.jpg folders side by side)')


def _check_image(path):
  """None if the file at `path` is a readable image, else why not (one line)."""
  try:
    with open(path, 'rb') as f:
      images.prepare_image(f.read(), path)
  except OSError as e:
    return f'{path}: cannot read ({e.strerror})'
  except ValueError as e:
    return str(e)
  return None


# Below this many images a worker pool costs more than it saves.
_PARALLEL_CHECK_MIN_IMAGES = 2000


def find_unreadable(paths, num_workers=1):
  """{path: why} for every file in `paths` that is not a readable image.

  Every image is decoded once here, before any shard is written, so that one run finds
  all the bad files (JPEGs are checked at 1/8 scale, which reads every coded block).
  """
  if num_workers > 1 and len(paths) >= _PARALLEL_CHECK_MIN_IMAGES:
    context = multiprocessing.get_context('spawn')
    with context.Pool(num_workers) as pool:
      errors = pool.map(_check_image, paths, chunksize=64)
  else:
    errors = [_check_image(path) for path in paths]
  return {path: error for path, error in zip(paths, errors) if error}


def _drop_unreadable(splits, source_dir, skip_bad_images, num_workers):
  """The splits without unreadable images, and [{'file', 'error'}] of those dropped.

  Raises:
    ValueError: listing every unreadable image, unless `skip_bad_images`; or a class
      left without images.
  """
  paths = [path for entries in splits.values() for path, _ in entries]
  unreadable = find_unreadable(paths, num_workers)
  if not unreadable:
    return splits, []
  if not skip_bad_images:
    raise ValueError(f'{len(unreadable)} unreadable image(s) under {source_dir}; fix or remove '
                     'them, or pass --skip_bad_images to convert the rest: ' +
                     '; '.join(unreadable[path] for path in sorted(unreadable)))
  for path in sorted(unreadable):
    logging.warning('skipping %s', unreadable[path])
  kept = {split: [(path, c) for path, c in entries if path not in unreadable]
          for split, entries in splits.items()}
  for split, entries in splits.items():
    emptied = sorted({c for _, c in entries} - {c for _, c in kept[split]})
    if emptied:
      raise ValueError(f'{split}: class(es) {", ".join(emptied)} have no readable image left '
                       f'after --skip_bad_images; {len(unreadable)} image(s) unreadable')
  skipped = [{'file': os.path.relpath(path, source_dir),
              'error': unreadable[path].replace(path + ': ', '', 1)}
             for path in sorted(unreadable)]
  return kept, skipped


def plan(source_dir, validation_fraction=None, seed=0):
  """The splits of `source_dir`: (split -> [(path, class name)], class names, skipped).

  Raises:
    ValueError: a missing or empty folder, an empty class, a bad fraction, or a fraction
      given for a folder that has its splits already.
  """
  if not source_dir or not os.path.isdir(source_dir):
    raise ValueError(f'image_folder needs --source_dir, a folder of class folders; got '
                     f'{source_dir!r}')
  folders = _split_folders(source_dir)
  if folders is not None:
    if validation_fraction is not None:
      raise ValueError(f'--validation_fraction splits a folder of class folders, but '
                       f'{source_dir} has its splits already ({", ".join(folders)})')
    classes = sorted({c for folder in folders.values() for c in class_folders(folder)})
    if not class_folders(folders['train']):
      raise ValueError(f'{folders["train"]} has no class folders')
    splits, skipped = {}, 0
    for split, folder in folders.items():
      found, other = images_by_class(folder, class_folders(folder))
      skipped += other
      splits[split] = [(path, name) for name in sorted(found) for path in found[name]]
    _check_two_classes(class_folders(folders['train']), folders['train'])
    return splits, classes, skipped

  fraction = DEFAULT_VALIDATION_FRACTION if validation_fraction is None else validation_fraction
  if not 0 <= fraction < 1:
    raise ValueError(f'validation_fraction must be in [0, 1), got {fraction}')
  classes = class_folders(source_dir)
  if not classes:
    raise ValueError(f'{source_dir} has no class folders (expected {source_dir}/CLASS/*.jpg '
                     'or train/ and validation/ folders)')
  _check_two_classes(classes, source_dir)
  found, skipped = images_by_class(source_dir, classes)
  train, validation = [], []
  rng = np.random.RandomState(seed)
  for name in classes:
    paths = found[name]
    order = rng.permutation(len(paths))
    num_validation = int(round(len(paths) * fraction))
    validation += [(paths[i], name) for i in sorted(order[:num_validation])]
    train += [(paths[i], name) for i in sorted(order[num_validation:])]
  splits = {'train': train}
  if validation:
    splits['validation'] = validation
  return splits, classes, skipped


@registry.register('image_folder')
def convert(dataset_dir, source_dir=None, overwrite=False, num_workers=1, train_shards=0,
            validation_shards=0, validation_fraction=None, seed=0, output_name=None,
            skip_bad_images=False):
  """Converts a folder of class folders into `dataset_dir`; returns the dataset_info dict.

  Args:
    dataset_dir: output folder.
    source_dir: the image folder (see the module docstring for its layouts).
    overwrite: replace a dataset converted from other sources in dataset_dir.
    num_workers: conversion processes.
    train_shards: shards of train (0: one per 64 MB).
    validation_shards: shards of validation and test (0: one per 64 MB).
    validation_fraction: share of each class put in validation (default 0.1), for a
      folder without train/ and validation/.
    seed: seed of that split and of the train order.
    output_name: the converted dataset's name; default the source folder's name.
    skip_bad_images: convert the readable images and list the others in
      dataset_info.json (source.skipped_images); without it, unreadable images are an
      error that lists every one of them, raised before any shard is written.
  """
  splits, classes, skipped = plan(source_dir, validation_fraction, seed)
  name = output_name or os.path.basename(os.path.normpath(os.path.abspath(source_dir)))
  if not _NAME_PATTERN.match(name):
    raise ValueError(f'dataset name {name!r} must be letters, digits, _ . - (set '
                     '--output_name)')
  labels = {class_name: index for index, class_name in enumerate(classes)}
  listing = {split: [(os.path.relpath(path, source_dir), os.path.getsize(path),
                      os.stat(path).st_mtime_ns, labels[c]) for path, c in entries]
             for split, entries in splits.items()}
  job = conversion.Conversion(
      dataset_dir, name, 'image_folder', overwrite=overwrite,
      fingerprint={'listing': listing, 'seed': seed, 'fraction': validation_fraction,
                   'shards': [train_shards, validation_shards],
                   'skip_bad_images': skip_bad_images})
  if job.complete:
    return job.info
  splits, skipped_images = _drop_unreadable(splits, source_dir, skip_bad_images, num_workers)

  rng = np.random.RandomState(seed)
  work, total_bytes = [], 0
  for split, entries in splits.items():
    items = [(path, labels[c], os.path.relpath(path, source_dir)) for path, c in entries]
    if split == 'train':
      # Shuffled once here so that every shard mixes the classes.
      items = [items[i] for i in rng.permutation(len(items))]
    split_bytes = sum(size for _, size, _, _ in listing[split])
    total_bytes += split_bytes
    shards = train_shards if split == 'train' else validation_shards
    work.append(conversion.Split(split, items, shards or
                                 conversion.auto_num_shards(len(items), split_bytes)))
  split_folders = _split_folders(source_dir)
  source = {'source_dir': os.path.abspath(source_dir), 'skipped_files': skipped,
            'layout': 'split folders' if split_folders else 'class folders', 'seed': seed,
            'skipped_images': skipped_images}
  if not split_folders:
    source['validation_fraction'] = (DEFAULT_VALIDATION_FRACTION if validation_fraction is None
                                     else validation_fraction)
  return job.write(work, conversion.encode_image_file,
                   labels_to_names=dict(enumerate(classes)), channels=None, source=source,
                   num_workers=num_workers, estimated_bytes=total_bytes)
