"""A study's logdir as TensorBoard serves it to the browser: runs, training curves and
the HParams table, read back through TensorBoard's HTTP data API."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from absl import flags

from slimbench import benchmark
from slimbench import benchmark_flags

TENSORBOARD = os.path.join(os.path.dirname(sys.executable), 'tensorboard')
STARTUP_SECONDS = 120


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _get(base, path, **query):
  url = base + path + ('?' + urllib.parse.urlencode(query) if query else '')
  with urllib.request.urlopen(url, timeout=30) as response:
    return json.load(response)


def _post(base, path, body):
  request = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                   headers={'Content-Type': 'application/json'})
  with urllib.request.urlopen(request, timeout=30) as response:
    return json.load(response)


def _wait_for_runs(base, process, log, count):
  """The run names once TensorBoard serves at least `count` runs."""
  deadline = time.time() + STARTUP_SECONDS
  while time.time() < deadline:
    assert process.poll() is None, log.read_text()[-2000:]
    try:
      runs = _get(base, '/data/runs')
      if len(runs) >= count:
        return runs
    except (urllib.error.URLError, ConnectionError):
      pass
    time.sleep(1)
  raise AssertionError(f'TensorBoard served no {count} runs in {STARTUP_SECONDS} s')


def test_tensorboard_serves_the_studys_curves_and_hparams_table(tmp_path, mnist5k_dir):
  output_dir = tmp_path / 'study'
  fv = flags.FlagValues()
  names = benchmark_flags.define_benchmark_flags(fv)
  # Two optimizers (with their own learning rates): the two hyperparameters that vary.
  # A target of 0 is reached at the first evaluation, so every run has a time to target.
  fv(['benchmark', '--study=train', '--models=lenet', '--optimizers=momentum,adam',
      '--seeds=0', '--max_number_of_steps=4', '--eval_points=1', '--batch_sizes=8',
      '--train_image_size=28', '--noplots', '--target_accuracy=0',
      f'--output_dir={output_dir}', f'--dataset_dir={mnist5k_dir}'])
  rows = benchmark.run_study(benchmark_flags.read_study_config(fv, names))
  assert [r['status'] for r in rows['train']] == ['ok', 'ok']
  train_runs = sorted(f'train/{r["run"]}' for r in rows['train'])

  port = _free_port()
  base = f'http://127.0.0.1:{port}'
  log = tmp_path / 'tensorboard.log'
  with open(log, 'wb') as log_file:
    process = subprocess.Popen(
        [TENSORBOARD, f'--logdir={output_dir}', '--host=127.0.0.1', f'--port={port}',
         '--load_fast=false'], stdout=log_file, stderr=subprocess.STDOUT)
  try:
    runs = _wait_for_runs(base, process, log, len(train_runs) + 1)
    assert set(train_runs) <= set(runs), runs

    # Training curves: the loss up to the last step, and the rates.
    tags = _get(base, '/data/plugin/scalars/tags')
    for run in train_runs:
      assert {'total_loss', 'global_step/sec', 'images/sec'} <= set(tags[run]), tags[run]
      loss = _get(base, '/data/plugin/scalars/scalars', run=run, tag='total_loss')
      assert [step for _, step, _ in loss] == [1, 4]
      rates = _get(base, '/data/plugin/scalars/scalars', run=run, tag='images/sec')
      assert rates[-1][1] == 4 and rates[-1][2] > 0

    # The HParams table as the dashboard asks for it (its first five columns): the two
    # that vary, no constant one (model, batch size, seed, ...), then the metrics.
    experiment = _post(base, '/data/plugin/hparams/experiment',
                       {'experimentName': '', 'hparamsLimit': 5})
    columns = [h['name'] for h in experiment['hparamInfos']]
    assert columns == ['learning_rate', 'optimizer'], experiment
    assert all(h['differs'] for h in experiment['hparamInfos'])
    assert [m['displayName'] for m in experiment['metricInfos']] == [
        'top1', 'top5', 'loss', 'images/sec', 'time_to_target']

    groups = _post(base, '/data/plugin/hparams/session_groups', {
        'experimentName': '', 'allowedStatuses': ['STATUS_UNKNOWN', 'STATUS_SUCCESS'],
        'colParams': ([{'hparam': name} for name in columns] +
                      [{'metric': m['name']} for m in experiment['metricInfos']]),
        'startIndex': 0, 'sliceSize': 10})
    table = {}
    for group in groups['sessionGroups']:
      values = {m['name']['tag']: m['value'] for m in group['metricValues']}
      table[group['hparams']['optimizer']] = (group['hparams']['learning_rate'], values)
    assert sorted(table) == ['adam', 'momentum']
    assert table['momentum'][0] == 0.01 and table['adam'][0] == 0.001
    by_optimizer = {r['optimizer']: r for r in rows['train']}
    for optimizer, (_, values) in table.items():
      row = by_optimizer[optimizer]
      assert abs(values['hparams/accuracy'] - row['top1']) < 1e-6, values
      assert abs(values['hparams/images_per_sec'] - row['images_per_sec']) < 1e-3 * (
          row['images_per_sec'])
      assert abs(values['hparams/time_to_target'] - row['time_to_target']) < 1e-3, values
      assert {'hparams/recall_5', 'hparams/loss'} <= set(values)
  finally:
    process.terminate()
    try:
      process.wait(timeout=20)
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()
