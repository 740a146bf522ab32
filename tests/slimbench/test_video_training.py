"""The video models (i3d, s3dg) through the scripts users run: training on synthetic clips,
the throughput runner's clips/sec, and the one-line refusals where no video data exists.

Clips are a few frames of 32x32 at batch 1: the variables do not depend on the clip's size.
"""

import json
import math
import os
import subprocess
import sys

from absl import flags
import numpy as np
import pytest
import tensorflow as tf

from datasets import dataset_factory
from slimbench import inputs
from slimbench import train_flags
from slimbench import training

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _script(name, *args):
  return subprocess.run([sys.executable, os.path.join(REPO_ROOT, name), *args],
                        capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)


def _train_flags(*argv):
  fv = flags.FlagValues()
  train_flags.define_train_flags(fv)
  fv(['train', *argv])
  return fv


def test_synthetic_clips_batch_as_frames_of_the_model_size():
  dataset = dataset_factory.get_dataset('synthetic', 'train', image_size=20, num_classes=7,
                                        num_frames=3)
  example = next(iter(dataset.read(num_epochs=1)))
  assert example['image'].shape == (3, 20, 20, 3) and example['image'].dtype == tf.uint8
  clips, labels = next(iter(inputs.make_batches(dataset, 'inception', 16, 2,
                                                is_training=True)))
  assert clips.shape == (2, 3, 16, 16, 3) and labels.shape == (2,)
  assert -1.0 <= float(tf.reduce_min(clips)) and float(tf.reduce_max(clips)) <= 1.0
  # Every frame is a different random image: the clip is not one frame repeated.
  assert not np.allclose(clips[0, 0], clips[0, 1])
  with pytest.raises(ValueError, match='num_frames >= 1'):
    dataset_factory.get_dataset('synthetic', 'train', num_frames=0)


def test_train_script_trains_s3dg_on_synthetic_clips(tmp_path):
  train_dir = str(tmp_path / 'train')
  result = _script('train_image_classifier.py', '--model_name=s3dg',
                   '--dataset_name=synthetic', '--train_image_size=32', '--num_frames=4',
                   '--batch_size=1', '--max_number_of_steps=2', f'--train_dir={train_dir}')
  assert result.returncode == 0, result.stderr[-3000:]
  with open(os.path.join(train_dir, training.RESULTS_FILE)) as f:
    results = json.load(f)
  assert results['global_step'] == 2 and math.isfinite(results['loss'])
  assert tf.train.latest_checkpoint(train_dir).endswith('model.ckpt-2')
  with open(os.path.join(train_dir, training.FLAGS_FILE)) as f:
    assert '--num_frames=4' in f.read().split('\n')


def test_train_script_refuses_a_video_model_on_a_real_dataset_in_one_line(tmp_path):
  result = _script('train_image_classifier.py', '--model_name=i3d', '--dataset_name=mnist5k',
                   f'--dataset_dir={tmp_path}', f'--train_dir={tmp_path / "train"}')
  assert result.returncode != 0
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('train_image_classifier.py: --model_name=i3d is a video model and '
                         'no video dataset converter exists'), result.stderr[-2000:]
  assert not os.path.exists(tmp_path / 'train' / 'model.ckpt-0.index')


def test_num_frames_is_refused_for_an_image_model():
  with pytest.raises(ValueError, match='--num_frames applies to video models only; lenet '
                                       'is an image model'):
    training.check_flags(_train_flags('--model_name=lenet', '--dataset_name=synthetic',
                                      '--num_frames=4'))
  training.check_flags(_train_flags('--model_name=i3d', '--dataset_name=synthetic',
                                    '--num_frames=4'))
