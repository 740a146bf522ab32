"""A damaged TFRecord shard is named in one line when a training or an evaluation opens it."""

import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import tensorflow as tf

from datasets import convert_cifar
from datasets import dataset_factory
from datasets import tfrecords
from nets import nets_factory
from tests.datasets.conftest import make_tar

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def dataset_copy(tmp_path, mnist5k_dir):
  folder = tmp_path / 'mnist5k'
  shutil.copytree(mnist5k_dir, folder)
  return folder


def _run(script, *args):
  return subprocess.run([sys.executable, os.path.join(REPO_ROOT, script), *args],
                        capture_output=True, text=True, timeout=300, check=False,
                        env=dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL='2'))


def _lenet_checkpoint(directory):
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [1, 28, 28, 1])
    nets_factory.get_network_fn('lenet', num_classes=10)(images)
    tf.compat.v1.train.get_or_create_global_step()
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      return tf.compat.v1.train.Saver().save(sess, os.path.join(directory, 'model.ckpt'))


def _last_line(result):
  return result.stderr.strip().splitlines()[-1]


def test_training_and_evaluation_name_a_truncated_or_corrupted_shard(tmp_path, dataset_copy):
  train_shard = dataset_copy / 'mnist5k_train_00000-of-00001.tfrecord'
  data = train_shard.read_bytes()
  train_shard.write_bytes(data[:len(data) // 2])
  result = _run('train_image_classifier.py', f'--train_dir={tmp_path / "train"}',
                '--dataset_name=mnist5k', f'--dataset_dir={dataset_copy}',
                '--model_name=lenet', '--batch_size=2', '--max_number_of_steps=1')
  assert result.returncode != 0
  assert f'{train_shard}: truncated shard' in _last_line(result), result.stderr
  assert 'Traceback' not in result.stderr, result.stderr

  # Same size, one byte flipped in the middle of an image: only the checksum can tell.
  test_shard = dataset_copy / 'mnist5k_test_00000-of-00001.tfrecord'
  data = bytearray(test_shard.read_bytes())
  data[len(data) // 2] ^= 0xFF
  test_shard.write_bytes(bytes(data))
  checkpoint = _lenet_checkpoint(str(tmp_path / 'checkpoint'))
  result = _run('eval_image_classifier.py', f'--checkpoint_path={checkpoint}',
                f'--eval_dir={tmp_path / "eval"}', '--dataset_name=mnist5k',
                f'--dataset_dir={dataset_copy}', '--dataset_split_name=test',
                '--model_name=lenet')
  assert result.returncode != 0
  assert f'{test_shard}: damaged shard (its SHA-256 differs' in _last_line(result), result.stderr
  assert 'Traceback' not in result.stderr, result.stderr


def test_a_shard_is_hashed_once_until_it_changes(dataset_copy, monkeypatch):
  hashed = []
  real_sha256 = tfrecords._sha256_of  # pylint: disable=protected-access

  def counting(path):
    hashed.append(os.path.basename(path))
    return real_sha256(path)

  monkeypatch.setattr(tfrecords, '_sha256_of', counting)
  monkeypatch.setattr(tfrecords, '_verified_in_process', {})
  dataset_factory.get_dataset('mnist5k', 'train', str(dataset_copy))
  dataset_factory.get_dataset('mnist5k', 'train', str(dataset_copy))
  assert hashed == ['mnist5k_train_00000-of-00001.tfrecord']
  assert (dataset_copy / tfrecords.VERIFIED_FILENAME).exists()

  # Another process finds the record beside the shards.
  monkeypatch.setattr(tfrecords, '_verified_in_process', {})
  dataset_factory.get_dataset('mnist5k', 'train', str(dataset_copy))
  assert len(hashed) == 1

  shard = dataset_copy / 'mnist5k_train_00000-of-00001.tfrecord'
  stat = shard.stat()
  os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
  dataset_factory.get_dataset('mnist5k', 'train', str(dataset_copy))
  assert len(hashed) == 2


@pytest.mark.parametrize('cut_into_header', [0, 100])
def test_a_cifar_archive_cut_between_members_is_reported_as_truncated(tmp_path, no_network,
                                                                       cut_into_header):
  """tarfile takes a stream that stops where a header should be for the archive's end."""
  remote = convert_cifar.VARIANTS['cifar10']['binary']
  members = {f'cifar-10-batches-bin/data_batch_{i}.bin': b'\x01' * 3073 * 2
             for i in range(1, 6)}
  members['cifar-10-batches-bin/test_batch.bin'] = b'\x01' * 3073
  path = make_tar(str(tmp_path / remote.filename), members, mode='w')
  with tarfile.open(path) as tar:
    offset = tar.getmember('cifar-10-batches-bin/data_batch_4.bin').offset
  with open(path, 'r+b') as f:
    f.truncate(offset + cut_into_header)
  with pytest.raises(ValueError, match=re.escape(
      f'{path}: truncated archive (it stops after 3 member(s), without the end-of-archive '
      'marker)')):
    convert_cifar.convert_cifar10(str(tmp_path), verify_checksums=False)
