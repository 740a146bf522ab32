"""Unsafe archives and pickles are refused before anything is written or run."""

import io
import os
import pickle
import tarfile

import numpy as np
import pytest

from datasets import archives
from tests.datasets.conftest import add_to_tar
from tests.datasets.conftest import make_tar
from tests.datasets.conftest import python2_pickle


def _tar_with(path, member):
  with tarfile.open(path, 'w:gz') as tar:
    add_to_tar(tar, 'good/a.txt', b'a')
    tar.addfile(member, io.BytesIO(b'evil') if member.isfile() else None)
  return str(path)


def _member(name, kind=tarfile.REGTYPE, linkname=''):
  member = tarfile.TarInfo(name)
  member.type = kind
  member.linkname = linkname
  member.size = 4 if kind == tarfile.REGTYPE else 0
  return member


@pytest.mark.parametrize('member, message', [
    (_member('good/../../escape.txt'), "climbs out with '..'"),
    (_member('/etc/escape.txt'), 'absolute path'),
    (_member('good/link', tarfile.SYMTYPE, '/etc/passwd'), 'is a link'),
    (_member('good/hard', tarfile.LNKTYPE, 'good/a.txt'), 'is a link'),
    (_member('good/fifo', tarfile.FIFOTYPE), 'special file'),
])
def test_unsafe_members_are_refused_and_nothing_is_extracted(tmp_path, member, message):
  path = _tar_with(tmp_path / 'bad.tgz', member)
  dest = tmp_path / 'out'
  with pytest.raises(archives.ArchiveError, match=message) as error:
    archives.safe_extract(path, str(dest))
  assert 'bad.tgz' in str(error.value)
  with pytest.raises(archives.ArchiveError, match=message):
    list(archives.iter_tar(path))
  assert not dest.exists()
  assert not (tmp_path / 'escape.txt').exists()
  assert sorted(os.listdir(tmp_path)) == ['bad.tgz']


def test_truncated_archive_fails_without_a_partial_folder(tmp_path):
  path = make_tar(str(tmp_path / 'photos.tgz'),
                  {f'p/{i}.bin': os.urandom(20000) for i in range(5)})
  with open(path, 'r+b') as f:
    f.truncate(os.path.getsize(path) // 2)
  with pytest.raises(archives.ArchiveError, match='photos.tgz: truncated or corrupt'):
    archives.safe_extract(path, str(tmp_path / 'p'))
  with pytest.raises(archives.ArchiveError, match='photos.tgz'):
    list(archives.iter_tar(path))
  assert sorted(os.listdir(tmp_path)) == ['photos.tgz']


def test_nested_uncompressed_tars_are_indexed_in_place(tmp_path):
  inner = io.BytesIO()
  with tarfile.open(fileobj=inner, mode='w') as tar:
    add_to_tar(tar, 'n0_1.JPEG', b'first image')
    add_to_tar(tar, 'n0_2.JPEG', b'second')
  path = make_tar(str(tmp_path / 'train.tar'), {'n0.tar': inner.getvalue(), 'x.txt': b'x'},
                  mode='w')
  nested = archives.index_nested_tars(path, archives.index_tar(path))
  assert list(nested) == ['n0.tar']
  assert {name: archives.read_range(path, *where) for name, where in
          nested['n0.tar'].items()} == {'n0_1.JPEG': b'first image', 'n0_2.JPEG': b'second'}


def test_python2_cifar_pickles_load_as_arrays():
  data = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
  batch = {b'batch_label': b'training batch 1 of 5', b'labels': [3, 9], b'data': data,
           b'filenames': [b'a.png', b'b.png']}
  raw = python2_pickle(batch)
  assert b'numpy.core.multiarray\n_reconstruct' in raw
  loaded = archives.restricted_unpickle(raw, 'data_batch_1')
  assert loaded[b'labels'] == [3, 9]
  assert loaded[b'data'].dtype == np.uint8
  np.testing.assert_array_equal(loaded[b'data'], data)
  for protocol in (2, 3, 4):
    again = archives.restricted_unpickle(pickle.dumps(batch, protocol=protocol), 'batch')
    np.testing.assert_array_equal(again[b'data'], data)


class _RunsCommand:
  def __reduce__(self):
    return (os.system, ('touch /tmp/slimbench_pwned',))


class _Evaluates:
  def __reduce__(self):
    return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize('payload, message', [
    ({'x': _RunsCommand()}, 'tries to build posix.system'),
    ([_Evaluates()], r'tries to build (__builtin__|builtins)\.eval'),
    (np.array([1, 'text'], dtype=object), 'non-numeric dtype'),
    (np.zeros(2, dtype=[('a', 'u1'), ('b', 'f4')]), 'non-numeric dtype'),
    (np.datetime64('2020-01-01'), 'non-numeric dtype'),
])
def test_pickles_that_build_anything_else_are_refused(payload, message):
  raw = pickle.dumps(payload, protocol=2)
  with pytest.raises(archives.ArchiveError, match=f'data_batch_1: refused.*{message}'):
    archives.restricted_unpickle(raw, 'data_batch_1')
  assert not os.path.exists('/tmp/slimbench_pwned')


def test_truncated_pickle_is_named():
  raw = pickle.dumps({b'data': np.zeros((4, 4), np.uint8)}, protocol=2)
  with pytest.raises(archives.ArchiveError, match='test_batch: refused or unreadable'):
    archives.restricted_unpickle(raw[:len(raw) // 2], 'test_batch')
