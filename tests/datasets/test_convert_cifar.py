"""CIFAR-10/100 from binary and python-pickle archives written in the real layouts."""

import dataclasses
import hashlib
import os
import pickle

import numpy as np
import pytest

from datasets import builtin_datasets
from datasets import convert_cifar
from datasets import dataset_utils
from datasets import download
from tests.datasets.conftest import make_tar
from tests.datasets.conftest import python2_pickle
from tests.datasets.conftest import read_split

TRAIN_PER_BATCH = 3
NUM_TEST = 4


def _batches(cifar100, seed=0):
  """{batch: (pixels [N, 32, 32, 3], fine labels, coarse labels)} of CIFAR's layout."""
  rng = np.random.RandomState(seed)
  names = ['train'] if cifar100 else [f'data_batch_{i}' for i in range(1, 6)]
  sizes = {name: TRAIN_PER_BATCH * (5 if cifar100 else 1) for name in names}
  sizes['test' if cifar100 else 'test_batch'] = NUM_TEST
  return {name: (rng.randint(0, 256, (n, 32, 32, 3), dtype=np.uint8),
                 rng.randint(0, 100 if cifar100 else 10, n), rng.randint(0, 20, n))
          for name, n in sizes.items()}


def _planes(pixels):
  return pixels.transpose(0, 3, 1, 2).reshape(len(pixels), -1)


def binary_archive(path, cifar100):
  batches = _batches(cifar100)
  folder = 'cifar-100-binary' if cifar100 else 'cifar-10-batches-bin'
  members = {}
  for name, (pixels, fine, coarse) in batches.items():
    heads = [coarse, fine] if cifar100 else [fine]
    table = np.concatenate([np.stack(heads, axis=1).astype(np.uint8), _planes(pixels)], 1)
    members[f'{folder}/{name}.bin'] = table.tobytes()
  if cifar100:
    members[f'{folder}/fine_label_names.txt'] = ''.join(
        f'fine{i}\n' for i in range(100)).encode()
    members[f'{folder}/coarse_label_names.txt'] = ''.join(
        f'coarse{i}\n' for i in range(20)).encode()
  else:
    members[f'{folder}/batches.meta.txt'] = '\n'.join(
        builtin_datasets.CIFAR10_CLASS_NAMES).encode() + b'\n\n'
  members[f'{folder}/readme.html'] = b'<html></html>'
  return make_tar(str(path), members), batches


def python_archive(path, cifar100, meta=None):
  batches = _batches(cifar100)
  folder = 'cifar-100-python' if cifar100 else 'cifar-10-batches-py'
  members = {}
  for name, (pixels, fine, coarse) in batches.items():
    batch = {b'data': _planes(pixels), b'filenames': [b'x.png'] * len(fine)}
    if cifar100:
      batch.update({b'fine_labels': fine.tolist(), b'coarse_labels': coarse.tolist()})
    else:
      batch[b'labels'] = fine.tolist()
    members[f'{folder}/{name}'] = python2_pickle(batch)
  if meta is None:
    meta = python2_pickle({b'label_names': [n.encode() for n in
                                            builtin_datasets.CIFAR10_CLASS_NAMES]}
                          if not cifar100 else
                          {b'fine_label_names': [f'fine{i}'.encode() for i in range(100)],
                           b'coarse_label_names': [f'c{i}'.encode() for i in range(20)]})
  members[f'{folder}/{"meta" if cifar100 else "batches.meta"}'] = meta
  return make_tar(str(path), members), batches


def _accept(monkeypatch, name, kind, path):
  """Makes the test's archive the 'official' one (its SHA-256 and size)."""
  variants = {k: dict(v) for k, v in convert_cifar.VARIANTS.items()}
  with open(path, 'rb') as f:
    sha256 = hashlib.sha256(f.read()).hexdigest()
  variants[name][kind] = dataclasses.replace(variants[name][kind], sha256=sha256,
                                             size=os.path.getsize(path))
  monkeypatch.setattr(convert_cifar, 'VARIANTS', variants)


def _check_pixels(name, dataset_dir, batches, cifar100):
  order = ['train'] if cifar100 else [f'data_batch_{i}' for i in range(1, 6)]
  for split, members in (('train', order), ('test', ['test' if cifar100 else 'test_batch'])):
    dataset, examples = read_split(name, split, dataset_dir)
    pixels = np.concatenate([batches[m][0] for m in members])
    labels = np.concatenate([batches[m][1] for m in members])
    assert dataset.num_samples == len(labels)
    np.testing.assert_array_equal(np.stack([e['image'] for e in examples]), pixels)
    np.testing.assert_array_equal([e['label'] for e in examples], labels)


@pytest.mark.parametrize('name', ['cifar10', 'cifar100'])
def test_binary_archive_in_dataset_dir(tmp_path, monkeypatch, no_network, name):
  cifar100 = name == 'cifar100'
  remote = convert_cifar.VARIANTS[name]['binary']
  path, batches = binary_archive(tmp_path / remote.filename, cifar100)
  _accept(monkeypatch, name, 'binary', path)
  info = getattr(convert_cifar, f'convert_{name}')(str(tmp_path))
  assert info['source']['version'] == 'binary'
  _check_pixels(name, str(tmp_path), batches, cifar100)
  names = dataset_utils.read_label_file(str(tmp_path))
  assert names[1] == ('fine1' if cifar100 else 'automobile')
  if cifar100:
    assert info['coarse_class_names'][19] == 'coarse19'


@pytest.mark.parametrize('name', ['cifar10', 'cifar100'])
def test_python_archive_goes_through_the_restricted_unpickler(tmp_path, monkeypatch,
                                                               no_network, name):
  cifar100 = name == 'cifar100'
  remote = convert_cifar.VARIANTS[name]['python']
  path, batches = python_archive(tmp_path / remote.filename, cifar100)
  _accept(monkeypatch, name, 'python', path)
  info = getattr(convert_cifar, f'convert_{name}')(str(tmp_path))
  assert info['source']['version'] == 'python'
  _check_pixels(name, str(tmp_path), batches, cifar100)
  if cifar100:
    assert info['coarse_class_names'][3] == 'c3'


def test_extracted_folder_as_source_dir(tmp_path):
  archive, batches = binary_archive(tmp_path / 'c.tgz', cifar100=False)
  from datasets import archives  # pylint: disable=g-import-not-at-top
  archives.safe_extract(archive, str(tmp_path / 'src'))
  convert_cifar.convert_cifar10(str(tmp_path / 'out'), source_dir=str(tmp_path / 'src'))
  _check_pixels('cifar10', str(tmp_path / 'out'), batches, cifar100=False)


class _Payload:
  def __reduce__(self):
    return (os.system, ('touch /tmp/slimbench_cifar_pwned',))


def test_malicious_pickle_in_archive_is_refused(tmp_path, monkeypatch, no_network):
  remote = convert_cifar.VARIANTS['cifar10']['python']
  path, _ = python_archive(tmp_path / remote.filename, False,
                           meta=pickle.dumps({b'label_names': [_Payload()]}, protocol=2))
  _accept(monkeypatch, 'cifar10', 'python', path)
  with pytest.raises(ValueError, match=r'cifar-10-python\.tar\.gz:batches\.meta: refused'):
    convert_cifar.convert_cifar10(str(tmp_path))
  assert not os.path.exists('/tmp/slimbench_cifar_pwned')
  assert not (tmp_path / dataset_utils.INFO_FILENAME).exists()


def test_truncated_batch_is_named(tmp_path, monkeypatch, no_network):
  remote = convert_cifar.VARIANTS['cifar10']['binary']
  members = {f'cifar-10-batches-bin/data_batch_{i}.bin': b'\x01' * 3073 for i in range(1, 6)}
  members['cifar-10-batches-bin/test_batch.bin'] = b'\x01' * 3000
  path = make_tar(str(tmp_path / remote.filename), members)
  _accept(monkeypatch, 'cifar10', 'binary', path)
  with pytest.raises(ValueError, match=r'test_batch\.bin: 3000 bytes is not a whole number'):
    convert_cifar.convert_cifar10(str(tmp_path))
  assert sorted(os.listdir(tmp_path)) == [remote.filename]


def test_noverify_checksums_converts_a_repacked_archive(tmp_path, no_network, caplog):
  remote = convert_cifar.VARIANTS['cifar10']['binary']
  path, batches = binary_archive(tmp_path / remote.filename, cifar100=False)
  with pytest.raises(download.ChecksumError,
                     match=f'{remote.filename} has .*--noverify_checksums'):
    convert_cifar.convert_cifar10(str(tmp_path))
  info = convert_cifar.convert_cifar10(str(tmp_path), verify_checksums=False)
  assert info['checksums_verified'] is False
  assert 'not the official file; converting it unverified' in caplog.text
  _check_pixels('cifar10', str(tmp_path), batches, cifar100=False)
