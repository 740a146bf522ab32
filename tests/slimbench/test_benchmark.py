"""benchmark_models.py: a tiny study end to end, resume, failures, HParams."""

import csv
import json
import os

from absl import flags
import pytest

from slimbench import benchmark
from slimbench import benchmark_worker


def _study(tmp_path, dataset_dir, *extra):
  fv = flags.FlagValues()
  names = benchmark.define_benchmark_flags(fv)
  fv(['benchmark', f'--output_dir={tmp_path / "study"}', f'--dataset_dir={dataset_dir}',
      '--max_number_of_steps=4', '--eval_points=2', '--batch_sizes=8', *extra])
  return fv, names


def _rows(path):
  with open(path) as f:
    return list(csv.DictReader(f))


def test_tiny_study_writes_table_plots_and_hparams(tmp_path, mnist5k_dir, capsys):
  # alexnet_v2 cannot take 28x28 images: its run fails and the others go on.
  fv, names = _study(tmp_path, mnist5k_dir, '--models=lenet,cifarnet,alexnet_v2',
                     '--optimizers=sgd', '--train_image_size=28')
  rows = benchmark.run_study(fv, names)['train']
  study = tmp_path / 'study'
  assert [r['model'] for r in rows] == ['lenet', 'cifarnet', 'alexnet_v2']
  assert [r['status'] for r in rows] == ['ok', 'ok', 'failed']
  assert 'too small' in rows[2]['error']
  csv_rows = _rows(study / benchmark.TRAIN_CSV)
  assert len(csv_rows) == 3
  lenet = csv_rows[0]
  assert lenet['steps'] == '4' and 0.0 <= float(lenet['top1']) <= 1.0
  assert int(lenet['param_count']) > 0 and float(lenet['images_per_sec']) > 0
  report = (study / benchmark.MARKDOWN).read_text()
  assert '| lenet | sgd |' in report and '| alexnet_v2 |' in report
  assert (study / 'accuracy_vs_throughput.png').stat().st_size > 0
  assert (study / 'accuracy_over_time.png').stat().st_size > 0
  assert '[3/3]' in capsys.readouterr().out

  # TensorBoard's own reader finds the hyper-parameters and metrics of each run.
  from tensorboard.backend.event_processing import event_multiplexer
  from tensorboard.plugins.hparams import plugin_data_pb2
  multiplexer = event_multiplexer.EventMultiplexer()
  multiplexer.AddRunsFromDirectory(str(study / 'train'))
  multiplexer.Reload()
  content = multiplexer.PluginRunToTagToContent('hparams')
  session_starts, experiments = {}, 0
  for run, tags in content.items():
    for tag, data in tags.items():
      plugin_data = plugin_data_pb2.HParamsPluginData.FromString(data)
      if plugin_data.HasField('experiment'):
        experiments += 1
        assert {h.name for h in plugin_data.experiment.hparam_infos} >= {
            'model', 'optimizer', 'learning_rate', 'batch_size', 'image_size'}
      if plugin_data.HasField('session_start_info'):
        session_starts[run] = plugin_data.session_start_info.hparams['model'].string_value
  assert experiments == 1
  assert sorted(session_starts.values()) == ['cifarnet', 'lenet']
  lenet_run = next(run for run, model in session_starts.items() if model == 'lenet')
  assert 'hparams/accuracy' in multiplexer.Runs()[lenet_run]['tensors']


def test_resumed_study_skips_finished_runs(tmp_path, mnist5k_dir):
  fv, names = _study(tmp_path, mnist5k_dir, '--models=lenet', '--optimizers=sgd,adam')
  benchmark.run_study(fv, names)
  result_files = sorted((tmp_path / 'study' / 'train').glob('*/result.json'))
  assert len(result_files) == 2
  stamps = [os.path.getmtime(p) for p in result_files]
  # A half-finished study: one run's result is gone.
  result_files[1].unlink()
  fv, names = _study(tmp_path, mnist5k_dir, '--models=lenet', '--optimizers=sgd,adam')
  rows = benchmark.run_study(fv, names)['train']
  assert [r['status'] for r in rows] == ['ok', 'ok']
  assert os.path.getmtime(result_files[0]) == stamps[0]  # not run again
  assert result_files[1].exists()


def test_throughput_study_on_synthetic_and_real_data(tmp_path, mnist5k_dir):
  fv = flags.FlagValues()
  names = benchmark.define_benchmark_flags(fv)
  fv(['benchmark', '--study=throughput', '--models=lenet', '--batch_sizes=4',
      '--timed_steps=3', '--warmup_steps=1', f'--output_dir={tmp_path / "tp"}',
      '--throughput_data=synthetic,real', f'--dataset_dir={mnist5k_dir}',
      '--num_intra_threads=1', '--noplots'])
  rows = benchmark.run_study(fv, names)['throughput']
  assert [(r['mode'], r['data'], r['status']) for r in rows] == [
      ('train', 'synthetic', 'ok'), ('train', 'real', 'ok'),
      ('inference', 'synthetic', 'ok'), ('inference', 'real', 'ok')]
  for row in rows:
    assert row['images_per_sec'] > 0 and row['gflops_per_image'] > 0
    assert 0 < row['peak_fraction'] < 2
    assert row['build_seconds'] > 0 and row['first_step_seconds'] > 0
  assert len(_rows(tmp_path / 'tp' / benchmark.THROUGHPUT_CSV)) == 4
  spec_path = tmp_path / 'tp' / 'throughput' / rows[1]['run'] / benchmark.SPEC_FILE
  with open(spec_path) as f:
    spec = json.load(f)
  assert spec['dataset_dir'] == str(mnist5k_dir) and spec['num_intra_threads'] == 1
  assert benchmark_worker.session_config(spec).intra_op_parallelism_threads == 1


def test_throughput_study_in_float16(tmp_path):
  fv = flags.FlagValues()
  names = benchmark.define_benchmark_flags(fv)
  fv(['benchmark', '--study=throughput', '--models=lenet', '--batch_sizes=4',
      '--timed_steps=2', '--warmup_steps=0', f'--output_dir={tmp_path / "tp"}',
      '--use_fp16', '--fp16_loss_scale=64', '--noplots'])
  rows = benchmark.run_study(fv, names)['throughput']
  assert [(r['mode'], r['precision'], r['status']) for r in rows] == [
      ('train', 'fp16', 'ok'), ('inference', 'fp16', 'ok')]
  assert all('prec=fp16' in row['run'] for row in rows)
  with open(tmp_path / 'tp' / 'throughput' / rows[0]['run'] / benchmark.SPEC_FILE) as f:
    spec = json.load(f)
  assert spec['use_fp16'] and spec['fp16_loss_scale'] == 64


@pytest.mark.parametrize('argv, message', [
    (['--models=no_such_net'], 'no_such_net'),
    (['--models=zzz*'], 'matches no registered model'),
    (['--optimizers=adamw'], 'adamw'),
    (['--model_name=lenet'], 'use --models'),
    (['--study=throughput', '--throughput_data=imagenet'], 'synthetic or real'),
    (['--fp16_loss_scale=128'], 'add --use_fp16'),
])
def test_bad_flags_fail_clearly(tmp_path, argv, message):
  fv = flags.FlagValues()
  names = benchmark.define_benchmark_flags(fv)
  fv(['benchmark', f'--output_dir={tmp_path}', '--dataset_dir=/nonexistent', *argv])
  with pytest.raises(ValueError, match=message):
    benchmark.run_study(fv, names)
