"""Processes killed at seeded random moments, then run again: the outputs equal those of a run
that was never interrupted. (Training's own case is in
tests/slimbench/test_training_reliability.py.)"""

import csv
import json
import os
import random
import signal
import subprocess
import sys
import time

from slimbench import benchmark

REPO = benchmark.WORK_ROOT


def _start(command):
  return subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)


def _kill_after(process, seconds):
  time.sleep(seconds)
  process.send_signal(signal.SIGKILL)
  process.wait(timeout=60)


def _wait_for_line(process, text, seconds=120):
  """Reads the process's stderr until `text` appears (or the process ends)."""
  deadline = time.time() + seconds
  while time.time() < deadline:
    line = process.stderr.readline()
    if not line or text in line:
      return bool(line)
  raise AssertionError(f'waited {seconds} s for {text!r}')


def test_conversion_killed_at_random_points_converts_as_an_uninterrupted_run(
    tmp_path, mnist5k_dir):
  dataset_dir = tmp_path / 'mnist5k'
  command = [sys.executable, 'download_and_convert_data.py', '--dataset_name=mnist5k',
             f'--dataset_dir={dataset_dir}']
  chance = random.Random(18)
  interrupted = 0
  for _ in range(3):
    process = _start(command)
    try:
      if _wait_for_line(process, 'converting mnist5k'):
        interrupted += process.poll() is None
        _kill_after(process, chance.uniform(0.0, 0.5))
    finally:
      process.kill()
      process.wait()
  assert interrupted, 'no kill landed while converting'
  done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-2000:]

  expected = json.loads((open(os.path.join(mnist5k_dir, 'dataset_info.json')).read()))
  converted = json.loads((dataset_dir / 'dataset_info.json').read_text())
  assert converted['splits'] == expected['splits']  # records: counts, bytes and SHA-256
  assert converted['fingerprint'] == expected['fingerprint']
  # No temporary or partial file is left: the shards, labels and info, and the flags the
  # script records.
  # (.verified_shards.json is the readers' cache of shard hashes, which other tests that
  # read the shared mnist5k folder leave there.)
  expected_files = set(os.listdir(mnist5k_dir)) - {'.verified_shards.json'}
  assert set(os.listdir(dataset_dir)) - {'.verified_shards.json'} == expected_files | {
      'download_and_convert_flags.txt'}


def test_a_rerun_removes_what_a_killed_conversion_left_half_written_and_nothing_else(
    tmp_path):
  # What atomic_output leaves when a kill lands while it writes the info, the labels or
  # the flags file; beside it, files of the user's with similar names.
  dataset_dir = tmp_path / 'mnist5k'
  dataset_dir.mkdir()
  stale = ['.dataset_info.json.k9zh2q5m.incomplete', '.labels.txt.a1b2c3d4.incomplete',
           '.download_and_convert_flags.txt.x7y8z9w0.incomplete']
  users = ['.dataset_info.json.mine', 'notes.incomplete']
  for name in stale + users:
    (dataset_dir / name).write_text('partial')
  done = subprocess.run([sys.executable, 'download_and_convert_data.py',
                         '--dataset_name=mnist5k', f'--dataset_dir={dataset_dir}'],
                        cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
  assert done.returncode == 0, done.stderr[-2000:]
  left = set(os.listdir(dataset_dir))
  assert not left & set(stale) and set(users) <= left
  assert 'dataset_info.json' in left


def test_study_killed_at_random_points_records_what_an_uninterrupted_one_does(
    tmp_path, mnist5k_dir):
  argv = ['--study=train', '--models=lenet', '--optimizers=momentum', '--seeds=0',
          '--max_number_of_steps=60', '--eval_points=2', '--batch_sizes=8',
          '--train_image_size=28', '--noplots', f'--dataset_dir={mnist5k_dir}']
  script = os.path.join(REPO, 'benchmark_models.py')

  def study(output_dir):
    return [sys.executable, script, *argv, f'--output_dir={output_dir}']

  uninterrupted = subprocess.run(study(tmp_path / 'once'), cwd=REPO, capture_output=True,
                                 text=True, timeout=600)
  assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]

  chance = random.Random(18)
  for _ in range(2):
    process = _start(study(tmp_path / 'killed'))
    try:
      if _wait_for_line(process, ' step '):
        _kill_after(process, chance.uniform(0.0, 4.0))
    finally:
      process.kill()
      process.wait()
  rerun = subprocess.run(study(tmp_path / 'killed'), cwd=REPO, capture_output=True,
                         text=True, timeout=600)
  assert rerun.returncode == 0, rerun.stderr[-2000:]

  def row(output_dir):
    with open(output_dir / 'results.csv', newline='') as f:
      rows = list(csv.DictReader(f))
    assert len(rows) == 1
    return rows[0]

  expected, got = row(tmp_path / 'once'), row(tmp_path / 'killed')
  for column in ('model', 'optimizer', 'steps', 'seed', 'eval_points', 'run_id', 'status'):
    assert got[column] == expected[column], column
  assert got['status'] == 'ok' and got['steps'] == '60'
  assert float(got['images_per_sec']) > 0 and float(got['train_seconds']) > 0
  assert 0.0 <= float(got['top1']) <= 1.0
