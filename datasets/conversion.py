"""Writes a converted dataset: sharded TFRecords, labels.txt and dataset_info.json.

Every converter ends here. It describes its sources and options (the fingerprint), then
hands over the records of each split as work items plus a module-level `encode_fn(item)`
that returns the features of one record. This module

  * skips everything when dataset_info.json says the same sources and options were
    converted already, and refuses (without --overwrite) to replace a complete dataset
    converted from something else;
  * writes each shard under a hidden temporary name and renames it when complete, records
    it in a small state file, and on a re-run after an interruption redoes only the shards
    that are not complete;
  * runs shards in parallel worker processes (spawned: TensorFlow is not fork-safe) with a
    progress line, or in-process without TensorFlow when the dataset is small;
  * writes labels.txt and then dataset_info.json last: a folder with dataset_info.json is
    complete.

Usage:
  job = conversion.Conversion(dataset_dir, 'flowers', 'flowers', fingerprint={...})
  if not job.complete:
    job.write([conversion.Split('train', items, num_shards=5), ...], encode_fn,
              labels_to_names={0: 'daisy', ...}, channels=3, source={...})
"""

import collections
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import sys
import time

from absl import logging

from . import dataset_utils
from . import images
from . import tfrecords

STATE_FILENAME = '.conversion_state.json'

# Below this much data, records are framed in Python (a slow CRC-32C, docs/performance.md)
# rather than by TensorFlow's C++ writer, which costs a TensorFlow import in every process.
PYTHON_WRITER_MAX_BYTES = 32 << 20
# Below this much data, one process is faster than spawning workers.
PARALLEL_MIN_BYTES = 32 << 20


@dataclasses.dataclass
class Split:
  """One split: work items in record order, cut into `num_shards` contiguous shards."""
  name: str
  items: list
  num_shards: int

  def shard_items(self, index):
    start = len(self.items) * index // self.num_shards
    stop = len(self.items) * (index + 1) // self.num_shards
    return self.items[start:stop]


def auto_num_shards(num_items, num_bytes, target_shard_bytes=64 << 20):
  """About `target_shard_bytes` per shard, and never an empty shard."""
  return max(1, min(num_items, math.ceil(num_bytes / target_shard_bytes)))


def encode_pixels(item):
  """Features of an image given as pixels: item = (uint8 [H, W, C], label[, extra]).

  The pixels are stored losslessly as PNG, with TF-Slim's keys; `extra` is a dict of more
  features (e.g. CIFAR-100's coarse label).
  """
  pixels, label = item[0], item[1]
  features = {
      'image/encoded': images.encode_png(pixels),
      'image/format': b'png',
      'image/class/label': int(label),
      'image/height': int(pixels.shape[0]),
      'image/width': int(pixels.shape[1]),
  }
  if len(item) > 2:
    features.update(item[2])
  return features


def encode_image_file(item):
  """Features of an image file: item = (path, label, name recorded as image/filename).

  The file is decoded once to check it (a bad one fails with its path); JPEG and 8-bit
  PNG bytes are stored as they are, other images re-encoded (see `images.prepare_image`).
  """
  path, label, filename = item
  try:
    with open(path, 'rb') as f:
      data = f.read()
  except OSError as e:
    raise ValueError(f'{path}: cannot read ({e.strerror})') from None
  image = images.prepare_image(data, path)
  return {
      'image/encoded': image.encoded,
      'image/format': image.format.encode(),
      'image/class/label': int(label),
      'image/height': image.height,
      'image/width': image.width,
      'image/channels': image.channels,
      'image/filename': filename.encode('utf-8'),
  }


class _Progress:
  """`split: done/total images (P%), R images/s, ETA` on stderr; every 10% if not a tty."""

  def __init__(self, total, label):
    self.total, self.label = total, label
    self.start = time.monotonic()
    self.last_tenth = 0
    self.last_draw = 0.0
    self.tty = sys.stderr.isatty()
    self.done = 0
    self.first = None

  def set(self, done, final=False):
    self.done = done
    now = time.monotonic()
    if self.first is None and done:
      self.first = (now, done)
    # The running rate starts at the first report: workers' start-up is not conversion.
    since, base = self.first if self.first and now > self.first[0] else (self.start, 0)
    rate = (done - base) / max(now - since, 1e-6)
    fraction = done / self.total if self.total else 1.0
    eta = f'{(self.total - done) / rate:.0f}s' if rate > 0 else '?'
    overall = done / max(now - self.start, 1e-6)
    line = (f'{self.label}: {done}/{self.total} images ({100 * fraction:.0f}%), '
            f'{rate:.0f} images/s, ETA {eta}' if not final else
            f'{self.label}: {done} images in {now - self.start:.1f}s ({overall:.0f} images/s)')
    if self.tty:
      if final or now - self.last_draw > 0.2:
        self.last_draw = now
        sys.stderr.write('\r' + line + ('\n' if final else ''))
        sys.stderr.flush()
    elif final or int(fraction * 10) > self.last_tenth:
      self.last_tenth = int(fraction * 10)
      logging.info(line)


# Set in each worker process by _init_worker: a shared count of records written.
_COUNTER = None
_REPORT_EVERY = 32


def _init_worker(counter):
  global _COUNTER
  _COUNTER = counter
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


def _write_shard(task, report=None):
  """Writes one shard; returns (file name, stats). Runs in a worker or in-process."""
  encode_fn, items, path, backend = task
  temp_path = dataset_utils.temporary_path(path)
  labels = collections.Counter()
  formats = set()
  sizes = set()
  channels = set()
  has_bboxes = False
  unreported = 0
  try:
    with tfrecords.RecordWriter(temp_path, backend) as writer:
      for item in items:
        features = encode_fn(item)
        writer.write(tfrecords.encode_example(features))
        labels[int(features['image/class/label'])] += 1
        formats.add(features['image/format'])
        sizes.add((int(features['image/height']), int(features['image/width'])))
        channels.add(int(features.get('image/channels', 3)))
        has_bboxes = has_bboxes or bool(features.get('image/object/bbox/xmin'))
        unreported += 1
        if unreported == _REPORT_EVERY:
          _report(unreported, report)
          unreported = 0
    _report(unreported, report)
    sha256 = dataset_utils.sha256_of(temp_path)
    os.replace(temp_path, path)
  except BaseException:
    if os.path.exists(temp_path):
      os.remove(temp_path)
    raise
  return os.path.basename(path), {
      'num_records': len(items), 'sha256': sha256, 'bytes': os.path.getsize(path),
      'label_counts': {str(k): v for k, v in sorted(labels.items())},
      'formats': sorted({(f.decode() if isinstance(f, bytes) else f).lower() for f in formats}),
      'sizes': sorted(sizes)[:1] + sorted(sizes)[-1:] if len(sizes) > 1 else sorted(sizes),
      'uniform_size': len(sizes) <= 1, 'has_bboxes': has_bboxes,
      'channels': max(channels, default=3)}


def _report(count, report):
  if not count:
    return
  if report is not None:
    report(count)
  elif _COUNTER is not None:
    with _COUNTER.get_lock():
      _COUNTER.value += count


def check_output_dir(dataset_dir, converter, overwrite=False):
  """Fails early, before any download, if dataset_dir holds another converter's dataset.

  Raises:
    ValueError: dataset_dir has a dataset_info.json from another converter and
      `overwrite` is False.
  """
  info = dataset_utils.read_info(dataset_dir) if os.path.isdir(dataset_dir) else None
  if info is not None and info.get('converter') != converter and not overwrite:
    raise ValueError(f'{dataset_dir} already holds the converted dataset {info["name"]!r} '
                     f'({info.get("converter", "?")}); pass --overwrite to replace it, or '
                     'choose another --dataset_dir')


def _fingerprint(value):
  return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


class Conversion:
  """The conversion of one dataset into `dataset_dir`; see the module docstring.

  Args:
    dataset_dir: output folder.
    name: the converted dataset's name (`get_dataset(name, ...)` finds it).
    converter: the converter that made it (`--dataset_name`).
    fingerprint: JSON-able description of the sources and options; a complete conversion
      with the same fingerprint is not redone.
    overwrite: replace a complete conversion made from another fingerprint.

  Raises:
    ValueError: `dataset_dir` holds a complete dataset converted from other sources or
      options, and `overwrite` is False.
  """

  def __init__(self, dataset_dir, name, converter, fingerprint, overwrite=False):
    self.dataset_dir = dataset_dir
    self.name = name
    self.converter = converter
    self.fingerprint = _fingerprint({'converter': converter, 'name': name,
                                     'format_version': dataset_utils.INFO_FORMAT_VERSION,
                                     'options': fingerprint})
    self.info = None
    self._state_path = os.path.join(dataset_dir, STATE_FILENAME)
    info = dataset_utils.read_info(dataset_dir) if os.path.isdir(dataset_dir) else None
    if info is None:
      return
    info_path = os.path.join(dataset_dir, dataset_utils.INFO_FILENAME)
    if info.get('fingerprint') == self.fingerprint:
      shard_files = [s['file'] for split in info['splits'].values() for s in split['shards']]
      if all(os.path.isfile(os.path.join(dataset_dir, f)) for f in shard_files):
        self.info = info
        return
      logging.warning('%s: shards of the converted dataset are missing; converting again',
                      dataset_dir)
    elif not overwrite:
      raise ValueError(
          f'{dataset_dir} already holds the converted dataset {info["name"]!r} '
          f'({info.get("converter", "?")}) made from other sources or options; pass '
          '--overwrite to replace it, or choose another --dataset_dir')
    # The info goes first: from here on the folder no longer claims a complete dataset.
    os.remove(info_path)
    for split in info['splits'].values():
      for shard in split['shards']:
        path = os.path.join(dataset_dir, os.path.basename(shard['file']))
        if os.path.isfile(path):
          os.remove(path)

  @property
  def complete(self):
    """True when dataset_dir holds this very conversion; `info` is then its record."""
    return self.info is not None

  def _load_state(self):
    """Shards completed by an interrupted run of this same conversion: file -> stats.

    The state file is JSON lines, appended as shards complete: the fingerprint, then one
    line per shard. A line cut short by a crash is ignored.
    """
    lines = []
    if os.path.isfile(self._state_path):
      with open(self._state_path, encoding='utf-8') as f:
        for line in f:
          try:
            lines.append(json.loads(line))
          except json.JSONDecodeError:
            break
    if lines and lines[0].get('fingerprint') == self.fingerprint:
      return {entry['file']: entry['stats'] for entry in lines[1:]}
    # Shards of an interrupted conversion of something else are no one's.
    for entry in lines[1:]:
      path = os.path.join(self.dataset_dir, entry.get('file', ''))
      if entry.get('file') and os.path.isfile(path):
        os.remove(path)
    dataset_utils.write_text(self._state_path,
                             json.dumps({'fingerprint': self.fingerprint}) + '\n')
    return {}

  def write(self, splits, encode_fn, *, labels_to_names, channels, source,
            num_workers=1, estimated_bytes=None, extra_info=None):
    """Converts the splits and writes labels.txt and dataset_info.json.

    Args:
      splits: `Split`s.
      encode_fn: module-level function item -> dict of features; must set
        image/encoded, image/format, image/class/label, image/height, image/width. It
        raises ValueError naming the source file for bad input.
      labels_to_names: dict label id -> class name, every id of the dataset.
      channels: channels readers decode to (1 or 3); None: 1 if every image is stored
        grayscale (image/channels), else 3.
      source: JSON-able description of the sources (files, checksums, URLs).
      num_workers: processes for large datasets.
      estimated_bytes: approximate size of the output; small datasets are converted
        in-process without TensorFlow.
      extra_info: more JSON-able fields for dataset_info.json.

    Returns:
      The dataset_info dict.
    """
    os.makedirs(self.dataset_dir, exist_ok=True)
    # A run killed while writing one of these left its hidden temporary beside it.
    dataset_utils.remove_stale_temporaries(
        self.dataset_dir, (dataset_utils.INFO_FILENAME, dataset_utils.LABELS_FILENAME,
                           STATE_FILENAME))
    state = self._load_state()
    total_items = sum(len(split.items) for split in splits)
    size = float('inf') if estimated_bytes is None else estimated_bytes
    backend = 'python' if size < PYTHON_WRITER_MAX_BYTES else 'tensorflow'

    tasks = []
    for split in splits:
      if not split.items:
        raise ValueError(f'{self.name}: split {split.name!r} has no images')
      if split.num_shards > len(split.items):
        split.num_shards = len(split.items)
      for index in range(split.num_shards):
        filename = dataset_utils.shard_filename(self.name, split.name, index,
                                                split.num_shards)
        path = os.path.join(self.dataset_dir, filename)
        temp_path = dataset_utils.temporary_path(path)
        if os.path.exists(temp_path):
          os.remove(temp_path)
        done = state.get(filename)
        if done and os.path.isfile(path) and os.path.getsize(path) == done['bytes']:
          continue
        tasks.append((encode_fn, split.shard_items(index), path, backend))

    todo = sum(len(task[1]) for task in tasks)
    if todo < total_items:
      logging.info('%s: %d of %d images already converted', self.name,
                   total_items - todo, total_items)
    if tasks:
      progress = _Progress(todo, f'converting {self.name}')
      workers = min(num_workers, len(tasks))
      if size < PARALLEL_MIN_BYTES or workers <= 1:
        self._run_in_process(tasks, state, progress)
      else:
        self._run_in_pool(tasks, state, progress, workers)
      progress.set(todo, final=True)

    info = self._info(splits, state, labels_to_names, channels, source, extra_info)
    dataset_utils.write_label_file(labels_to_names, self.dataset_dir)
    dataset_utils.write_json(os.path.join(self.dataset_dir, dataset_utils.INFO_FILENAME),
                             info)
    os.remove(self._state_path)
    self.info = info
    return info

  def _shard_done(self, state, filename, stats):
    state[filename] = stats
    with open(self._state_path, 'a', encoding='utf-8') as f:
      f.write(json.dumps({'file': filename, 'stats': stats}) + '\n')

  def _run_in_process(self, tasks, state, progress):
    done = [0]

    def report(count):
      done[0] += count
      progress.set(done[0])

    for task in tasks:
      filename, stats = _write_shard(task, report)
      self._shard_done(state, filename, stats)

  def _run_in_pool(self, tasks, state, progress, workers):
    context = multiprocessing.get_context('spawn')
    counter = context.Value('q', 0)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    pool = context.Pool(workers, initializer=_init_worker, initargs=(counter,))
    try:
      # Longest shards first, so no worker is left with a big one at the end.
      pending = [pool.apply_async(_write_shard, (task,))
                 for task in sorted(tasks, key=lambda t: -len(t[1]))]
      while pending:
        time.sleep(0.2)
        progress.set(counter.value)
        still = []
        for result in pending:
          if result.ready():
            filename, stats = result.get()  # re-raises a worker's error here
            self._shard_done(state, filename, stats)
          else:
            still.append(result)
        pending = still
    except BaseException:
      pool.terminate()
      pool.join()
      for task in tasks:
        temp_path = dataset_utils.temporary_path(task[2])
        if os.path.exists(temp_path):
          os.remove(temp_path)
      raise
    # Every result is in; stopping the workers spares their slow TensorFlow teardown.
    pool.terminate()
    pool.join()

  def _info(self, splits, state, labels_to_names, channels, source, extra_info):
    num_classes = max(labels_to_names) + 1
    formats, sizes, uniform, has_bboxes, stored_channels = set(), set(), True, False, 1
    split_info = {}
    for split in splits:
      shards = []
      class_counts = [0] * num_classes
      for index in range(split.num_shards):
        filename = dataset_utils.shard_filename(self.name, split.name, index,
                                                split.num_shards)
        stats = state[filename]
        shards.append({'file': filename, 'num_records': stats['num_records'],
                       'bytes': stats['bytes'], 'sha256': stats['sha256']})
        for label, count in stats['label_counts'].items():
          class_counts[int(label)] += count
        formats.update(stats['formats'])
        sizes.update(tuple(s) for s in stats['sizes'])
        uniform = uniform and stats['uniform_size']
        has_bboxes = has_bboxes or stats['has_bboxes']
        stored_channels = max(stored_channels, stats['channels'])
      split_info[split.name] = {'num_samples': sum(s['num_records'] for s in shards),
                                'class_counts': class_counts, 'shards': shards}
    info = {
        'format_version': dataset_utils.INFO_FORMAT_VERSION,
        'name': self.name,
        'converter': self.converter,
        'num_classes': num_classes,
        'background_class': False,
        'channels': channels or stored_channels,
        'image_format': formats.pop() if len(formats) == 1 else 'mixed',
        'image_size': list(sizes.pop()) if uniform and len(sizes) == 1 else None,
        'has_bboxes': has_bboxes,
        'labels_file': dataset_utils.LABELS_FILENAME,
        'class_names': [labels_to_names.get(i, str(i)) for i in range(num_classes)],
        'splits': split_info,
        'source': source,
        'fingerprint': self.fingerprint,
    }
    info.update(extra_info or {})
    return info
