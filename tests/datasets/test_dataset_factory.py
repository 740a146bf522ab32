"""Readers: every record once per epoch, sharding, shuffling, TF-Slim's layouts, errors."""

import collections
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from datasets import conversion
from datasets import dataset_factory
from datasets import dataset_utils
from datasets import images
from datasets import tfrecords

NUM_RECORDS = 23
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _numbered(index):
  """A 3x2 grayscale image whose pixels spell `index`, with label index % 5."""
  pixels = np.full((3, 2, 1), index % 256, dtype=np.uint8)
  pixels[0, 0, 0] = index // 256
  return pixels, index % 5


def _identity(example):
  return int(example['image'][0, 0, 0]) * 256 + int(example['image'][0, 1, 0])


@pytest.fixture(scope='module')
def numbered_dir(tmp_path_factory):
  """A converted dataset 'numbered' with 3 train shards of images that name themselves."""
  folder = str(tmp_path_factory.mktemp('numbered'))
  job = conversion.Conversion(folder, 'numbered', 'test', fingerprint={})
  job.write([conversion.Split('train', [_numbered(i) for i in range(NUM_RECORDS)], 3),
             conversion.Split('test', [_numbered(i) for i in range(4)], 1)],
            conversion.encode_pixels, labels_to_names={i: f'c{i}' for i in range(5)},
            channels=1, source={}, estimated_bytes=1000)
  return folder


def _ids(dataset, **read_args):
  return [_identity(e) for e in dataset.read(**read_args).as_numpy_iterator()]


def test_evaluation_order_is_deterministic_and_complete(numbered_dir):
  dataset = dataset_factory.get_dataset('numbered', 'train', numbered_dir)
  assert (dataset.num_samples, dataset.num_classes) == (NUM_RECORDS, 5)
  assert dataset.labels_to_names == {i: f'c{i}' for i in range(5)}
  assert len(dataset.data_sources) == 3
  first = _ids(dataset)
  assert sorted(first) == list(range(NUM_RECORDS))
  assert _ids(dataset, num_readers=1) == list(range(NUM_RECORDS))
  assert _ids(dataset) == first
  twice = collections.Counter(_ids(dataset, num_epochs=2))
  assert set(twice.values()) == {2} and len(twice) == NUM_RECORDS
  example = next(iter(dataset.read()))
  assert example['image'].dtype == tf.uint8 and example['image'].shape == (3, 2, 1)
  assert example['label'].dtype == tf.int64 and example['label'].shape == ()
  assert example['bbox'].dtype == tf.float32 and example['bbox'].shape == (0, 4)


def test_shuffling_is_seeded_and_keeps_every_record_once_per_epoch(numbered_dir):
  dataset = dataset_factory.get_dataset('numbered', 'train', numbered_dir)
  shuffled = _ids(dataset, shuffle=True, seed=7, num_epochs=2)
  assert shuffled == _ids(dataset, shuffle=True, seed=7, num_epochs=2)
  assert sorted(shuffled[:NUM_RECORDS]) == list(range(NUM_RECORDS))
  assert sorted(shuffled[NUM_RECORDS:]) == list(range(NUM_RECORDS))
  assert shuffled[:NUM_RECORDS] != _ids(dataset)
  forever = dataset.read(shuffle=True, num_epochs=None).take(3 * NUM_RECORDS)
  assert sum(1 for _ in forever) == 3 * NUM_RECORDS


@pytest.mark.parametrize('num_shards', [2, 3, 5])  # by file (<= 3 files), else by record
def test_workers_share_the_records_without_overlap(numbered_dir, num_shards):
  dataset = dataset_factory.get_dataset('numbered', 'train', numbered_dir)
  parts = [_ids(dataset, shard_index=i, num_shards=num_shards) for i in range(num_shards)]
  assert all(parts)
  assert sorted(sum(parts, [])) == list(range(NUM_RECORDS))
  with pytest.raises(ValueError, match=r'shard_index must be in \[0, 2\)'):
    dataset.read(shard_index=2, num_shards=2)


def test_reading_in_a_graph_as_training_code_does(numbered_dir):
  dataset = dataset_factory.get_dataset('numbered', 'test', numbered_dir)
  with tf.Graph().as_default():
    batch = tf.compat.v1.data.make_one_shot_iterator(
        dataset.read(num_epochs=None).batch(6)).get_next()
    with tf.compat.v1.Session() as session:
      labels = session.run(batch['label'])
  assert sorted(labels.tolist()) == [0, 0, 1, 1, 2, 3]


def test_any_converted_folder_is_found_by_name_path_or_parent(numbered_dir):
  by_path = dataset_factory.get_dataset(numbered_dir, 'test')
  assert by_path.name == 'numbered' and by_path.num_samples == 4
  parent, leaf = os.path.split(numbered_dir)
  assert dataset_factory.get_dataset(leaf, 'test', parent).data_sources == by_path.data_sources
  pattern = dataset_factory.get_dataset('numbered', 'train', numbered_dir,
                                        file_pattern='numbered_%s_0000[01]-of-*.tfrecord')
  assert len(pattern.data_sources) == 2
  assert pattern.num_samples == sum(tfrecords.count_records(f) for f in pattern.data_sources)


def test_unknown_names_splits_and_options_list_what_exists(numbered_dir, tmp_path):
  with pytest.raises(ValueError, match=r"unknown dataset 'mnist6k' \(did you mean mnist5k"
                                       r".*known: cifar10, cifar100, fashion_mnist, flowers"):
    dataset_factory.get_dataset('mnist6k', 'train', str(tmp_path))
  with pytest.raises(ValueError, match="unknown split 'validation' of numbered.*known: "
                                       "test, train"):
    dataset_factory.get_dataset('numbered', 'validation', numbered_dir)
  with pytest.raises(ValueError, match="holds the converted dataset 'numbered', not 'mnist'"):
    dataset_factory.get_dataset('mnist', 'train', numbered_dir)
  with pytest.raises(ValueError, match='--dataset_name=cifar10 --dataset_dir='):
    dataset_factory.get_dataset('cifar10', 'train', str(tmp_path))
  with pytest.raises(ValueError, match="unknown split 'val' of cifar10"):
    dataset_factory.get_dataset('cifar10', 'val', str(tmp_path))
  with pytest.raises(ValueError, match='only synthetic does'):
    dataset_factory.get_dataset('numbered', 'train', numbered_dir, image_size=32)


def _write_tfslim(path, examples):
  with tfrecords.RecordWriter(path) as writer:
    for features in examples:
      writer.write(tfrecords.encode_example(features))


def _tfslim_example(pixels, label, **extra):
  return dict({'image/encoded': images.encode_png(pixels), 'image/format': b'png',
               'image/class/label': label, 'image/height': pixels.shape[0],
               'image/width': pixels.shape[1]}, **extra)


def test_files_converted_by_tfslim_are_read(tmp_path):
  mnist = tmp_path / 'mnist'
  mnist.mkdir()
  digits = [np.full((28, 28, 1), 10 * i, np.uint8) for i in range(6)]
  _write_tfslim(str(mnist / 'mnist_train.tfrecord'),
                [_tfslim_example(d, i) for i, d in enumerate(digits)])
  dataset = dataset_factory.get_dataset('mnist', 'train', str(mnist))
  assert dataset.num_samples == 6 and dataset.labels_to_names[3] == 'three'
  examples = list(dataset.read().as_numpy_iterator())
  np.testing.assert_array_equal(np.stack([e['image'] for e in examples]), np.stack(digits))
  with pytest.raises(ValueError, match=r'no test files of mnist .*mnist_test\.tfrecord'):
    dataset_factory.get_dataset('mnist', 'test', str(mnist))

  flowers = tmp_path / 'flowers'
  flowers.mkdir()
  for shard in range(5):
    _write_tfslim(str(flowers / f'flowers_validation_{shard:05d}-of-00005.tfrecord'),
                  [_tfslim_example(np.zeros((4, 5, 3), np.uint8), shard)] * 2)
  dataset_utils.write_label_file({0: 'a', 1: 'b', 2: 'c', 3: 'd', 4: 'e'}, str(flowers))
  dataset = dataset_factory.get_dataset('flowers', 'validation', str(flowers))
  assert dataset.num_samples == 10 and dataset.labels_to_names[4] == 'e'
  assert sorted(e['label'] for e in dataset.read().as_numpy_iterator()) == [
      0, 0, 1, 1, 2, 2, 3, 3, 4, 4]

  imagenet = tmp_path / 'imagenet'
  imagenet.mkdir()
  _write_tfslim(str(imagenet / 'validation-00000-of-00001'), [_tfslim_example(
      np.zeros((6, 6, 3), np.uint8), 7, **{'image/object/bbox/xmin': [0.1],
                                           'image/object/bbox/ymin': [0.2],
                                           'image/object/bbox/xmax': [0.3],
                                           'image/object/bbox/ymax': [0.4]})])
  dataset = dataset_factory.get_dataset('imagenet', 'validation', str(imagenet))
  assert dataset.num_classes == 1001 and dataset.has_background_class
  example = next(dataset.read().as_numpy_iterator())
  np.testing.assert_allclose(example['bbox'], [[0.2, 0.1, 0.4, 0.3]])


def test_records_missing_a_key_fail_naming_the_file(tmp_path):
  folder = tmp_path / 'mnist'
  folder.mkdir()
  no_label = {'image/encoded': images.encode_png(np.zeros((2, 2), np.uint8))}
  _write_tfslim(str(folder / 'mnist_train.tfrecord'), [no_label])
  with pytest.raises(ValueError, match=r'mnist_train\.tfrecord: records lack '
                                       r'image/class/label'):
    dataset_factory.get_dataset('mnist', 'train', str(folder))
  good = _tfslim_example(np.zeros((2, 2, 1), np.uint8), 1)
  _write_tfslim(str(folder / 'mnist_test.tfrecord'), [good, {'image/class/label': 3}])
  dataset = dataset_factory.get_dataset('mnist', 'test', str(folder))
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'mnist_test\.tfrecord.*has a record without image/encoded'):
    list(dataset.read())
  (folder / 'mnist_test.tfrecord').write_bytes(b'garbage, not a TFRecord')
  with pytest.raises(ValueError, match=r'mnist_test\.tfrecord: not a TFRecord'):
    dataset_factory.get_dataset('mnist', 'test', str(folder))


def test_synthetic_images_are_made_in_the_pipeline():
  dataset = dataset_factory.get_dataset('synthetic', 'train', None, image_size=16,
                                        num_classes=7, channels=3, num_samples=12)
  assert (dataset.num_samples, dataset.num_classes) == (12, 7)
  examples = list(dataset.read().as_numpy_iterator())
  assert len(examples) == 12
  assert examples[0]['image'].shape == (16, 16, 3) and examples[0]['image'].dtype == np.uint8
  assert all(0 <= e['label'] < 7 for e in examples)
  assert len({e['image'].tobytes() for e in examples}) == 12
  again = list(dataset.read().as_numpy_iterator())
  np.testing.assert_array_equal(examples[5]['image'], again[5]['image'])
  parts = [list(dataset.read(shard_index=i, num_shards=2)) for i in range(2)]
  assert [len(p) for p in parts] == [6, 6]
  default = dataset_factory.get_dataset('synthetic', 'validation')
  assert (default.num_samples, default.num_classes) == (50000, 1001)
  with pytest.raises(ValueError, match="unknown split 'dev' of synthetic"):
    dataset_factory.get_dataset('synthetic', 'dev')


def test_a_dataset_name_registers_once():
  from datasets import converters  # pylint: disable=g-import-not-at-top,unused-import
  from datasets import registry  # pylint: disable=g-import-not-at-top

  def convert(dataset_dir):
    del dataset_dir
  with pytest.raises(ValueError, match="dataset 'mnist5k' is registered twice"):
    registry.register('mnist5k')(convert)
  with pytest.raises(ValueError, match="dataset 'mnist6k' has no row in builtin_datasets"):
    registry.register('mnist6k')
  assert dataset_factory.list_datasets() == [
      'cifar10', 'cifar100', 'fashion_mnist', 'flowers', 'image_folder', 'imagenet', 'mnist',
      'mnist5k', 'synthetic']


# Reads a converted dataset and TF-Slim's files in a fresh process; prints what it read,
# then the modules of the writing side (converters, downloads, archives) it imported.
_READ_ONLY = """
import sys
from datasets import dataset_factory
converted = dataset_factory.get_dataset('numbered', 'train', sys.argv[1])
tfslim = dataset_factory.get_dataset('mnist', 'train', sys.argv[2])
print(converted.num_samples, tfslim.num_samples, tfslim.labels_to_names[3])
print(sorted(name for name in sys.modules
             if name.startswith(('datasets.', 'slimbench.datasets.'))
             and name.rpartition('.')[2].startswith(('convert', 'registry', 'download',
                                                     'archives'))))
"""


def test_reading_imports_no_converter(numbered_dir, tmp_path):
  _write_tfslim(str(tmp_path / 'mnist_train.tfrecord'),
                [_tfslim_example(np.zeros((28, 28, 1), np.uint8), i) for i in range(4)])
  result = subprocess.run([sys.executable, '-c', _READ_ONLY, numbered_dir, str(tmp_path)],
                          cwd=REPO_ROOT, capture_output=True, text=True, check=False,
                          env=dict(os.environ, PYTHONPATH=REPO_ROOT))
  assert result.returncode == 0, result.stderr
  read, writers = result.stdout.splitlines()[-2:]
  assert read == f'{NUM_RECORDS} 4 three'
  assert writers == '[]'
