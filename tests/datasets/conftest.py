"""Small source files in the real formats, written by the tests themselves."""

import io
import os
import pickle
import tarfile

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from datasets import dataset_factory
from datasets import dataset_utils
from datasets import tfrecords


def random_pixels(height, width, channels, seed=0):
  rng = np.random.RandomState(seed)
  shape = (height, width) if channels == 1 else (height, width, channels)
  return rng.randint(0, 256, size=shape, dtype=np.uint8)


def smooth_pixels(height, width, seed=0):
  """An RGB image with gradients: compresses like a photo, unlike noise."""
  rng = np.random.RandomState(seed)
  y, x = np.mgrid[0:height, 0:width]
  channels = [(np.sin(x / rng.uniform(3, 9) + rng.uniform(0, 6)) * 100 + 128 +
               y * rng.uniform(-0.5, 0.5)) for _ in range(3)]
  return np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8)


def image_bytes(pixels, image_format, mode=None, **save_args):
  image = Image.fromarray(pixels)
  if mode:
    image = image.convert(mode)
  buffer = io.BytesIO()
  image.save(buffer, image_format, **save_args)
  return buffer.getvalue()


def write(path, data):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'wb') as f:
    f.write(data)
  return path


def add_to_tar(tar, name, data):
  info = tarfile.TarInfo(name)
  info.size = len(data)
  tar.addfile(info, io.BytesIO(data))


def make_tar(path, members, mode='w:gz'):
  """A tar archive of {member name: bytes}."""
  with tarfile.open(path, mode) as tar:
    for name, data in members.items():
      add_to_tar(tar, name, data)
  return path


def read_split(name, split, dataset_dir, **read_args):
  """Every example of a split, in the reader's evaluation order, as numpy."""
  dataset = dataset_factory.get_dataset(name, split, dataset_dir)
  return dataset, list(dataset.read(**read_args).as_numpy_iterator())


def records_by_filename(dataset_dir, split):
  """image/filename -> parsed features, read straight from the shards."""
  info = dataset_utils.read_info(dataset_dir)
  found = {}
  for shard in info['splits'][split]['shards']:
    for record in tfrecords.iter_records(os.path.join(dataset_dir, shard['file'])):
      feature = tf.train.Example.FromString(record).features.feature
      found[feature['image/filename'].bytes_list.value[0].decode()] = feature
  return found


class _Python2Pickler(pickle._Pickler):  # pylint: disable=protected-access
  """Writes bytes as Python 2 str (SHORT_BINSTRING/BINSTRING), as CIFAR's pickles hold."""
  dispatch = dict(pickle._Pickler.dispatch)  # pylint: disable=protected-access

  def save_py2_str(self, obj):
    if len(obj) < 256:
      self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
    else:
      self.write(pickle.BINSTRING + len(obj).to_bytes(4, 'little') + obj)
    self.memoize(obj)

  dispatch[bytes] = save_py2_str


def python2_pickle(value):
  """A pickle as Python 2's cPickle wrote CIFAR's batches (numpy 1.x module names)."""
  buffer = io.BytesIO()
  _Python2Pickler(buffer, protocol=2).dump(value)
  return buffer.getvalue().replace(b'numpy._core.multiarray', b'numpy.core.multiarray')


@pytest.fixture
def no_network(monkeypatch):
  """Fails the test if anything tries to download."""
  import urllib.request  # pylint: disable=g-import-not-at-top

  def refuse(*args, **kwargs):
    raise AssertionError(f'unexpected download: {args[0]}')
  monkeypatch.setattr(urllib.request, 'urlopen', refuse)
