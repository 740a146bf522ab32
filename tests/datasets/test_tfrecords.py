"""The TensorFlow-free TFRecord writer against TensorFlow's own reader and writer."""

import os

import numpy as np
import pytest
import tensorflow as tf

from datasets import tfrecords

FEATURES = {
    'image/encoded': b'\x89PNG bytes \x00\xff',
    'image/format': 'png',
    'image/class/label': 7,
    'image/object/bbox/xmin': [0.25, 0.5],
    'image/object/bbox/label': [-3, 2 ** 40],
    'image/object/bbox/ymin': [],
    'image/class/text': ['tench, Tinca tinca', b'\xc3\xa9'],
}


def test_examples_parse_as_tensorflow_writes_them():
  parsed = tf.train.Example.FromString(tfrecords.encode_example(FEATURES)).features.feature
  assert parsed['image/encoded'].bytes_list.value == [FEATURES['image/encoded']]
  assert parsed['image/format'].bytes_list.value == [b'png']
  assert parsed['image/class/label'].int64_list.value == [7]
  assert parsed['image/object/bbox/xmin'].float_list.value == [0.25, 0.5]
  assert parsed['image/object/bbox/label'].int64_list.value == [-3, 2 ** 40]
  assert parsed['image/object/bbox/ymin'].WhichOneof('kind') == 'float_list'
  assert parsed['image/class/text'].bytes_list.value == [b'tench, Tinca tinca', b'\xc3\xa9']
  reference = tf.train.Example(features=tf.train.Features(feature={
      'image/class/label': tf.train.Feature(int64_list=tf.train.Int64List(value=[7]))}))
  assert tfrecords.encode_example({'image/class/label': np.int64(7)}) == (
      reference.SerializeToString())


def test_python_and_tensorflow_backends_write_identical_files(tmp_path):
  records = [tfrecords.encode_example(dict(FEATURES, **{'image/class/label': i}))
             for i in range(5)] + [b'', b'x' * 100000]
  paths = {}
  for backend in ('python', 'tensorflow'):
    paths[backend] = str(tmp_path / f'{backend}.tfrecord')
    with tfrecords.RecordWriter(paths[backend], backend) as writer:
      for record in records:
        writer.write(record)
  with open(paths['python'], 'rb') as a, open(paths['tensorflow'], 'rb') as b:
    assert a.read() == b.read()
  assert [r.numpy() for r in tf.data.TFRecordDataset(paths['python'])] == records
  assert tfrecords.count_records(paths['python']) == len(records)
  assert list(tfrecords.iter_records(paths['python'], verify=True)) == records
  assert tfrecords.crc32c(b'123456789') == 0xE3069283  # the standard check value


def test_truncated_and_foreign_files_are_named(tmp_path):
  path = str(tmp_path / 'cut.tfrecord')
  with tfrecords.RecordWriter(path) as writer:
    writer.write(b'a' * 1000)
    writer.write(b'b' * 1000)
  with open(path, 'r+b') as f:
    f.truncate(os.path.getsize(path) - 10)
  with pytest.raises(ValueError, match=r'cut\.tfrecord: truncated'):
    tfrecords.count_records(path)
  other = tmp_path / 'notes.tfrecord'
  other.write_bytes(b'this is not a TFRecord file at all')
  with pytest.raises(ValueError, match=r'notes\.tfrecord: not a TFRecord'):
    list(tfrecords.iter_records(str(other)))


def test_feature_values_of_mixed_types_are_refused():
  with pytest.raises(TypeError, match='all bytes/str, all int or all float'):
    tfrecords.encode_example({'x': [1, b'a']})
