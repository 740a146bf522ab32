"""Fashion-MNIST: small idx files under its names, checked by their decompressed content,
and the real 70,000 images where Debian's dataset-fashion-mnist is installed."""

import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from datasets import convert_fashion_mnist
from datasets import convert_mnist
from datasets import dataset_factory
from datasets import dataset_utils
from datasets import download
from datasets import tfrecords
from tests.datasets.conftest import read_split

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_MAGIC = {'images': 2051, 'labels': 2049}


def _idx(array, magic):
  header = magic.to_bytes(4, 'big') + b''.join(d.to_bytes(4, 'big') for d in array.shape)
  return header + array.astype(np.uint8).tobytes()


def _contents(num_train=12, num_test=5):
  """{official file name: idx bytes} and {split: (pixels, labels)} of a small dataset."""
  rng = np.random.RandomState(3)
  contents, data = {}, {}
  for prefix, split, count in (('train', 'train', num_train), ('t10k', 'test', num_test)):
    pixels = rng.randint(0, 256, size=(count, 28, 28), dtype=np.uint8)
    labels = rng.randint(0, 10, size=count).astype(np.uint8)
    data[split] = (pixels, labels)
    contents[f'{prefix}-images-idx3-ubyte.gz'] = _idx(pixels, _MAGIC['images'])
    contents[f'{prefix}-labels-idx1-ubyte.gz'] = _idx(labels, _MAGIC['labels'])
  return contents, data


def _write(folder, contents, level=9, mtime=0):
  os.makedirs(folder, exist_ok=True)
  for name, content in contents.items():
    with open(os.path.join(folder, name), 'wb') as f:
      f.write(gzip.compress(content, compresslevel=level, mtime=mtime))


def _publish(monkeypatch, contents):
  """Makes `contents` the published idx content, as the real checksums are Debian's."""
  files = {key: convert_mnist.IdxFile(idx_file.remote, hashlib.sha256(
      contents[idx_file.remote.filename]).hexdigest())
           for key, idx_file in convert_fashion_mnist.FILES.items()}
  monkeypatch.setattr(convert_fashion_mnist, 'FILES', files)


def _script(*args):
  command = [sys.executable, os.path.join(REPO, 'download_and_convert_data.py'),
             '--dataset_name=fashion_mnist', *args]
  # An unroutable proxy: any download attempt fails instead of leaving the machine.
  env = dict(os.environ, http_proxy='http://127.0.0.1:9', https_proxy='http://127.0.0.1:9',
             PYTHONPATH=REPO)
  return subprocess.run(command, capture_output=True, text=True, env=env, check=False)


def test_a_recompressed_copy_passes_and_converts_the_same(tmp_path, monkeypatch, no_network):
  contents, data = _contents()
  _publish(monkeypatch, contents)
  dataset_dir = str(tmp_path / 'out')
  _write(dataset_dir, contents, level=9, mtime=0)
  info = convert_fashion_mnist.convert(dataset_dir)
  assert info['checksums_verified'] is True
  assert dataset_utils.read_label_file(dataset_dir) == dict(
      enumerate(convert_fashion_mnist.CLASS_NAMES))
  for split, (pixels, labels) in data.items():
    dataset, examples = read_split('fashion_mnist', split, dataset_dir)
    assert (dataset.num_samples, dataset.num_classes, dataset.channels) == (len(labels), 10, 1)
    np.testing.assert_array_equal(np.stack([e['image'][..., 0] for e in examples]), pixels)
    np.testing.assert_array_equal([e['label'] for e in examples], labels)

  # Other gzip bytes around the same idx content: accepted, and the same conversion.
  recompressed = str(tmp_path / 'recompressed')
  _write(recompressed, contents, level=1, mtime=1591347949)
  name = 'train-images-idx3-ubyte.gz'
  with open(os.path.join(recompressed, name), 'rb') as a, open(
      os.path.join(dataset_dir, name), 'rb') as b:
    assert a.read() != b.read()
  again = convert_fashion_mnist.convert(dataset_dir, source_dir=recompressed)
  assert again['fingerprint'] == info['fingerprint']


def test_damaged_content_is_refused_in_one_line_naming_the_file(tmp_path):
  # The real checksums: these small files are not Fashion-MNIST's content.
  contents, _ = _contents()
  _write(str(tmp_path / 'src'), contents)
  result = _script(f'--source_dir={tmp_path / "src"}', f'--dataset_dir={tmp_path / "out"}')
  assert result.returncode == 1
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('download_and_convert_data.py: error: '
                         f'{tmp_path / "src" / "train-images-idx3-ubyte.gz"} holds idx '
                         'content (9424 bytes decompressed) with SHA-256 ')
  assert last.endswith('--noverify_checksums')
  assert not (tmp_path / 'out').exists() or not os.listdir(tmp_path / 'out')


def test_noverify_converts_a_subset_and_records_it(tmp_path):
  contents, data = _contents(num_train=7, num_test=3)
  _write(str(tmp_path / 'src'), contents)
  out = tmp_path / 'out'
  result = _script(f'--source_dir={tmp_path / "src"}', f'--dataset_dir={out}',
                   '--noverify_checksums')
  assert result.returncode == 0, result.stderr
  assert 'fashion_mnist: train 7, test 3 images, 10 classes' in result.stdout
  assert result.stderr.count('not the official file; converting it unverified') == 4
  info = json.loads((out / 'dataset_info.json').read_text())
  assert info['checksums_verified'] is False
  assert not any(entry['verified'] for entry in info['source'].values())
  assert '--verify_checksums=False' in (out / 'download_and_convert_flags.txt').read_text()
  _, examples = read_split('fashion_mnist', 'test', str(out))
  np.testing.assert_array_equal(np.stack([e['image'][..., 0] for e in examples]),
                                data['test'][0])


@pytest.mark.parametrize('damage', ['truncated gzip', 'wrong magic'])
def test_format_checks_stay_strict_without_verification(tmp_path, damage):
  contents, _ = _contents()
  name = 't10k-labels-idx1-ubyte.gz'
  _write(str(tmp_path), contents)
  path = tmp_path / name
  if damage == 'truncated gzip':
    path.write_bytes(path.read_bytes()[:-20])
    expected = f'{path}: truncated or corrupt file'
  else:
    path.write_bytes(gzip.compress(b'\x00\x00\x08\x03' + contents[name][4:]))
    expected = f'{path}: not an idx labels file (magic 2051, expected 2049)'
  with pytest.raises(ValueError, match=re.escape(expected)):
    convert_fashion_mnist.convert(str(tmp_path / 'out'), source_dir=str(tmp_path),
                                  verify_checksums=False)


def test_readers_know_it_before_it_is_converted(tmp_path):
  with pytest.raises(ValueError, match=f'no converted fashion_mnist dataset in {tmp_path}; '
                                       'run: python download_and_convert_data.py '
                                       '--dataset_name=fashion_mnist'):
    dataset_factory.get_dataset('fashion_mnist', 'train', str(tmp_path))


_REAL = convert_fashion_mnist.DEBIAN_DIR
_needs_real_files = pytest.mark.skipif(
    not os.path.isfile(os.path.join(_REAL, 't10k-labels-idx1-ubyte.gz')),
    reason=f'real Fashion-MNIST not installed in {_REAL} (apt-get install '
           'dataset-fashion-mnist; .ci/run does so where it can)')


@_needs_real_files
def test_real_fashion_mnist_converts_to_its_70000_original_images(tmp_path):
  out = tmp_path / 'fashion_mnist'
  result = _script(f'--source_dir={_REAL}', f'--dataset_dir={out}')
  assert result.returncode == 0, result.stderr
  assert 'fashion_mnist: train 60000, test 10000 images, 10 classes' in result.stdout
  info = dataset_utils.read_info(str(out))
  assert info['checksums_verified'] is True
  for split, prefix, count in (('train', 'train', 60000), ('test', 't10k', 10000)):
    dataset = dataset_factory.get_dataset('fashion_mnist', split, str(out))
    assert dataset.num_samples == count
    assert info['splits'][split]['class_counts'] == [count // 10] * 10
    pixels = convert_mnist.read_idx(os.path.join(_REAL, f'{prefix}-images-idx3-ubyte.gz'),
                                    _MAGIC['images'])
    labels = convert_mnist.read_idx(os.path.join(_REAL, f'{prefix}-labels-idx1-ubyte.gz'),
                                    _MAGIC['labels'])
    wanted = {0, 1, count // 2, count - 1}
    index = 0
    for path in dataset.data_sources:
      for record in tfrecords.iter_records(path):
        if index in wanted:
          feature = tf.train.Example.FromString(record).features.feature
          png = feature['image/encoded'].bytes_list.value[0]
          np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))),
                                        pixels[index, ..., 0])
          assert feature['image/class/label'].int64_list.value[0] == labels[index]
        index += 1
    assert index == count


# The authors' archives carry each file's name and a time in their gzip headers; Debian's
# copies carry neither, around the very same deflate streams.
_OFFICIAL_GZIP_TIMES = {'train-images-idx3-ubyte.gz': 1504176606,
                        'train-labels-idx1-ubyte.gz': 1504176606,
                        't10k-images-idx3-ubyte.gz': 1504176627,
                        't10k-labels-idx1-ubyte.gz': 1504176627}


@_needs_real_files
def test_debian_files_are_the_published_archives_but_for_their_headers():
  for idx_file in convert_fashion_mnist.FILES.values():
    remote = idx_file.remote
    with open(os.path.join(_REAL, remote.filename), 'rb') as f:
      debian = f.read()
    assert debian[3] == 0  # no name field, no extra field
    official = (b'\x1f\x8b\x08\x08' + _OFFICIAL_GZIP_TIMES[remote.filename].to_bytes(4, 'little')
                + debian[8:10] + remote.filename[:-3].encode() + b'\x00' + debian[10:])
    assert len(official) == remote.size
    assert hashlib.sha256(official).hexdigest() == remote.sha256
    assert hashlib.sha256(gzip.decompress(debian)).hexdigest() == idx_file.content_sha256
