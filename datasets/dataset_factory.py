"""Readers of converted datasets: `get_dataset(name, split_name, dataset_dir)`.

A dataset is found, in this order:
  * `synthetic`: random images made in the pipeline (see `synthetic.py`);
  * a folder with a dataset_info.json (written by download_and_convert_data.py): `name`
    is the name recorded there or the converter that wrote it (e.g. 'image_folder'), or
    the folder itself; `dataset_dir/name/` is looked at too. No code change is needed to
    add a dataset;
  * files written by TF-Slim's own converters, under their names (mnist_train.tfrecord,
    cifar10_train.tfrecord, flowers_train_0000X-of-00005.tfrecord, ImageNet's
    train-00000-of-01024 ...), with their labels.txt when present.

`Dataset.read()` builds the tf.data pipeline: a parallel interleave over the shards,
sharding by worker, shuffling, repeating, and decoding with `tf.io.decode_image` in an
AUTOTUNE map. With shuffle=False the order is deterministic and every record comes
exactly once per epoch. Examples are unbatched dicts:
  'image' uint8 [H, W, C] (C as the dataset stores: 1 for MNIST, 3 for RGB),
  'label' int64 scalar,
  'bbox'  float32 [N, 4], (ymin, xmin, ymax, xmax) in [0, 1]; N may be 0.

Usage:
  from . import dataset_factory
  ds = dataset_factory.get_dataset('mnist5k', 'train', '/tmp/mnist5k')
  ds.num_samples, ds.num_classes, ds.labels_to_names
  examples = ds.read(shuffle=True, num_epochs=None, seed=1)
"""

import difflib
import glob
import os

import tensorflow as tf

from . import builtin_datasets
from . import dataset_utils
from . import synthetic
from . import tfrecords

SYNTHETIC = 'synthetic'
_REQUIRED_FEATURES = {'image/encoded': 'bytes_list', 'image/class/label': 'int64_list'}
_BBOX_KEYS = ('ymin', 'xmin', 'ymax', 'xmax')
# Above this, TF-Slim's files are not counted record by record: their known sizes are used.
_COUNT_LIMIT_BYTES = 2 << 30


class Dataset:
  """One split of a converted dataset.

  Attributes:
    name: the dataset's name.
    split_name: the split.
    data_sources: the TFRecord files, in order.
    num_samples: records in the split (in `data_sources`).
    num_classes: labels are in [0, num_classes).
    labels_to_names: dict int label -> class name.
    channels: channels of the decoded images.
    has_bboxes: records may carry bounding boxes.
    has_background_class: label 0 is ImageNet's background class (1001 classes); train
      1000-class models with labels_offset=1.
    dataset_dir: the folder, or None.
    info: the dataset_info.json dict (None for TF-Slim's files).
    items_to_descriptions: TF-Slim's description of each example item.
  """

  def __init__(self, *, name, split_name, data_sources, num_samples, num_classes,
               labels_to_names, channels, has_bboxes=False, has_background_class=False,
               dataset_dir=None, info=None):
    self.name = name
    self.split_name = split_name
    self.data_sources = list(data_sources)
    self.num_samples = int(num_samples)
    self.num_classes = int(num_classes)
    self.labels_to_names = dict(labels_to_names)
    self.channels = int(channels)
    self.has_bboxes = has_bboxes
    self.has_background_class = has_background_class
    self.dataset_dir = dataset_dir
    self.info = info
    self.items_to_descriptions = {
        'image': f'uint8 [height, width, {self.channels}]',
        'label': f'int64 in [0, {self.num_classes})',
        'bbox': 'float32 [N, 4] of (ymin, xmin, ymax, xmax) in [0, 1]; N may be 0'}

  def __repr__(self):
    return (f'Dataset({self.name!r}, {self.split_name!r}, num_samples={self.num_samples}, '
            f'num_classes={self.num_classes}, files={len(self.data_sources)})')

  def read(self, shuffle=False, num_epochs=1, seed=None, num_readers=4,
           num_parallel_calls=tf.data.AUTOTUNE, shard_index=0, num_shards=1,
           shuffle_buffer_size=None):
    """A `tf.data.Dataset` of unbatched {'image', 'label', 'bbox'} dicts.

    Args:
      shuffle: shuffle the files and, in a buffer, the records (training). False keeps a
        deterministic order (evaluation).
      num_epochs: passes over the data; None repeats forever.
      seed: shuffling seed; with a seed the shuffled order is repeatable too.
      num_readers: files read in parallel.
      num_parallel_calls: parallel decoding.
      shard_index: this worker's index, in [0, num_shards).
      num_shards: workers sharing the data: each gets every num_shards-th file, or every
        num_shards-th record when there are fewer files than workers.
      shuffle_buffer_size: records in the shuffle buffer; default min(num_samples, 10000).

    Returns:
      The dataset. A record without image/encoded or image/class/label fails with an
      error naming its file.
    """
    if num_shards < 1 or not 0 <= shard_index < num_shards:
      raise ValueError(f'shard_index must be in [0, {num_shards}), got {shard_index}')
    if num_epochs is not None and num_epochs < 1:
      raise ValueError(f'num_epochs must be None (forever) or >= 1, got {num_epochs}')
    files = self.data_sources
    shard_records = num_shards > 1 and len(files) < num_shards
    if num_shards > 1 and not shard_records:
      files = files[shard_index::num_shards]
    deterministic = not shuffle or seed is not None

    filenames = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
      filenames = filenames.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)

    def open_file(filename):
      return tf.data.TFRecordDataset(filename).map(lambda record: (filename, record))

    records = filenames.interleave(open_file, cycle_length=max(1, min(num_readers, len(files))),
                                   num_parallel_calls=tf.data.AUTOTUNE,
                                   deterministic=deterministic)
    if shard_records:
      records = records.shard(num_shards, shard_index)
    if shuffle:
      buffer = shuffle_buffer_size or max(1, min(self.num_samples, 10000))
      records = records.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    records = records.repeat(num_epochs)
    return records.map(self._decode, num_parallel_calls=num_parallel_calls,
                       deterministic=deterministic).prefetch(tf.data.AUTOTUNE)

  def _decode(self, filename, record):
    spec = {
        'image/encoded': tf.io.FixedLenFeature([], tf.string, default_value=''),
        'image/class/label': tf.io.FixedLenFeature([], tf.int64, default_value=-1),
    }
    for key in _BBOX_KEYS:
      spec[f'image/object/bbox/{key}'] = tf.io.VarLenFeature(tf.float32)
    features = tf.io.parse_single_example(record, spec)
    encoded = features['image/encoded']
    label = features['image/class/label']
    checks = [
        tf.debugging.Assert(tf.strings.length(encoded) > 0,
                            [filename, 'has a record without image/encoded']),
        tf.debugging.Assert(label >= 0, [filename, 'has a record without image/class/label']),
    ]
    with tf.control_dependencies(checks):
      image = tf.io.decode_image(encoded, channels=self.channels, expand_animations=False)
    image = tf.ensure_shape(image, [None, None, self.channels])
    bbox = tf.stack([tf.sparse.to_dense(features[f'image/object/bbox/{key}'])
                     for key in _BBOX_KEYS], axis=1)
    return {'image': image, 'label': label, 'bbox': tf.reshape(bbox, [-1, 4])}


def list_datasets():
  """Names get_dataset knows without a dataset_info.json: the built-ins and synthetic."""
  return sorted(list(builtin_datasets.BUILTIN_DATASETS) + [SYNTHETIC])


def _check_first_record(path):
  """Raises ValueError naming `path` when it is not a TFRecord of TF-Slim's examples."""
  try:
    first = next(tfrecords.iter_records(path), None)
  except OSError as e:
    raise ValueError(f'{path}: cannot read ({e})') from None
  if first is None:
    return
  try:
    example = tf.train.Example.FromString(first)
  except Exception as e:  # pylint: disable=broad-except  (protobuf's DecodeError)
    raise ValueError(f'{path}: its records are not tf.train.Example ({e})') from None
  feature = example.features.feature
  for key, kind in _REQUIRED_FEATURES.items():
    if key not in feature:
      raise ValueError(f'{path}: records lack {key}; expected TF-Slim\'s keys '
                       f'({", ".join(_REQUIRED_FEATURES)})')
    if feature[key].WhichOneof('kind') != kind:
      raise ValueError(f'{path}: {key} is a {feature[key].WhichOneof("kind")}, expected '
                       f'a {kind}')


def _split_error(name, split_name, splits, where):
  return ValueError(f'unknown split {split_name!r} of {name} ({where}); known: '
                    f'{", ".join(sorted(splits))}')


def _info_folder(name, dataset_dir):
  """The folder whose dataset_info.json describes `name`, or None.

  Raises:
    ValueError: dataset_dir holds a different converted dataset.
  """
  if os.path.isfile(os.path.join(name, dataset_utils.INFO_FILENAME)):
    return name
  if not dataset_dir:
    return None
  info = dataset_utils.read_info(dataset_dir)
  if info is not None:
    if name in (info['name'], info.get('converter')):
      return dataset_dir
    raise ValueError(f'{dataset_dir} holds the converted dataset {info["name"]!r}, not '
                     f'{name!r}')
  nested = os.path.join(dataset_dir, name)
  if os.path.isfile(os.path.join(nested, dataset_utils.INFO_FILENAME)):
    return nested
  return None


def _files_for_pattern(folder, file_pattern, split_name):
  pattern = file_pattern % split_name if '%s' in file_pattern else file_pattern
  return sorted(glob.glob(os.path.join(folder, pattern)))


def _converted(split_name, folder, file_pattern):
  info = dataset_utils.read_info(folder)
  info_path = os.path.join(folder, dataset_utils.INFO_FILENAME)
  if split_name not in info['splits']:
    raise _split_error(info['name'], split_name, info['splits'], info_path)
  split = info['splits'][split_name]
  counts = {shard['file']: shard['num_records'] for shard in split['shards']}
  if file_pattern:
    files = _files_for_pattern(folder, file_pattern, split_name)
    if not files:
      raise ValueError(f'no files match {file_pattern!r} in {folder}')
  else:
    files = [os.path.join(folder, shard) for shard in counts]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
      raise ValueError(f'{missing[0]} is missing ({len(missing)} of {len(files)} shards of '
                       f'{split_name}); convert the dataset again')
    tfrecords.check_shards(folder, split['shards'], info_path)
  num_samples = sum(counts[os.path.basename(f)] if os.path.basename(f) in counts
                    else tfrecords.count_records(f) for f in files)
  _check_first_record(files[0])
  if dataset_utils.has_labels(folder, info.get('labels_file', dataset_utils.LABELS_FILENAME)):
    labels_to_names = dataset_utils.read_label_file(
        folder, info.get('labels_file', dataset_utils.LABELS_FILENAME))
  else:
    labels_to_names = dict(enumerate(info.get('class_names', [])))
  return Dataset(name=info['name'], split_name=split_name, data_sources=files,
                 num_samples=num_samples, num_classes=info['num_classes'],
                 labels_to_names=labels_to_names, channels=info['channels'],
                 has_bboxes=info.get('has_bboxes', False),
                 has_background_class=info.get('background_class', False),
                 dataset_dir=folder, info=info)


def _tfslim(spec, split_name, dataset_dir, file_pattern):
  """TF-Slim's own converted files of a built-in dataset, or None if there are none.

  Args:
    spec: the dataset's `builtin_datasets.BuiltinDataset`.
  """
  found = {split: sorted(glob.glob(os.path.join(dataset_dir, pattern)))
           for split, pattern in spec.tfslim_files.items()}
  if file_pattern is None and not any(found.values()):
    return None
  if split_name not in spec.tfslim_files:
    raise _split_error(spec.name, split_name, spec.tfslim_files,
                       f"TF-Slim's files in {dataset_dir}")
  if file_pattern:
    files = _files_for_pattern(dataset_dir, file_pattern, split_name)
  else:
    files = found[split_name]
  if not files:
    raise ValueError(f'no {split_name} files of {spec.name} in {dataset_dir} (looked for '
                     f'{file_pattern or spec.tfslim_files[split_name]})')
  _check_first_record(files[0])
  if file_pattern or sum(os.path.getsize(f) for f in files) < _COUNT_LIMIT_BYTES:
    num_samples = sum(tfrecords.count_records(f) for f in files)
  else:
    num_samples = spec.tfslim_sizes[split_name]
  if dataset_utils.has_labels(dataset_dir):
    labels_to_names = dataset_utils.read_label_file(dataset_dir)
  elif spec.tfslim_class_names:
    labels_to_names = dict(enumerate(spec.tfslim_class_names))
  else:
    labels_to_names = {i: str(i) for i in range(spec.num_classes)}
  return Dataset(name=spec.name, split_name=split_name, data_sources=files,
                 num_samples=num_samples, num_classes=spec.num_classes,
                 labels_to_names=labels_to_names, channels=spec.channels,
                 has_bboxes=spec.tfslim_bboxes, has_background_class=spec.tfslim_background,
                 dataset_dir=dataset_dir)


def get_dataset(name, split_name, dataset_dir=None, file_pattern=None, **kwargs):
  """A split of a dataset, ready to `read()`.

  Args:
    name: a built-in dataset ('mnist5k', 'cifar10', ...), 'synthetic', the name in a
      dataset_info.json, or a folder holding one.
    split_name: 'train', 'test', 'validation', ... as the dataset has them.
    dataset_dir: the folder of the converted dataset (None for synthetic).
    file_pattern: optional glob of the files to read, relative to the folder; '%s' is
      replaced by the split name (TF-Slim's convention).
    **kwargs: options of `synthetic.SyntheticDataset` (image_size, num_classes, channels,
      num_samples, num_frames for clips); other datasets take none.

  Returns:
    A `Dataset` (or `synthetic.SyntheticDataset`).

  Raises:
    ValueError: an unknown name or split (the message lists the known ones), a folder
      without the dataset, or files that are not TF-Slim's examples.
  """
  if name == SYNTHETIC:
    return synthetic.SyntheticDataset(split_name, **kwargs)
  if kwargs:
    raise ValueError(f'get_dataset({name!r}) takes no options {sorted(kwargs)}; only '
                     'synthetic does')
  folder = _info_folder(name, dataset_dir)
  if folder is not None:
    return _converted(split_name, folder, file_pattern)
  if name in builtin_datasets.BUILTIN_DATASETS:
    if not dataset_dir:
      raise ValueError(f'{name} needs dataset_dir, the folder of the converted dataset')
    spec = builtin_datasets.BUILTIN_DATASETS[name]
    if spec.tfslim_files:
      dataset = _tfslim(spec, split_name, dataset_dir, file_pattern)
      if dataset is not None:
        return dataset
    if split_name not in spec.splits and name != 'image_folder':
      raise _split_error(name, split_name, spec.splits, 'built-in')
    raise ValueError(f'no converted {name} dataset in {dataset_dir}; run: python '
                     f'download_and_convert_data.py --dataset_name={name} '
                     f'--dataset_dir={dataset_dir}')
  known = list_datasets()
  close = difflib.get_close_matches(name, known, n=3)
  hint = f' (did you mean {", ".join(close)}?)' if close else ''
  raise ValueError(f'unknown dataset {name!r}{hint}; known: {", ".join(known)}, or any '
                   f'folder with a {dataset_utils.INFO_FILENAME}')
