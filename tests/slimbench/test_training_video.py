"""The video models (i3d, s3dg) through the scripts users run: training on synthetic clips,
the throughput runner's clips/sec, and the one-line refusals where no video data exists;
the runner's --eval_crops.

Clips are a few frames of 32x32 at batch 1: the variables do not depend on the clip's size.
"""

import csv
import dataclasses
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
from slimbench import benchmark
from slimbench import benchmark_flags
from slimbench import benchmark_worker
from slimbench import inputs
from slimbench import run_spec
from slimbench import train_flags
from slimbench import training

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _script(name, *args):
  return subprocess.run([sys.executable, os.path.join(REPO_ROOT, name), *args],
                        capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)


def _train_config(*argv):
  """The TrainConfig of the training flags `argv`, as the script reads them."""
  fv = flags.FlagValues()
  names = train_flags.define_train_flags(fv)
  fv(['train', *argv])
  return train_flags.read_train_config(fv, names)


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


def test_train_script_trains_s3dg_on_synthetic_clips_and_classify_refuses_it(tmp_path):
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
  # The checkpoint exports as the registry's model (its 1000 classes), taking clips ...
  saved_model_dir = str(tmp_path / 'saved_model')
  result = _script('export_inference_graph.py', '--model_name=s3dg', '--is_video_model',
                   '--num_frames=4', '--image_size=32', f'--checkpoint_path={train_dir}',
                   f'--saved_model_dir={saved_model_dir}')
  assert result.returncode == 0, result.stderr[-3000:]
  # ... which classify_image.py, made for images, refuses in one line.
  image = tmp_path / 'frame.png'
  image.write_bytes(tf.io.encode_png(tf.zeros([32, 32, 3], tf.uint8)).numpy())
  result = _script('classify_image.py', f'--saved_model_dir={saved_model_dir}', str(image))
  assert result.returncode != 0
  assert result.stderr.strip().splitlines()[-1].endswith(
      's3dg is a video model: it classifies clips of 4 frames, not single images'), (
          result.stderr[-2000:])


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
    training.check_config(_train_config('--model_name=lenet', '--dataset_name=synthetic',
                                        '--num_frames=4'))
  training.check_config(_train_config('--model_name=i3d', '--dataset_name=synthetic',
                                      '--num_frames=4'))


def _csv_rows(path):
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def test_runner_times_a_video_model_in_clips_per_sec_apart_from_images(tmp_path):
  output_dir = tmp_path / 'study'
  result = _script('benchmark_models.py', '--study=throughput', '--models=s3dg,lenet',
                   '--modes=train', '--batch_sizes=1', '--image_size=32', '--num_frames=4',
                   '--timed_steps=2', '--warmup_steps=0', f'--output_dir={output_dir}',
                   '--noplots')
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  rows = {row['model']: row for row in _csv_rows(output_dir / benchmark.THROUGHPUT_CSV)}
  clip, image = rows['s3dg'], rows['lenet']
  assert clip['status'] == image['status'] == 'ok'
  assert (clip['input_unit'], clip['num_frames'], clip['images_per_sec']) == ('clip', '4', '')
  assert float(clip['clips_per_sec']) > 0 and float(clip['gflops_per_clip']) > 0
  assert '--num_frames=4' in clip['flags'].split()
  # --num_frames is a knob of the video models only: lenet ran without it.
  assert (image['input_unit'], image['num_frames'], image['clips_per_sec']) == ('image', '', '')
  assert float(image['images_per_sec']) > 0 and '--num_frames' not in image['flags']
  report = (output_dir / benchmark.MARKDOWN).read_text()
  images_table, clips_table = report.split('## Throughput of video models')
  assert '| lenet |' in images_table and '| s3dg |' not in images_table
  assert '| s3dg |' in clips_table and 'clips_per_sec' in clips_table
  assert 'images_per_sec' not in clips_table


def test_runner_refuses_real_data_for_a_video_model_in_its_run():
  spec = run_spec.ThroughputRun(model='i3d', mode='inference', data='real', batch_size=1,
                                image_size=32, warmup_steps=0, timed_steps=2,
                                precision='fp32', dataset='mnist5k@x', train_flags=(),
                                dataset_dir='/nonexistent')
  with pytest.raises(ValueError, match='i3d is a video model and no video dataset '
                                       'converter exists'):
    benchmark_worker.run_throughput(spec)


def _benchmark_flags(*argv):
  fv = flags.FlagValues()
  names = benchmark_flags.define_benchmark_flags(fv)
  fv(['benchmark', *argv])
  return benchmark_flags.read_study_config(fv, names)


def test_eval_crops_reach_the_evaluation_and_the_run_identity(tmp_path):
  study = _benchmark_flags('--study=train', '--models=lenet', '--optimizers=momentum',
                           '--seeds=0', '--eval_crops=10', f'--output_dir={tmp_path}')
  (spec, run_dir), = benchmark.plan_train_runs(study, str(tmp_path))
  assert spec.eval_crops == 10 and run_dir.endswith(f'-10crops-{run_spec.run_id(spec)}')
  train = train_flags.read_train_config(*benchmark_worker._parse(
      train_flags.define_train_flags, benchmark_worker.train_argv(spec, run_dir)))
  evaluated = benchmark_worker.eval_config(train, spec, 'model.ckpt-1', run_dir)
  assert evaluated.eval_crops == 10
  assert evaluated.data.dataset_split_name == spec.eval_split == 'test'
  assert evaluated.checkpoint.checkpoint_path == 'model.ckpt-1'
  one_crop = dataclasses.replace(spec, eval_crops=1)
  assert run_spec.run_id(one_crop) != run_spec.run_id(spec)
  assert one_crop.config_identity() != spec.config_identity()
  # A run recorded before the field existed keeps its identity, and so is reused.
  recorded = json.loads(run_spec.to_json(one_crop))
  del recorded['eval_crops']
  assert run_spec.run_id(run_spec.from_json(json.dumps(recorded))) == run_spec.short_hash(
      {k: v for k, v in recorded.items() if k != 'dataset_dir'})


@pytest.mark.parametrize('argv, message', [
    (['--eval_crops=3'], '--eval_crops must be 1 or 10, got 3'),
    (['--study=throughput', '--eval_crops=10'], '--eval_crops belongs to the training study'),
])
def test_runner_refuses_bad_eval_crops_in_one_line(tmp_path, argv, message):
  study = _benchmark_flags(f'--output_dir={tmp_path}', '--dataset_dir=/nonexistent', *argv)
  with pytest.raises(ValueError, match=message):
    benchmark.run_study(study)


def test_results_md_names_ten_crop_evaluation_and_keeps_it_apart(tmp_path):
  study = _benchmark_flags('--study=train', '--models=lenet', '--optimizers=momentum',
                           '--seeds=0', f'--output_dir={tmp_path}')
  (spec, run_dir), = benchmark.plan_train_runs(study, str(tmp_path))
  result = {'status': 'ok', 'accuracy': 0.5, 'recall_5': 0.9, 'loss': 1.0,
            'param_count': 10, 'images_per_sec': 100.0, 'train_seconds': 2.0,
            'setup_seconds': 1.0, 'eval_seconds': 1.0,
            'history': [{'train_seconds': 2.0, 'accuracy': 0.5}]}
  rows = [benchmark.train_row(s, dict(result, accuracy=accuracy), run_dir, 0.9)
          for s, accuracy in ((spec, 0.5), (dataclasses.replace(spec, eval_crops=10), 0.6))]
  summary = benchmark.summarize(rows)
  assert [entry['eval_crops'] for entry in summary] == [1, 10]
  report = benchmark.markdown_report(rows, summary, [])
  one_crop, ten_crops = report.split('evaluated on test, ten crops per image)')
  assert one_crop.count('| lenet |') == 1 and ten_crops.count('| lenet |') == 1
  assert '0.6' in ten_crops and '0.6' not in one_crop
