"""ImageNet (ILSVRC2012) from the files a user has, into TF-Slim's 1001-class TFRecords.

Russakovsky et al., "ImageNet Large Scale Visual Recognition Challenge", IJCV 2015.
ImageNet cannot be downloaded without an account, so the converter looks for the files in
--source_dir, then in --dataset_dir:

  train       ILSVRC2012_img_train.tar (a tar of one tar per synset; read in place, nothing
              is extracted) or an extracted ILSVRC2012_img_train/ or train/ folder of
              synset folders (n01440764/n01440764_10026.JPEG ...);
  validation  ILSVRC2012_img_val.tar or an ILSVRC2012_img_val/, val/ or validation/ folder,
              either flat (ILSVRC2012_val_00000001.JPEG ...) with ground-truth labels from
              imagenet_2012_validation_synset_labels.txt (TF-Slim's: one synset per line,
              in file-name order) or LOC_val_solution.csv (Kaggle's), or in synset folders;
  names       synset -> human-readable text from imagenet_metadata.txt (TF-Slim's),
              synset_words.txt or LOC_synset_mapping.txt; else the synset id is the text;
  boxes       optional: imagenet_2012_bounding_boxes.csv (TF-Slim's process_bounding_boxes.py
              output: file,xmin,ymin,xmax,ymax in [0, 1]) and/or LOC_train_solution.csv /
              LOC_val_solution.csv (Kaggle's, in pixels).

Labels: the sorted synsets get 1..1000 and 0 is the background class, as the published
TF-Slim checkpoints expect (num_classes = 1001). Models with 1000 outputs (VGG, ResNet v1
from Caffe) are trained and evaluated with --labels_offset=1. Records carry TF-Slim's keys
(image/class/synset, image/class/text, image/object/bbox/*, image/filename ...). Images
are JPEG as TF-Slim's readers expect: the CMYK JPEGs and the PNG files named .JPEG in
ILSVRC2012 are re-encoded to RGB JPEG; the others are stored as they are. Train is
shuffled (seed 12345, as TF-Slim's build script) into 1024 shards, validation into 128
(fewer for a subset: about 64 MB each).

Usage:
  python download_and_convert_data.py --dataset_name=imagenet \\
      --source_dir=/data/ILSVRC2012 --dataset_dir=/data/imagenet-tfrecord --num_workers=16
"""

import csv
import os
import re

import numpy as np

from . import archives
from . import conversion
from . import dataset_utils
from . import images
from . import registry

TRAIN_ARCHIVE = 'ILSVRC2012_img_train.tar'
VALIDATION_ARCHIVE = 'ILSVRC2012_img_val.tar'
TRAIN_FOLDERS = ('ILSVRC2012_img_train', 'train')
VALIDATION_FOLDERS = ('ILSVRC2012_img_val', 'val', 'validation')
VALIDATION_LABEL_FILES = ('imagenet_2012_validation_synset_labels.txt', 'LOC_val_solution.csv')
NAME_FILES = ('imagenet_metadata.txt', 'synset_words.txt', 'LOC_synset_mapping.txt')
BBOX_FILES = ('imagenet_2012_bounding_boxes.csv', 'LOC_train_solution.csv',
              'LOC_val_solution.csv')
TRAIN_SHARDS = 1024
VALIDATION_SHARDS = 128
SHUFFLE_SEED = 12345
_SYNSET = re.compile(r'^n\d{8}$')


def _roots(dataset_dir, source_dir):
  return [d for d in (source_dir, dataset_dir) if d]


def _find_file(roots, names):
  for root in roots:
    for name in names:
      path = os.path.join(root, name)
      if os.path.isfile(path):
        return path
  return None


def _find_folder(roots, names):
  for root in roots:
    for name in names:
      path = os.path.join(root, name)
      if os.path.isdir(path):
        return path
  return None


def _synset_folders(folder):
  return sorted(entry.name for entry in os.scandir(folder)
                if entry.is_dir() and _SYNSET.match(entry.name))


def _image_files(folder):
  return sorted(name for name in os.listdir(folder)
                if not name.startswith('.') and name.lower().endswith(images.IMAGE_EXTENSIONS))


# An entry is (ref, synset or None, file name); ref is ('file', path) or
# ('range', archive path, offset, size, display name).

def _train_entries(roots):
  """(entries, description) of the train images, or (None, None)."""
  archive = _find_file(roots, (TRAIN_ARCHIVE,))
  if archive:
    outer = archives.index_tar(archive)
    nested = archives.index_nested_tars(archive, outer)
    entries = []
    for member in sorted(nested):
      synset = archives.member_basename(member)[:-len('.tar')]
      if not _SYNSET.match(synset):
        raise ValueError(f'{archive}: member {member!r} is not a synset tar (n########.tar)')
      for name, (offset, size) in sorted(nested[member].items()):
        filename = archives.member_basename(name)
        entries.append((('range', archive, offset, size, f'{archive}:{member}:{name}'),
                        synset, filename))
    return entries, {'archive': archive, 'bytes': os.path.getsize(archive),
                     'mtime_ns': os.stat(archive).st_mtime_ns}
  folder = _find_folder(roots, TRAIN_FOLDERS)
  if folder:
    synsets = _synset_folders(folder)
    if not synsets:
      raise ValueError(f'{folder} has no synset folders (n01440764/ ...)')
    entries = []
    for synset in synsets:
      names = _image_files(os.path.join(folder, synset))
      if not names:
        raise ValueError(f'class folder {os.path.join(folder, synset)} has no images')
      entries += [(('file', os.path.join(folder, synset, name)), synset, name) for name in names]
    return entries, {'folder': folder}
  return None, None


def _validation_images(roots):
  """(entries with synset None for flat images, description), or (None, None)."""
  archive = _find_file(roots, (VALIDATION_ARCHIVE,))
  if archive:
    index = archives.index_tar(archive)
    entries = [(('range', archive, offset, size, f'{archive}:{name}'), None,
                archives.member_basename(name))
               for name, (offset, size) in sorted(index.items())
               if name.lower().endswith(images.IMAGE_EXTENSIONS)]
    return entries, {'archive': archive, 'bytes': os.path.getsize(archive),
                     'mtime_ns': os.stat(archive).st_mtime_ns}
  folder = _find_folder(roots, VALIDATION_FOLDERS)
  if folder:
    synsets = _synset_folders(folder)
    if synsets:
      entries = [(('file', os.path.join(folder, s, n)), s, n) for s in synsets
                 for n in _image_files(os.path.join(folder, s))]
    else:
      entries = [(('file', os.path.join(folder, n)), None, n) for n in _image_files(folder)]
    if not entries:
      raise ValueError(f'{folder} has no validation images')
    return entries, {'folder': folder}
  return None, None


def read_validation_labels(path):
  """File stem -> synset from TF-Slim's labels file or Kaggle's LOC_val_solution.csv."""
  labels = {}
  with open(path, encoding='utf-8') as f:
    if path.endswith('.csv'):
      for row in csv.reader(f):
        if len(row) < 2 or row[0] == 'ImageId':
          continue
        tokens = row[1].split()
        if not tokens or not _SYNSET.match(tokens[0]):
          raise ValueError(f'{path}: row {row[0]!r} has no synset')
        labels[row[0]] = tokens[0]
    else:
      for number, line in enumerate(f, start=1):
        synset = line.strip()
        if not synset:
          continue
        if not _SYNSET.match(synset):
          raise ValueError(f'{path}:{number}: {synset!r} is not a synset id (n########)')
        labels[f'ILSVRC2012_val_{number:08d}'] = synset
  return labels


def read_synset_names(path):
  """Synset -> human-readable text ('n01440764 tench, Tinca tinca' per line)."""
  names = {}
  if not path:
    return names
  with open(path, encoding='utf-8') as f:
    for line in f:
      parts = line.strip().split(None, 1)
      if parts and _SYNSET.match(parts[0]):
        names[parts[0]] = parts[1].strip() if len(parts) > 1 else parts[0]
  return names


def read_bounding_boxes(paths):
  """File stem -> [(xmin, ymin, xmax, ymax, normalized)], from any of BBOX_FILES."""
  boxes = {}
  for path in paths:
    with open(path, encoding='utf-8') as f:
      for number, row in enumerate(csv.reader(f), start=1):
        if not row or row[0] in ('ImageId',):
          continue
        try:
          if os.path.basename(path).startswith('LOC_'):
            tokens = row[1].split()
            for i in range(0, len(tokens) - 4, 5):
              box = tuple(float(v) for v in tokens[i + 1:i + 5])
              boxes.setdefault(row[0], []).append(box + (False,))
          else:
            stem = os.path.splitext(row[0])[0]
            box = tuple(float(v) for v in row[1:5])
            boxes.setdefault(stem, []).append(box + (True,))
        except (ValueError, IndexError):
          raise ValueError(f'{path}:{number}: expected a file name and 4 box coordinates, '
                           f'got {row!r}') from None
  return boxes


def _read_ref(ref):
  if ref[0] == 'file':
    try:
      with open(ref[1], 'rb') as f:
        return f.read(), ref[1]
    except OSError as e:
      raise ValueError(f'{ref[1]}: cannot read ({e.strerror})') from None
  _, archive, offset, size, display = ref
  return archives.read_range(archive, offset, size), display


def encode(item):
  """Features of one ImageNet image, with TF-Slim's build_imagenet_data keys."""
  ref, label, synset, text, filename, boxes = item
  data, display = _read_ref(ref)
  image = images.prepare_image(data, display, jpeg_only=True)
  columns = ([], [], [], [])
  for xmin, ymin, xmax, ymax, normalized in boxes:
    if not normalized:
      xmin, xmax = xmin / image.width, xmax / image.width
      ymin, ymax = ymin / image.height, ymax / image.height
    xmin, ymin, xmax, ymax = (min(max(v, 0.0), 1.0) for v in (xmin, ymin, xmax, ymax))
    if xmax > xmin and ymax > ymin:
      for column, value in zip(columns, (xmin, ymin, xmax, ymax)):
        column.append(value)
  return {
      'image/height': image.height,
      'image/width': image.width,
      'image/colorspace': b'RGB',
      'image/channels': 3,
      'image/class/label': label,
      'image/class/synset': synset.encode(),
      'image/class/text': text.encode('utf-8'),
      'image/object/bbox/xmin': columns[0],
      'image/object/bbox/ymin': columns[1],
      'image/object/bbox/xmax': columns[2],
      'image/object/bbox/ymax': columns[3],
      'image/object/bbox/label': [label] * len(columns[0]),
      'image/format': b'JPEG',
      'image/filename': filename.encode('utf-8'),
      'image/encoded': image.encoded,
  }


def _entry_bytes(entry):
  ref = entry[0]
  return ref[3] if ref[0] == 'range' else os.path.getsize(ref[1])


@registry.register('imagenet')
def convert(dataset_dir, source_dir=None, overwrite=False, num_workers=1, train_shards=0,
            validation_shards=0):
  """Converts the ILSVRC2012 files found (see the module docstring); returns dataset_info.

  Args:
    dataset_dir: output folder; the ILSVRC2012 files found there are used.
    source_dir: where the ILSVRC2012 files are, if not in dataset_dir.
    overwrite: replace a dataset converted from other sources in dataset_dir.
    num_workers: conversion processes.
    train_shards: shards of train (0: 1024 for the full set, else one per 64 MB).
    validation_shards: shards of validation (0: 128 for the full set, else one per 64 MB).
  """
  roots = _roots(dataset_dir, source_dir)
  train, train_source = _train_entries(roots)
  validation, validation_source = _validation_images(roots)
  if train is None and validation is None:
    raise ValueError(f'no ImageNet images in {" or ".join(roots)}: place {TRAIN_ARCHIVE} and/or '
                     f'{VALIDATION_ARCHIVE} (with {VALIDATION_LABEL_FILES[0]}) there, or the '
                     f'extracted {TRAIN_FOLDERS[0]}/ and {VALIDATION_FOLDERS[0]}/ folders; '
                     'ImageNet needs an account at image-net.org, so nothing is downloaded')
  labels_file = _find_file(roots, VALIDATION_LABEL_FILES)
  names_file = _find_file(roots, NAME_FILES)
  bbox_files = [p for p in (_find_file(roots, (n,)) for n in BBOX_FILES) if p]

  if validation is not None and any(synset is None for _, synset, _ in validation):
    if not labels_file:
      raise ValueError(f'the flat validation images need their labels: place '
                       f'{" or ".join(VALIDATION_LABEL_FILES)} in {" or ".join(roots)}')
    truth = read_validation_labels(labels_file)
    missing = [n for _, _, n in validation if os.path.splitext(n)[0] not in truth]
    if missing:
      raise ValueError(f'{labels_file} has no label for {missing[0]} ({len(missing)} '
                       'validation images unlabelled)')
    validation = [(ref, truth[os.path.splitext(n)[0]], n) for ref, _, n in validation]

  synsets = sorted({s for _, s, _ in (train if train is not None else validation)})
  labels = {synset: index + 1 for index, synset in enumerate(synsets)}
  if validation is not None:
    unknown = sorted({s for _, s, _ in validation} - set(labels))
    if unknown:
      raise ValueError(f'validation images of synsets not in train: {", ".join(unknown[:5])}')

  job = conversion.Conversion(dataset_dir, 'imagenet', 'imagenet', overwrite=overwrite,
                              fingerprint={
                                  'train': train_source, 'validation': validation_source,
                                  'train_files': None if train is None or 'archive' in
                                  train_source else [(e[2], _entry_bytes(e)) for e in train],
                                  'validation_files': None if validation is None else
                                  [(e[2], e[1]) for e in validation],
                                  'names': names_file and dataset_utils.sha256_of(names_file),
                                  'boxes': [dataset_utils.sha256_of(p) for p in bbox_files],
                                  'shards': [train_shards, validation_shards]})
  if job.complete:
    return job.info

  names = read_synset_names(names_file)
  boxes = read_bounding_boxes(bbox_files)
  splits, total_bytes = [], 0
  rng = np.random.RandomState(SHUFFLE_SEED)
  for split_name, entries, shards, full_shards, full_size in (
      ('train', train, train_shards, TRAIN_SHARDS, 1_000_000),
      ('validation', validation, validation_shards, VALIDATION_SHARDS, 50_000)):
    if entries is None:
      continue
    items = [(ref, labels[synset], synset, names.get(synset, synset), filename,
              boxes.get(os.path.splitext(filename)[0], []))
             for ref, synset, filename in entries]
    if split_name == 'train':
      items = [items[i] for i in rng.permutation(len(items))]
    split_bytes = sum(_entry_bytes(e) for e in entries)
    total_bytes += split_bytes
    if not shards:
      shards = (full_shards if len(items) >= full_size else
                conversion.auto_num_shards(len(items), split_bytes))
    splits.append(conversion.Split(split_name, items, shards))

  labels_to_names = {0: 'background'}
  labels_to_names.update({labels[s]: names.get(s, s) for s in synsets})
  source = {'train': train_source, 'validation': validation_source,
            'validation_labels': labels_file, 'synset_names': names_file,
            'bounding_boxes': bbox_files}
  info = job.write(splits, encode, labels_to_names=labels_to_names, channels=3,
                   source=source, num_workers=num_workers, estimated_bytes=total_bytes,
                   extra_info={'background_class': True, 'synsets': ['background'] + synsets,
                               'labels_offset_for_1000_classes': 1})
  return info
