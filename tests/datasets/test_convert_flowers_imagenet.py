"""Flowers from its .tgz and ImageNet from an ILSVRC2012-style tree and from its tars."""

import dataclasses
import hashlib
import io
import os
import tarfile

import numpy as np
from PIL import Image
import pytest

from datasets import archives
from datasets import builtin_datasets
from datasets import convert_flowers
from datasets import convert_imagenet
from datasets import dataset_utils
from tests.datasets.conftest import add_to_tar
from tests.datasets.conftest import image_bytes
from tests.datasets.conftest import make_tar
from tests.datasets.conftest import read_split
from tests.datasets.conftest import records_by_filename
from tests.datasets.conftest import smooth_pixels
from tests.datasets.conftest import write


def flowers_archive(path, per_class=3):
  members = {'flower_photos/LICENSE.txt': b'CC-BY'}
  for index, name in enumerate(builtin_datasets.FLOWERS_CLASS_NAMES):
    for i in range(per_class):
      members[f'flower_photos/{name}/{index}_{i}.jpg'] = image_bytes(
          smooth_pixels(20 + i, 24, seed=10 * index + i), 'JPEG', quality=85)
  make_tar(str(path), members)
  return members


def _accept_flowers(monkeypatch, path):
  with open(path, 'rb') as f:
    sha256 = hashlib.sha256(f.read()).hexdigest()
  monkeypatch.setattr(convert_flowers, 'ARCHIVE', dataclasses.replace(
      convert_flowers.ARCHIVE, sha256=sha256, size=os.path.getsize(path)))


def test_flowers_archive_converts_like_tfslim(tmp_path, monkeypatch, no_network):
  members = flowers_archive(tmp_path / 'flower_photos.tgz')
  _accept_flowers(monkeypatch, tmp_path / 'flower_photos.tgz')
  info = convert_flowers.convert(str(tmp_path), num_validation=5)
  assert {s: v['num_samples'] for s, v in info['splits'].items()} == {'train': 10,
                                                                       'validation': 5}
  assert [s['file'] for s in info['splits']['validation']['shards']] == [
      f'flowers_validation_{i:05d}-of-00005.tfrecord' for i in range(5)]
  assert dataset_utils.read_label_file(str(tmp_path)) == dict(
      enumerate(builtin_datasets.FLOWERS_CLASS_NAMES))
  assert sorted(os.listdir(tmp_path)) == sorted(
      ['flower_photos.tgz', 'labels.txt', 'dataset_info.json'] +
      [s['file'] for split in info['splits'].values() for s in split['shards']])
  records = {**records_by_filename(str(tmp_path), 'train'),
             **records_by_filename(str(tmp_path), 'validation')}
  for name, feature in records.items():
    assert feature['image/encoded'].bytes_list.value[0] == members[f'flower_photos/{name}']
    label = feature['image/class/label'].int64_list.value[0]
    assert name.startswith(builtin_datasets.FLOWERS_CLASS_NAMES[label] + '/')
  dataset, examples = read_split('flowers', 'train', str(tmp_path))
  assert dataset.num_samples == len(examples) == 10
  assert {e['image'].shape[1] for e in examples} == {24}


def test_flowers_archive_with_an_escaping_member_is_refused(tmp_path, monkeypatch):
  path = tmp_path / 'flower_photos.tgz'
  with tarfile.open(path, 'w:gz') as tar:
    add_to_tar(tar, 'flower_photos/daisy/1.jpg', image_bytes(smooth_pixels(8, 8), 'JPEG'))
    add_to_tar(tar, 'flower_photos/../../evil.sh', b'rm -rf ~')
  _accept_flowers(monkeypatch, path)
  with pytest.raises(archives.ArchiveError, match=r"flower_photos\.tgz: member .*evil\.sh"):
    convert_flowers.convert(str(tmp_path), num_validation=1)
  assert sorted(os.listdir(tmp_path)) == ['flower_photos.tgz']


SYNSETS = ('n01440764', 'n01443537', 'n01484850')


def imagenet_tree(root):
  """An ILSVRC2012-style tree: train synset folders, flat validation, labels, names, boxes."""
  photo = smooth_pixels(30, 40, seed=5)
  train = {
      'n01440764/n01440764_10026.JPEG': image_bytes(photo, 'JPEG'),
      'n01440764/n01440764_2.JPEG': image_bytes(photo, 'JPEG', mode='CMYK'),
      'n01443537/n01443537_7.JPEG': image_bytes(photo, 'PNG'),  # a PNG named .JPEG
      'n01443537/n01443537_8.JPEG': image_bytes(photo, 'JPEG', mode='L'),
      'n01484850/n01484850_1.JPEG': image_bytes(photo[::-1], 'JPEG'),
  }
  for name, data in train.items():
    write(os.path.join(root, 'ILSVRC2012_img_train', name), data)
  validation_synsets = ['n01484850', 'n01440764', 'n01443537', 'n01440764']
  for i in range(4):
    write(os.path.join(root, 'ILSVRC2012_img_val', f'ILSVRC2012_val_{i + 1:08d}.JPEG'),
          image_bytes(smooth_pixels(32, 32, seed=i), 'JPEG'))
  write(os.path.join(root, 'imagenet_2012_validation_synset_labels.txt'),
        '\n'.join(validation_synsets).encode() + b'\n')
  write(os.path.join(root, 'synset_words.txt'),
        b'n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n'
        b'n01484850 great white shark\n')
  write(os.path.join(root, 'imagenet_2012_bounding_boxes.csv'),
        b'n01440764_10026.JPEG,0.1000,0.2000,0.5000,0.6000\n'
        b'n01440764_10026.JPEG,0.0000,0.0000,1.0000,1.0000\n')
  write(os.path.join(root, 'LOC_val_solution.csv'),
        b'ImageId,PredictionString\nILSVRC2012_val_00000002,n01440764 8 16 24 32 \n')
  return train, validation_synsets


def _check_imagenet(dataset_dir, validation_synsets):
  info = dataset_utils.read_info(dataset_dir)
  assert info['num_classes'] == 4 and info['background_class']
  assert dataset_utils.read_label_file(dataset_dir) == {
      0: 'background', 1: 'tench, Tinca tinca', 2: 'goldfish, Carassius auratus',
      3: 'great white shark'}
  train = records_by_filename(dataset_dir, 'train')
  assert len(train) == 5
  for name, feature in train.items():
    synset = name.split('_')[0]
    assert feature['image/class/synset'].bytes_list.value == [synset.encode()]
    assert feature['image/class/label'].int64_list.value == [SYNSETS.index(synset) + 1]
    assert feature['image/format'].bytes_list.value == [b'JPEG']
    encoded = feature['image/encoded'].bytes_list.value[0]
    assert encoded[:3] == b'\xff\xd8\xff'
    assert Image.open(io.BytesIO(encoded)).mode in ('RGB', 'L')
  assert train['n01443537_7.JPEG']['image/height'].int64_list.value == [30]
  boxes = train['n01440764_10026.JPEG']
  assert list(boxes['image/object/bbox/xmin'].float_list.value) == pytest.approx([0.1, 0.0])
  assert list(boxes['image/object/bbox/label'].int64_list.value) == [1, 1]
  dataset, examples = read_split('imagenet', 'validation', dataset_dir)
  assert dataset.has_background_class and dataset.has_bboxes
  assert [e['label'] for e in examples] == [SYNSETS.index(s) + 1 for s in validation_synsets]
  np.testing.assert_allclose(examples[1]['bbox'], [[0.5, 0.25, 1.0, 0.75]])
  assert examples[0]['bbox'].shape == (0, 4)
  return info


def test_imagenet_tree_with_labels_names_and_boxes(tmp_path, no_network):
  _, validation_synsets = imagenet_tree(str(tmp_path / 'ilsvrc'))
  info = convert_imagenet.convert(str(tmp_path / 'out'), source_dir=str(tmp_path / 'ilsvrc'))
  _check_imagenet(str(tmp_path / 'out'), validation_synsets)
  assert info['synsets'] == ['background'] + list(SYNSETS)


def test_imagenet_archives_give_the_same_records_as_the_tree(tmp_path):
  root = str(tmp_path / 'ilsvrc')
  train, validation_synsets = imagenet_tree(root)
  tree_info = convert_imagenet.convert(str(tmp_path / 'tree'), source_dir=root)
  archive_dir = tmp_path / 'archives'
  archive_dir.mkdir()
  with tarfile.open(archive_dir / convert_imagenet.TRAIN_ARCHIVE, 'w') as outer:
    for synset in SYNSETS:
      inner = io.BytesIO()
      with tarfile.open(fileobj=inner, mode='w') as tar:
        for name, data in train.items():
          if name.startswith(synset):
            add_to_tar(tar, name.split('/')[1], data)
      add_to_tar(outer, f'{synset}.tar', inner.getvalue())
  with tarfile.open(archive_dir / convert_imagenet.VALIDATION_ARCHIVE, 'w') as tar:
    folder = os.path.join(root, 'ILSVRC2012_img_val')
    for name in sorted(os.listdir(folder)):
      tar.add(os.path.join(folder, name), arcname=name)
  for name in ('imagenet_2012_validation_synset_labels.txt', 'synset_words.txt',
               'imagenet_2012_bounding_boxes.csv', 'LOC_val_solution.csv'):
    os.link(os.path.join(root, name), archive_dir / name)
  info = convert_imagenet.convert(str(archive_dir))
  _check_imagenet(str(archive_dir), validation_synsets)
  assert info['splits'] == tree_info['splits']


def test_imagenet_without_validation_labels_says_which_file_to_place(tmp_path):
  imagenet_tree(str(tmp_path))
  os.remove(tmp_path / 'imagenet_2012_validation_synset_labels.txt')
  os.remove(tmp_path / 'LOC_val_solution.csv')
  with pytest.raises(ValueError, match='imagenet_2012_validation_synset_labels.txt or '
                                       'LOC_val_solution.csv'):
    convert_imagenet.convert(str(tmp_path))
  with pytest.raises(ValueError, match='nothing is downloaded'):
    convert_imagenet.convert(str(tmp_path / 'empty'))
