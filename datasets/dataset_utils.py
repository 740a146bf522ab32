"""Files of a converted dataset: labels.txt, dataset_info.json, shard names, atomic writes.

TF-Slim's `write_label_file`, `read_label_file` and `has_labels` keep their signatures and
their `id:name` format. Every file is written under a hidden temporary name and renamed
when complete, so a crash never leaves a half-written file under a final name.

This module, standard library only, is the one home of these small utilities for the
whole repository: local atomic writes (`atomic_output`, `write_text`, `write_bytes`,
`write_json`), a file's SHA-256 (`sha256_of`) and the labels-file parser (`parse_labels`).
slimbench/ uses them as `from slimbench.datasets import dataset_utils`.

A converted dataset folder holds:
  NAME_SPLIT_00000-of-0000N.tfrecord ...   sharded TFRecords (TF-Slim's feature keys)
  labels.txt                               id:name per line
  dataset_info.json                        splits, sizes, shards, classes, source, checksums
"""

import contextlib
import glob
import hashlib
import json
import os
import tempfile

LABELS_FILENAME = 'labels.txt'
INFO_FILENAME = 'dataset_info.json'
INFO_FORMAT_VERSION = 1


def _umask():
  mask = os.umask(0)
  os.umask(mask)
  return mask


# mkstemp creates files readable by the owner only; final files get the usual mode.
_FILE_MODE = 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_output(path, mode='wb'):
  """Opens a hidden temporary file next to `path`; renames it to `path` on success."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, temp_path = tempfile.mkstemp(prefix=f'.{os.path.basename(path)}.', suffix='.incomplete',
                                   dir=directory)
  try:
    with os.fdopen(fd, mode) as f:
      yield f
      f.flush()
      os.fsync(f.fileno())
    os.chmod(temp_path, _FILE_MODE)
    os.replace(temp_path, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.remove(temp_path)
    raise


def remove_stale_temporaries(folder, filenames):
  """Removes what atomic_output left in `folder` for these files when a process writing
  them was killed (`.<name>.<random>.incomplete`): only a new run of the same writer
  calls this, so no one is still writing them."""
  for filename in filenames:
    pattern = os.path.join(glob.escape(folder), f'.{glob.escape(filename)}.*.incomplete')
    for path in glob.glob(pattern):
      with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def temporary_path(path):
  """The hidden name a file is written under before it is renamed to `path`."""
  return os.path.join(os.path.dirname(path), f'.{os.path.basename(path)}.incomplete')


def sha256_of(path):
  """The hex SHA-256 of a file's bytes."""
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
  return digest.hexdigest()


def write_text(path, text):
  with atomic_output(path, 'w') as f:
    f.write(text)


def write_bytes(path, data):
  with atomic_output(path) as f:
    f.write(data)


def write_json(path, value):
  write_text(path, json.dumps(value, indent=2, sort_keys=False) + '\n')


def shard_filename(name, split_name, index, num_shards):
  """TF-Slim's sharded naming, as its flowers converter writes it."""
  return f'{name}_{split_name}_{index:05d}-of-{num_shards:05d}.tfrecord'


def write_label_file(labels_to_class_names, dataset_dir, filename=LABELS_FILENAME):
  """Writes `id:name` lines, sorted by id (TF-Slim's format)."""
  lines = ''.join(f'{label}:{labels_to_class_names[label]}\n'
                  for label in sorted(labels_to_class_names))
  write_text(os.path.join(dataset_dir, filename), lines)


def has_labels(dataset_dir, filename=LABELS_FILENAME):
  return os.path.isfile(os.path.join(dataset_dir, filename))


def read_label_file(dataset_dir, filename=LABELS_FILENAME):
  """Reads TF-Slim's labels file into a dict int id -> class name.

  Raises:
    ValueError: naming the file, for a line that is not `id:name`.
  """
  path = os.path.join(dataset_dir, filename)
  with open(path, encoding='utf-8') as f:
    return parse_labels(f, path)


def parse_labels(lines, path):
  """The dict int id -> class name of a labels file's `id:name` lines; blank ones are skipped.

  Args:
    lines: the file's lines, e.g. the open file (any file system's).
    path: the file, for messages.

  Raises:
    ValueError: naming the file and line, for a line that is not `id:name`.
  """
  labels_to_class_names = {}
  for number, line in enumerate(lines, start=1):
    line = line.rstrip('\n')
    if not line.strip():
      continue
    label, sep, name = line.partition(':')
    if not sep or not label.strip().isdigit():
      raise ValueError(f'{path}:{number}: expected "id:name", got {line!r}')
    labels_to_class_names[int(label)] = name
  return labels_to_class_names


def read_info(dataset_dir):
  """The parsed dataset_info.json of `dataset_dir`, or None if there is none.

  Raises:
    ValueError: naming the file, when it is not valid JSON or lacks the basic fields.
  """
  path = os.path.join(dataset_dir, INFO_FILENAME)
  if not os.path.isfile(path):
    return None
  try:
    with open(path, encoding='utf-8') as f:
      info = json.load(f)
  except (OSError, json.JSONDecodeError) as e:
    raise ValueError(f'{path}: not a readable dataset_info.json ({e})') from None
  missing = [key for key in ('name', 'num_classes', 'splits', 'channels')
             if key not in info]
  if missing:
    raise ValueError(f'{path}: missing {", ".join(missing)}; not written by '
                     'download_and_convert_data.py?')
  return info
