"""image_folder: mixed formats, both layouts, bad input, re-runs, resume and parallel workers."""

import io
import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest

from datasets import conversion
from datasets import convert_image_folder
from datasets import dataset_utils
from tests.datasets.conftest import image_bytes
from tests.datasets.conftest import random_pixels
from tests.datasets.conftest import records_by_filename
from tests.datasets.conftest import read_split
from tests.datasets.conftest import smooth_pixels
from tests.datasets.conftest import write


def make_mixed_folder(root):
  """cats/ and dogs/ mixing RGB and grayscale PNG, JPEG, CMYK JPEG and GIF; returns pixels.

  The returned dict maps relative path -> the RGB pixels a reader must give for lossless
  files (None for JPEGs).
  """
  rgb, gray = random_pixels(12, 10, 3, seed=1), random_pixels(9, 7, 1, seed=2)
  photo = smooth_pixels(16, 20, seed=3)
  files = {
      'cats/rgb.png': (image_bytes(rgb, 'PNG'), rgb),
      'cats/gray.png': (image_bytes(gray, 'PNG'), np.repeat(gray[..., None], 3, axis=2)),
      'cats/photo.jpg': (image_bytes(photo, 'JPEG', quality=90), None),
      'cats/cmyk.jpg': (image_bytes(photo, 'JPEG', mode='CMYK', quality=95), None),
      'dogs/gray.jpeg': (image_bytes(photo, 'JPEG', mode='L'), None),
      'dogs/palette.gif': (image_bytes(rgb, 'GIF'), None),
      'dogs/deep/nested.PNG': (image_bytes(rgb[::-1], 'PNG'), rgb[::-1]),
      'dogs/more.png': (image_bytes(rgb[:, ::-1], 'PNG'), rgb[:, ::-1]),
  }
  for name, (data, _) in files.items():
    write(os.path.join(root, name), data)
  write(os.path.join(root, 'cats', 'notes.txt'), b'not an image')
  return {name: pixels for name, (_, pixels) in files.items()}


def test_split_folders_keep_formats_and_pixels(tmp_path):
  source = str(tmp_path / 'pets')
  pixels = make_mixed_folder(os.path.join(source, 'train'))
  make_mixed_folder(os.path.join(source, 'val'))
  info = convert_image_folder.convert(str(tmp_path / 'out'), source_dir=source)
  assert info['name'] == 'pets' and info['converter'] == 'image_folder'
  assert info['class_names'] == ['cats', 'dogs']
  assert info['source']['skipped_files'] == 2
  assert {s: v['num_samples'] for s, v in info['splits'].items()} == {'train': 8,
                                                                       'validation': 8}
  # Validation keeps the sorted (class, path) order: compare every lossless image.
  dataset, examples = read_split('image_folder', 'validation', str(tmp_path / 'out'))
  assert dataset.name == 'pets' and dataset.labels_to_names == {0: 'cats', 1: 'dogs'}
  names = sorted(pixels, key=lambda n: (n.split('/')[0], os.path.join(source, 'val', n)))
  for name, example in zip(names, examples):
    assert example['label'] == (0 if name.startswith('cats') else 1)
    assert example['image'].shape[2] == 3
    if pixels[name] is not None:
      np.testing.assert_array_equal(example['image'], pixels[name])

  records = records_by_filename(str(tmp_path / 'out'), 'train')
  original = open(os.path.join(source, 'train', 'cats', 'photo.jpg'), 'rb').read()
  assert records['train/cats/photo.jpg']['image/encoded'].bytes_list.value[0] == original
  cmyk = records['train/cats/cmyk.jpg']
  assert cmyk['image/format'].bytes_list.value == [b'jpeg']
  assert Image.open(io.BytesIO(cmyk['image/encoded'].bytes_list.value[0])).mode == 'RGB'
  gif = records['train/dogs/palette.gif']
  assert gif['image/format'].bytes_list.value == [b'png']
  decoded = np.asarray(Image.open(io.BytesIO(gif['image/encoded'].bytes_list.value[0])))
  np.testing.assert_array_equal(decoded, np.asarray(
      Image.open(os.path.join(source, 'train', 'dogs', 'palette.gif')).convert('RGB')))


def test_class_folders_are_split_per_class_by_seed(tmp_path):
  source = str(tmp_path / 'flat')
  for name, count in (('a', 10), ('b', 20)):
    for i in range(count):
      write(os.path.join(source, name, f'{i}.png'), image_bytes(random_pixels(4, 4, 3, i),
                                                                'PNG'))
  splits, classes, _ = convert_image_folder.plan(source, validation_fraction=0.2, seed=3)
  assert classes == ['a', 'b']
  assert sorted(c for _, c in splits['validation']) == ['a'] * 2 + ['b'] * 4
  assert convert_image_folder.plan(source, 0.2, seed=3) == (splits, classes, 0)
  assert convert_image_folder.plan(source, 0.2, seed=4)[0] != splits
  info = convert_image_folder.convert(str(tmp_path / 'out'), source_dir=source,
                                      validation_fraction=0.2, seed=3, output_name='tiny')
  assert info['splits']['validation']['class_counts'] == [2, 4]
  assert info['splits']['train']['class_counts'] == [8, 16]
  _, examples = read_split('tiny', 'train', str(tmp_path / 'out'))
  assert sorted(e['label'] for e in examples) == [0] * 8 + [1] * 16


def test_bad_input_errors_name_the_file(tmp_path):
  source = tmp_path / 'src'
  make_mixed_folder(str(source))
  (source / 'empty').mkdir()
  with pytest.raises(ValueError, match=r'class folder .*/src/empty has no images'):
    convert_image_folder.convert(str(tmp_path / 'out'), source_dir=str(source))
  (source / 'empty').rmdir()
  with_splits = tmp_path / 'with_splits'
  make_mixed_folder(str(with_splits / 'train'))
  with pytest.raises(ValueError, match='with_splits has its splits already'):
    convert_image_folder.convert(str(tmp_path / 'out'), source_dir=str(with_splits),
                                 validation_fraction=0.5)
  bad = source / 'dogs' / 'broken.jpg'
  bad.write_bytes(image_bytes(smooth_pixels(40, 40), 'JPEG')[:300])
  with pytest.raises(ValueError, match=r'dogs/broken\.jpg: not a readable image'):
    convert_image_folder.convert(str(tmp_path / 'out'), source_dir=str(source),
                                 validation_fraction=0.0)
  out = tmp_path / 'out'
  assert not out.exists()  # every image is checked before anything is written
  with pytest.raises(ValueError, match='needs --source_dir'):
    convert_image_folder.convert(str(out), source_dir=str(tmp_path / 'missing'))


def test_rerun_skips_and_a_different_source_never_replaces_a_complete_dataset(tmp_path):
  source = tmp_path / 'src'
  make_mixed_folder(str(source))
  out = str(tmp_path / 'out')
  first = convert_image_folder.convert(out, source_dir=str(source), train_shards=2)
  times = {f: os.stat(os.path.join(out, f)).st_mtime_ns for f in os.listdir(out)}
  assert convert_image_folder.convert(out, source_dir=str(source), train_shards=2) == first
  assert times == {f: os.stat(os.path.join(out, f)).st_mtime_ns for f in os.listdir(out)}
  write(str(source / 'cats' / 'new.png'), image_bytes(random_pixels(5, 5, 3), 'PNG'))
  with pytest.raises(ValueError, match='already holds the converted dataset'):
    convert_image_folder.convert(out, source_dir=str(source), train_shards=2)
  assert times == {f: os.stat(os.path.join(out, f)).st_mtime_ns for f in os.listdir(out)}
  again = convert_image_folder.convert(out, source_dir=str(source), train_shards=2,
                                       overwrite=True)
  assert again['splits']['train']['num_samples'] == first['splits']['train']['num_samples'] + 1


def test_interrupted_conversion_redoes_only_unfinished_shards(tmp_path, monkeypatch):
  source = tmp_path / 'src'
  make_mixed_folder(str(source))
  out = str(tmp_path / 'out')
  real_write_shard = conversion._write_shard  # pylint: disable=protected-access
  calls = []

  def interrupted(task, report=None):
    calls.append(os.path.basename(task[2]))
    if len(calls) == 3:
      raise KeyboardInterrupt
    return real_write_shard(task, report)

  monkeypatch.setattr(conversion, '_write_shard', interrupted)
  with pytest.raises(KeyboardInterrupt):
    convert_image_folder.convert(out, source_dir=str(source), train_shards=4,
                                 validation_fraction=0.0)
  done = {f: os.stat(os.path.join(out, f)).st_mtime_ns for f in calls[:2]}
  assert not os.path.exists(os.path.join(out, dataset_utils.INFO_FILENAME))
  assert not [f for f in os.listdir(out) if f.endswith('.incomplete')]
  calls.clear()
  info = convert_image_folder.convert(out, source_dir=str(source), train_shards=4,
                                      validation_fraction=0.0)
  assert sorted(calls) == sorted(set(s['file'] for s in info['splits']['train']['shards']) -
                                 set(done))
  assert done == {f: os.stat(os.path.join(out, f)).st_mtime_ns for f in done}
  assert not os.path.exists(os.path.join(out, conversion.STATE_FILENAME))
  _, examples = read_split('src', 'train', out)
  assert len(examples) == 8


def test_parallel_workers_write_the_same_shards(tmp_path, monkeypatch):
  source = tmp_path / 'src'
  make_mixed_folder(str(source))
  serial = convert_image_folder.convert(str(tmp_path / 'serial'), source_dir=str(source),
                                        train_shards=3, validation_fraction=0.0)
  # Worker processes; the Python record writer spares each a TensorFlow import (its C++
  # writer writes the same bytes: see test_tfrecords).
  monkeypatch.setattr(conversion, 'PARALLEL_MIN_BYTES', 0)
  monkeypatch.setattr(conversion.Conversion, '_run_in_process', None)
  parallel = convert_image_folder.convert(str(tmp_path / 'parallel'), source_dir=str(source),
                                          train_shards=3, validation_fraction=0.0,
                                          num_workers=2)
  assert parallel['splits'] == serial['splits']

  (source / 'dogs' / 'zz_broken.png').write_bytes(b'\x89PNG\r\n\x1a\n' + b'\x00' * 50)
  with pytest.raises(ValueError, match=r'dogs/zz_broken\.png: not a readable image'):
    convert_image_folder.convert(str(tmp_path / 'failed'), source_dir=str(source),
                                 train_shards=3, validation_fraction=0.0, num_workers=2)
  assert not (tmp_path / 'failed').exists()


def test_all_grayscale_folder_reads_as_one_channel(tmp_path):
  source = tmp_path / 'digits'
  for name in ('a', 'b'):
    for i in range(2):
      write(str(source / name / f'{i}.png'), image_bytes(random_pixels(6, 5, 1, seed=i), 'PNG'))
  info = convert_image_folder.convert(str(tmp_path / 'out'), source_dir=str(source),
                                      validation_fraction=0.0)
  assert info['channels'] == 1
  _, examples = read_split('digits', 'train', str(tmp_path / 'out'))
  assert {e['image'].shape for e in examples} == {(6, 5, 1)}


def test_overwrite_replaces_every_shard_of_the_old_dataset(tmp_path):
  source = tmp_path / 'src'
  make_mixed_folder(str(source))
  out = tmp_path / 'out'
  convert_image_folder.convert(str(out), source_dir=str(source), train_shards=4)
  info = convert_image_folder.convert(str(out), source_dir=str(source), train_shards=2,
                                      overwrite=True)
  assert sorted(f for f in os.listdir(out) if f.endswith('.tfrecord')) == sorted(
      s['file'] for split in info['splits'].values() for s in split['shards'])


def _convert_script(*args):
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  return subprocess.run(
      [sys.executable, os.path.join(root, 'download_and_convert_data.py'),
       '--dataset_name=image_folder', *args], capture_output=True, text=True, timeout=300,
      env=dict(os.environ, PYTHONPATH=root), check=False)


def test_every_unreadable_image_is_listed_and_skip_bad_images_converts_the_rest(tmp_path):
  source = tmp_path / 'src'
  make_mixed_folder(str(source))
  (source / 'cats' / 'cut.jpg').write_bytes(image_bytes(smooth_pixels(40, 40), 'JPEG')[:300])
  (source / 'dogs' / 'empty.png').write_bytes(b'')
  out = tmp_path / 'out'
  args = [f'--source_dir={source}', f'--dataset_dir={out}', '--validation_fraction=0']
  result = _convert_script(*args)
  assert result.returncode != 0
  message = result.stderr.strip().splitlines()
  assert len(message) == 1, result.stderr
  assert ('2 unreadable image(s)' in message[0] and 'cats/cut.jpg: not a readable' in
          message[0] and 'dogs/empty.png: not a readable' in message[0] and
          '--skip_bad_images' in message[0]), result.stderr
  assert not out.exists() or not [f for f in os.listdir(out) if 'tfrecord' in f]

  result = _convert_script(*args, '--skip_bad_images')
  assert result.returncode == 0, result.stderr
  info = dataset_utils.read_info(str(out))
  assert [entry['file'] for entry in info['source']['skipped_images']] == [
      os.path.join('cats', 'cut.jpg'), os.path.join('dogs', 'empty.png')]
  assert all('not a readable image' in e['error'] for e in info['source']['skipped_images'])
  assert info['splits']['train']['num_samples'] == 8
  _, examples = read_split('src', 'train', str(out))
  assert len(examples) == 8


def test_fewer_than_two_classes_is_an_error(tmp_path):
  source = tmp_path / 'one'
  write(str(source / 'only' / 'a.png'), image_bytes(random_pixels(5, 5, 3), 'PNG'))
  with pytest.raises(ValueError, match=r'one has 1 class folder\(s\) \(only\); a classifier '
                     'needs at least two'):
    convert_image_folder.convert(str(tmp_path / 'out'), source_dir=str(source))
  write(str(source / 'train' / 'only' / 'a.png'), image_bytes(random_pixels(5, 5, 3), 'PNG'))
  with pytest.raises(ValueError, match='needs at least two'):
    convert_image_folder.convert(str(tmp_path / 'out2'), source_dir=str(source))
