"""TFRecord files of `tf.train.Example` records, written and scanned without TensorFlow.

Conversion runs in worker processes that need not pay TensorFlow's import time for small
datasets. Large datasets use TensorFlow's C++ writer (`backend='tensorflow'`), which
computes the CRC-32C checksums much faster than Python can (docs/performance.md, "Data
conversion and reading"); both backends write byte-identical files.

The record framing and the Example wire format are TensorFlow's:
  uint64 length, uint32 masked_crc32c(length), data, uint32 masked_crc32c(data)
  Example{features=1: Features{feature=1: map<string, Feature>}}
  Feature{bytes_list=1 | float_list=2 | int64_list=3}, each a repeated `value = 1`.

Usage:
  with tfrecords.RecordWriter(path) as writer:
    writer.write(tfrecords.encode_example({'image/encoded': png_bytes,
                                           'image/class/label': 3}))
"""

import contextlib
import json
import numbers
import os
import struct

from . import dataset_utils

_CRC32C_POLY = 0x82F63B78


def _crc_table():
  table = []
  for byte in range(256):
    crc = byte
    for _ in range(8):
      crc = (crc >> 1) ^ _CRC32C_POLY if crc & 1 else crc >> 1
    table.append(crc)
  return table


_CRC_TABLE = _crc_table()


def crc32c(data):
  """CRC-32C (Castagnoli) of `data`, the checksum TFRecord files use."""
  crc = 0xFFFFFFFF
  table = _CRC_TABLE
  for byte in data:
    crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
  return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
  """TFRecord's masked CRC: rotated and offset so that CRCs of CRCs stay strong."""
  crc = crc32c(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame_record(data):
  """One record with TFRecord's length and checksum framing."""
  length = struct.pack('<Q', len(data))
  return b''.join((length, struct.pack('<I', masked_crc32c(length)), data,
                   struct.pack('<I', masked_crc32c(data))))


def _varint(value):
  if value < 0:
    value += 1 << 64
  out = bytearray()
  while value > 0x7F:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


def _length_delimited(field_number, payload):
  return _varint(field_number << 3 | 2) + _varint(len(payload)) + payload


def _feature(value):
  """Serialized `tf.train.Feature` for bytes/str, int or float values (or lists of them)."""
  values = value if isinstance(value, (list, tuple)) else [value]
  if not values:
    return _length_delimited(2, b'')
  if all(isinstance(v, (bytes, str)) for v in values):
    payload = b''.join(_length_delimited(1, v.encode() if isinstance(v, str) else v)
                       for v in values)
    return _length_delimited(1, payload)
  if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values):
    packed = b''.join(_varint(int(v)) for v in values)
    return _length_delimited(3, _length_delimited(1, packed))
  if all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
    packed = struct.pack(f'<{len(values)}f', *values)
    return _length_delimited(2, _length_delimited(1, packed))
  raise TypeError(f'feature values must be all bytes/str, all int or all float; got {value!r}')


def encode_example(features):
  """Serialized `tf.train.Example` of `features`: a dict of key -> value or list of values.

  bytes and str become a BytesList, int an Int64List, float a FloatList. An empty list is
  written as an empty FloatList (TF-Slim's converters do the same for missing boxes).
  """
  entries = b''.join(
      _length_delimited(1, _length_delimited(1, key.encode()) +
                        _length_delimited(2, _feature(value)))
      for key, value in features.items())
  return _length_delimited(1, entries)


class RecordWriter:
  """Writes framed records to a file; `backend` 'python' (no TensorFlow) or 'tensorflow'."""

  def __init__(self, path, backend='python'):
    if backend not in ('python', 'tensorflow'):
      raise ValueError(f"backend must be 'python' or 'tensorflow', not {backend!r}")
    self.path = path
    if backend == 'tensorflow':
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      self._tf_writer = tf.io.TFRecordWriter(path)
      self._file = None
    else:
      self._tf_writer = None
      self._file = open(path, 'wb')  # pylint: disable=consider-using-with

  def write(self, record):
    if self._tf_writer is not None:
      self._tf_writer.write(record)
    else:
      self._file.write(frame_record(record))

  def close(self):
    if self._tf_writer is not None:
      self._tf_writer.close()
    else:
      self._file.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    self.close()


def _data_length(path, header):
  """The data length in a record's 12-byte header (length, its masked CRC).

  Raises:
    ValueError: naming `path`, when the header is cut short or its checksum is wrong.
  """
  if len(header) < 12:
    raise ValueError(f'{path}: truncated TFRecord file (partial record header)')
  length, length_crc = struct.unpack('<QI', header)
  if masked_crc32c(header[:8]) != length_crc:
    raise ValueError(f'{path}: not a TFRecord file or corrupted (bad length checksum)')
  return length


def iter_records(path, verify=False):
  """Yields the records of a TFRecord file (uncompressed), checking the framing.

  Args:
    path: the file.
    verify: also check every data checksum (slow in Python: docs/performance.md).

  Raises:
    ValueError: the file is truncated or, with `verify`, a checksum is wrong.
  """
  with open(path, 'rb') as f:
    while True:
      header = f.read(12)
      if not header:
        return
      length = _data_length(path, header)
      data = f.read(length)
      footer = f.read(4)
      if len(data) < length or len(footer) < 4:
        raise ValueError(f'{path}: truncated TFRecord file (record of {length} bytes cut short)')
      if verify and masked_crc32c(data) != struct.unpack('<I', footer)[0]:
        raise ValueError(f'{path}: corrupted TFRecord file (bad data checksum)')
      yield data


def count_records(path):
  """Number of records in a TFRecord file, found by skipping from header to header."""
  count = 0
  with open(path, 'rb') as f:
    size = f.seek(0, 2)
    position = 0
    while position < size:
      f.seek(position)
      position += 16 + _data_length(path, f.read(12))
      if position > size:
        raise ValueError(f'{path}: truncated TFRecord file (last record cut short)')
      count += 1
  return count


# Beside the shards: which of them were hashed already, by size and modification time, so
# that a dataset is hashed once, not every time a training or an evaluation opens it.
VERIFIED_FILENAME = '.verified_shards.json'
_sha256_of = dataset_utils.sha256_of  # a name of this module's, so tests can count the hashing
_verified_in_process = {}


def _read_verified(folder):
  try:
    with open(os.path.join(folder, VERIFIED_FILENAME), encoding='utf-8') as f:
      verified = json.load(f)
    return verified if isinstance(verified, dict) else {}
  except (OSError, ValueError):
    return {}


def _write_verified(folder, verified):
  """Best effort: a read-only dataset folder is checked again by the next process."""
  with contextlib.suppress(OSError):
    dataset_utils.write_json(os.path.join(folder, VERIFIED_FILENAME), verified)


def check_shards(folder, shards, info_name='dataset_info.json'):
  """Checks each shard against the size and SHA-256 its conversion recorded.

  Sizes are compared every time (a truncated shard is found at once); a shard is hashed
  only when its size or modification time changed since it last matched.

  Args:
    folder: the dataset folder.
    shards: the dataset_info.json entries, dicts with 'file' and, when recorded, 'bytes'
      and 'sha256'.
    info_name: the record's file name, for messages.

  Raises:
    ValueError: naming the first shard that is truncated, grown or changed.
  """
  folder = os.path.abspath(folder)
  for shard in shards:
    path = os.path.join(folder, shard['file'])
    size = os.path.getsize(path)
    if 'bytes' in shard and size != shard['bytes']:
      what = 'truncated' if size < shard['bytes'] else 'damaged'
      raise ValueError(f'{path}: {what} shard ({size} bytes; {info_name} records '
                       f'{shard["bytes"]}); convert the dataset again or restore the file')
  verified = _read_verified(folder)
  changed = False
  for shard in shards:
    if 'sha256' not in shard:
      continue
    path = os.path.join(folder, shard['file'])
    stat = os.stat(path)
    key = [stat.st_size, stat.st_mtime_ns, shard['sha256']]
    if verified.get(shard['file']) == key or _verified_in_process.get(path) == key:
      continue
    if _sha256_of(path) != shard['sha256']:
      raise ValueError(f'{path}: damaged shard (its SHA-256 differs from the one {info_name} '
                       'records); convert the dataset again or restore the file')
    verified[shard['file']] = _verified_in_process[path] = key
    changed = True
  if changed:
    _write_verified(folder, verified)

