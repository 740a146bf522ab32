"""benchmark_models.py: run identity, accumulation, honest times, processes, seeds, provenance."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

from absl import flags
import pytest
import tensorflow as tf

from slimbench import benchmark
from slimbench import benchmark_flags
from slimbench import benchmark_worker
from slimbench import run_spec
from slimbench import runtime_tuning
from slimbench import statistics

tf1 = tf.compat.v1
SCRIPT = os.path.join(benchmark.WORK_ROOT, 'benchmark_models.py')
PROVENANCE = ('commit', 'tf_version', 'cpu', 'cores', 'threads', 'onednn', 'date', 'dataset')
# A lenet study small enough for the tests: 28x28 (lenet's own size), batch 8.
TINY = ['--study=train', '--models=lenet', '--optimizers=momentum', '--seeds=0',
        '--max_number_of_steps=4', '--eval_points=2', '--batch_sizes=8',
        '--train_image_size=28', '--noplots']


def _flags(*argv):
  """The study of benchmark_models.py's command line `argv`."""
  fv = flags.FlagValues()
  names = benchmark_flags.define_benchmark_flags(fv)
  fv(['benchmark', *argv])
  return benchmark_flags.read_study_config(fv, names)


def _study(output_dir, dataset_dir, *extra):
  return _flags(*TINY, f'--output_dir={output_dir}', f'--dataset_dir={dataset_dir}', *extra)


def _rows(path):
  with open(path) as f:
    return list(csv.DictReader(f))


def _run_ids(output_dir, dataset_dir, *extra):
  study = _study(output_dir, dataset_dir, *extra)
  runs = benchmark.plan_train_runs(study, study.data.dataset_dir)
  return [run_spec.run_id(spec) for spec, _ in runs], runs


def test_every_kind_of_change_is_another_run(tmp_path, mnist5k_dir):
  base, runs = _run_ids(tmp_path, mnist5k_dir)
  assert _run_ids(tmp_path, mnist5k_dir)[0] == base  # same configuration, same run
  spec, run_dir = runs[0]
  assert os.path.basename(run_dir).startswith('lenet-momentum-lr0.01-bs8-img28-4steps-seed0')
  assert run_spec.from_json(run_spec.to_json(spec)) == spec

  # Another dataset content: the same files but one shard's checksum differs.
  other_data = tmp_path / 'other_mnist5k'
  other_data.mkdir()
  with open(os.path.join(mnist5k_dir, 'dataset_info.json')) as f:
    info = json.load(f)
  info['splits']['train']['shards'][0]['sha256'] = '0' * 64
  (other_data / 'dataset_info.json').write_text(json.dumps(info))
  changes = {
      'training flag': ['--weight_decay=0.001'],
      'another training flag': ['--label_smoothing=0.1'],
      'dataset': [f'--dataset_dir={other_data}'],
      'image size': ['--train_image_size=24'],
      'steps': ['--max_number_of_steps=6'],
      'seed': ['--seeds=1'],
      'precision': ['--use_fp16'],
      'threads': ['--num_intra_threads=1'],
      'evaluation points': ['--eval_points=3'],
  }
  seen = {base[0]}
  for kind, argv in changes.items():
    ids, _ = _run_ids(tmp_path, mnist5k_dir, *argv)
    assert ids[0] not in seen, kind
    seen.add(ids[0])
  # A flag defined by train_flags is part of the identity without the runner naming it.
  assert '--learning_rate_decay_type=exponential' in spec.train_flags


def test_changed_steps_run_again_rows_merge_and_lost_results_are_rebuilt(tmp_path,
                                                                         mnist5k_dir):
  output_dir = tmp_path / 'study'
  first = benchmark.run_study(_study(output_dir, mnist5k_dir))['train']
  assert [(r['steps'], r['status']) for r in first] == [(4, 'ok')]
  first_dir = output_dir / 'train' / first[0]['run']
  stamp = os.path.getmtime(first_dir / benchmark.RESULT_FILE)

  second = benchmark.run_study(_study(output_dir, mnist5k_dir,
                                       '--max_number_of_steps=6'))['train']
  assert second[0]['run'] != first[0]['run'] and second[0]['steps'] == 6
  rows = _rows(output_dir / benchmark.TRAIN_CSV)
  assert sorted(r['steps'] for r in rows) == ['4', '6']  # both calls' rows
  assert os.path.getmtime(first_dir / benchmark.RESULT_FILE) == stamp
  report = (output_dir / benchmark.MARKDOWN).read_text()
  assert '(4 steps, evaluated on test)' in report and '(6 steps, evaluated on test)' in report

  # The same configuration again is reused; with its result.json lost, the result is
  # rebuilt from the run's journal without training again, with its measured rate.
  again = benchmark.run_study(_study(output_dir, mnist5k_dir))['train']
  assert again[0]['run'] == first[0]['run']
  assert os.path.getmtime(first_dir / benchmark.RESULT_FILE) == stamp
  (first_dir / benchmark.RESULT_FILE).unlink()
  rebuilt = benchmark.run_study(_study(output_dir, mnist5k_dir))['train'][0]
  assert rebuilt['status'] == 'ok' and rebuilt['steps'] == 4
  assert rebuilt['images_per_sec'] > 0 and rebuilt['train_seconds'] == first[0]['train_seconds']
  assert rebuilt['param_count'] == first[0]['param_count'] > 0
  assert len(_rows(output_dir / benchmark.TRAIN_CSV)) == 2


def test_seeds_failures_summary_provenance_plots_and_hparams(tmp_path, mnist5k_dir, capsys):
  # alexnet_v2 cannot take 28x28 images: its runs fail and the others go on.
  output_dir = tmp_path / 'study'
  study = _study(output_dir, mnist5k_dir, '--models=lenet,alexnet_v2', '--seeds=0,1',
                     '--plots')
  rows = benchmark.run_study(study)
  assert [(r['model'], r['seed'], r['status']) for r in rows['train']] == [
      ('lenet', 0, 'ok'), ('lenet', 1, 'ok'), ('alexnet_v2', 0, 'failed'),
      ('alexnet_v2', 1, 'failed')]
  assert len(rows['failed']) == 2 and 'too small' in rows['failed'][0]['error']
  assert '[4/4]' in capsys.readouterr().out

  csv_rows = _rows(output_dir / benchmark.TRAIN_CSV)
  lenet = [r for r in csv_rows if r['model'] == 'lenet']
  assert [r['seed'] for r in lenet] == ['0', '1']
  for row in lenet:
    assert row['steps'] == '4' and 0.0 <= float(row['top1']) <= 1.0
    assert float(row['images_per_sec']) > 0 and int(row['param_count']) > 0
    # --num_preprocessing_threads=0 (the default): the count measured on this machine.
    assert int(row['input_threads']) == runtime_tuning.preprocessing_threads(0)
    # Training time is training steps only; setup and evaluation are their own columns.
    assert 0 < float(row['train_seconds']) < float(row['setup_seconds'])
    assert float(row['eval_seconds']) > 0
    # The evaluation at step 2 is not in the training time of steps 3 and 4.
    result = json.loads((output_dir / 'train' / row['run'] / benchmark.RESULT_FILE).read_text())
    first, second = result['history']
    assert second['train_seconds'] - first['train_seconds'] < result['eval_seconds'] / 4
  summary = _rows(output_dir / benchmark.SUMMARY_CSV)
  lenet_summary = next(r for r in summary if r['model'] == 'lenet')
  assert lenet_summary['n_seeds'] == '2' and lenet_summary['seeds'] == '0 1'
  top1 = [float(r['top1']) for r in lenet]
  assert float(lenet_summary['top1_mean']) == pytest.approx(sum(top1) / 2, abs=1e-3)
  assert float(lenet_summary['top1_ci95']) == pytest.approx(
      statistics.ci95_half_width(top1), rel=1e-3, abs=1e-4)
  assert lenet_summary['images_per_sec_ci95'] != ''
  alexnet_summary = next(r for r in summary if r['model'] == 'alexnet_v2')
  assert alexnet_summary['n_seeds'] == '0' and alexnet_summary['n_failed'] == '2'

  for path in (benchmark.TRAIN_CSV, benchmark.SUMMARY_CSV):
    for row in _rows(output_dir / path):
      for key in PROVENANCE:
        assert row[key], (path, key)
  assert lenet[0]['dataset'].startswith('mnist5k@') and lenet[0]['tf_version'] == tf.__version__
  assert lenet[0]['onednn'] in ('on', 'off') and lenet[0]['cores'] == str(os.cpu_count())
  report = (output_dir / benchmark.MARKDOWN).read_text()
  for key in PROVENANCE:
    assert f'- {key}: ' in report
  assert '| lenet | momentum |' in report and ' ± ' in report and '| best |' in report
  assert '## Failed runs' in report and 'alexnet_v2' in report
  assert (output_dir / 'accuracy_vs_throughput.png').stat().st_size > 0
  assert (output_dir / 'accuracy_over_time.png').stat().st_size > 0

  # TensorBoard's own reader finds the hyper-parameters and metrics of each run.
  from tensorboard.backend.event_processing import event_multiplexer
  from tensorboard.plugins.hparams import plugin_data_pb2
  multiplexer = event_multiplexer.EventMultiplexer()
  multiplexer.AddRunsFromDirectory(str(output_dir / 'train'))
  multiplexer.Reload()
  content = multiplexer.PluginRunToTagToContent('hparams')
  session_starts, experiments = {}, 0
  for run, tags in content.items():
    for data in tags.values():
      plugin_data = plugin_data_pb2.HParamsPluginData.FromString(data)
      if plugin_data.HasField('experiment'):
        experiments += 1
        # Only what varies among the finished runs (alexnet_v2's failed): the seed.
        assert [h.name for h in plugin_data.experiment.hparam_infos] == ['seed']
      if plugin_data.HasField('session_start_info'):
        session_starts[run] = plugin_data.session_start_info.hparams['seed'].number_value
  assert experiments == 1 and sorted(session_starts.values()) == [0, 1]
  assert all('hparams/accuracy' in multiplexer.Runs()[run]['tensors'] for run in session_starts)


def _worker_pids(spec_path):
  pids = []
  for entry in os.listdir('/proc'):
    if entry.isdigit():
      try:
        with open(f'/proc/{entry}/cmdline', 'rb') as f:
          if str(spec_path).encode() in f.read():
            pids.append(int(entry))
      except OSError:
        pass
  return pids


def _wait_for(predicate, seconds, what):
  deadline = time.time() + seconds
  while time.time() < deadline:
    value = predicate()
    if value:
      return value
    time.sleep(0.05)
  raise AssertionError(f'waited {seconds} s for {what}')


def test_sigkilled_runner_takes_its_worker_and_the_rerun_resumes_truthfully(tmp_path,
                                                                           mnist5k_dir):
  output_dir = tmp_path / 'study'
  argv = [*TINY, f'--output_dir={output_dir}', f'--dataset_dir={mnist5k_dir}',
          '--max_number_of_steps=400']
  runner = subprocess.Popen([sys.executable, SCRIPT, *argv], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
  try:
    journal = _wait_for(lambda: list((output_dir / 'train').glob('*/progress.json'))
                        if (output_dir / 'train').exists() else None, 240,
                        'the first evaluation point')[0]
    spec_path = journal.parent / run_spec.SPEC_FILE
    workers = _worker_pids(spec_path)
    assert workers, 'the worker should still be training the second half'
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    _wait_for(lambda: not _worker_pids(spec_path), 10, 'the worker to die with the runner')
  finally:
    runner.kill()
    runner.wait()
  assert not (journal.parent / benchmark.RESULT_FILE).exists()

  study = _flags(*argv)
  row = benchmark.run_study(study)['train'][0]
  assert row['status'] == 'ok'
  assert row['steps'] == 400 and row['resumed_at'] == [200]
  assert row['images_per_sec'] > 0
  result = json.loads((journal.parent / benchmark.RESULT_FILE).read_text())
  assert result['global_step'] == 400 and result['timed_steps'] >= 398
  assert [h['step'] for h in result['history']] == [200, 400]


def test_run_timeout_stops_a_silent_worker(tmp_path, mnist5k_dir, monkeypatch):
  # A worker that hangs before printing anything: Python runs sitecustomize at start-up.
  hang = tmp_path / 'hang'
  hang.mkdir()
  (hang / 'sitecustomize.py').write_text('import time\ntime.sleep(300)\n')
  monkeypatch.setenv('PYTHONPATH', str(hang))
  study = _study(tmp_path / 'study', mnist5k_dir, '--run_timeout_secs=2')
  start = time.time()
  rows = benchmark.run_study(study)
  assert time.time() - start < 60
  assert rows['train'][0]['status'] == 'failed'
  assert 'timed out after 2 s' in rows['train'][0]['error']
  spec_path = tmp_path / 'study' / 'train' / rows['train'][0]['run'] / run_spec.SPEC_FILE
  assert not _worker_pids(spec_path)


def test_script_from_another_folder_with_relative_paths_exits_1_on_a_failed_run(
    tmp_path, mnist5k_dir):
  os.symlink(mnist5k_dir, tmp_path / 'digits')
  completed = subprocess.run(
      [sys.executable, SCRIPT, *TINY, '--models=lenet,alexnet_v2', '--dataset_dir=digits',
       '--output_dir=out', '--max_number_of_steps=2', '--eval_points=1'],
      cwd=tmp_path, capture_output=True, text=True, timeout=600)
  assert completed.returncode == 1, completed.stderr[-2000:]
  assert '1 run(s) failed' in completed.stderr and 'alexnet_v2-momentum' in completed.stderr
  rows = _rows(tmp_path / 'out' / benchmark.TRAIN_CSV)
  assert [(r['model'], r['status']) for r in rows] == [('lenet', 'ok'), ('alexnet_v2', 'failed')]
  # The run folder names its data from anywhere (python -m slimbench.benchmark_worker SPEC).
  assert run_spec.read(tmp_path / 'out' / 'train' / rows[0]['run']).dataset_dir == str(
      tmp_path / 'digits')


def test_forwarded_file_flags_are_resolved_from_the_callers_folder(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  study = _flags('--checkpoint_path=ckpt/model.ckpt-5', '--plateau_metric_file=eval.csv')
  lines = dict(study.train_flag_lines)
  assert lines['checkpoint_path'] == f'--checkpoint_path={tmp_path}/ckpt/model.ckpt-5'
  assert lines['plateau_metric_file'] == f'--plateau_metric_file={tmp_path}/eval.csv'


@pytest.mark.parametrize('optimizer, slot', [('adam', '/Adam'), ('rmsprop', '/RMSProp')])
def test_throughput_training_step_is_trainings_own(optimizer, slot, monkeypatch):
  # The spec the runner plans from its command line, through JSON as the worker reads it,
  # timed by the worker's own run_throughput: the step it builds has the flags' optimizer,
  # weight decay, label smoothing and clones.
  study = _flags('--study=throughput', '--models=lenet', '--modes=train', '--batch_sizes=2',
                 '--image_size=28', '--timed_steps=3', '--warmup_steps=0',
                 f'--optimizer={optimizer}', '--weight_decay=0.01', '--label_smoothing=0.1',
                 '--num_clones=2', '--clone_on_cpu', '--output_dir=/nonexistent')
  (spec, _), = benchmark.plan_throughput_runs(study)
  spec = run_spec.from_json(run_spec.to_json(spec))
  built = {}
  real_train_step = benchmark_worker.train_step

  def spy(train, *args):
    step, graph = real_train_step(train, *args)
    built.update(label_smoothing=train.schedule.label_smoothing,
                 images_per_step=graph['images_per_step'],
                 slots=[v.op.name for v in tf1.global_variables() if v.op.name.endswith(slot)],
                 regularization=tf1.losses.get_regularization_losses())
    return step, graph

  monkeypatch.setattr(benchmark_worker, 'train_step', spy)
  result = benchmark_worker.run_throughput(spec)
  assert built['slots'] and built['regularization'] and built['label_smoothing'] == 0.1
  # Two clones of batch 2: 4 images a step, and the rate (a median, as the step time's,
  # of an odd count) counts them.
  assert built['images_per_step'] == 4 and result['timed_steps'] == 3
  assert result['images_per_sec'] == pytest.approx(4000 / result['step_time_ms'])


def test_throughput_study_on_synthetic_and_real_data(tmp_path, mnist5k_dir):
  study = _flags('--study=throughput', '--models=lenet', '--batch_sizes=4',
                     '--timed_steps=2', '--warmup_steps=0', f'--output_dir={tmp_path / "tp"}',
                     '--throughput_data=synthetic,real', f'--dataset_dir={mnist5k_dir}',
                     '--num_intra_threads=1', '--optimizer=adam', '--noplots')
  rows = benchmark.run_study(study)['throughput']
  assert [(r['mode'], r['data'], r['optimizer'], r['status']) for r in rows] == [
      ('train', 'synthetic', 'adam', 'ok'), ('train', 'real', 'adam', 'ok'),
      ('inference', 'synthetic', '', 'ok'), ('inference', 'real', '', 'ok')]
  for row in rows:
    assert row['images_per_sec'] > 0 and row['gflops_per_image'] > 0
    assert 0 < row['peak_fraction'] < 3
    assert row['build_seconds'] > 0 and row['first_step_seconds'] > 0
    assert row['threads'].startswith('1/')
    assert row['input_threads'] == (runtime_tuning.preprocessing_threads(0)
                                    if row['data'] == 'real' else None)
  csv_rows = _rows(tmp_path / 'tp' / benchmark.THROUGHPUT_CSV)
  assert len(csv_rows) == 4 and csv_rows[1]['dataset'].startswith('mnist5k@')
  assert all(row[key] for row in csv_rows for key in PROVENANCE)
  spec = run_spec.read(tmp_path / 'tp' / 'throughput' / rows[1]['run'])
  assert spec.dataset_dir == str(mnist5k_dir)
  assert run_spec.flag_value(spec, 'optimizer') == 'adam'


def test_throughput_study_in_float16(tmp_path):
  study = _flags('--study=throughput', '--models=lenet', '--batch_sizes=4',
                     '--timed_steps=2', '--warmup_steps=0', f'--output_dir={tmp_path / "tp"}',
                     '--use_fp16', '--fp16_loss_scale=64', '--noplots')
  rows = benchmark.run_study(study)['throughput']
  assert [(r['mode'], r['precision'], r['status']) for r in rows] == [
      ('train', 'fp16', 'ok'), ('inference', 'fp16', 'ok')]
  assert all('fp16' in row['run'] for row in rows)
  spec = run_spec.read(tmp_path / 'tp' / 'throughput' / rows[0]['run'])
  assert '--use_fp16' in spec.train_flags and '--fp16_loss_scale=64.0' in spec.train_flags


@pytest.mark.parametrize('argv, message', [
    (['--models=no_such_net'], 'no_such_net'),
    (['--models=zzz*'], 'matches no registered model'),
    (['--optimizers=adamw'], 'adamw'),
    (['--model_name=lenet'], 'use --models'),
    (['--random_seed=3'], 'use --seeds'),
    (['--study=train', '--optimizer=adam'], 'compares --optimizers'),
    (['--study=throughput', '--optimizers=adam'], 'takes --optimizer'),
    (['--seeds=a'], 'whole number'),
    (['--study=throughput', '--throughput_data=imagenet'], 'synthetic or real'),
    (['--fp16_loss_scale=128'], 'add --use_fp16'),
])
def test_bad_flags_fail_clearly(tmp_path, argv, message):
  study = _flags(f'--output_dir={tmp_path}', '--dataset_dir=/nonexistent', *argv)
  with pytest.raises(ValueError, match=message):
    benchmark.run_study(study)


def test_main_job_compares_the_families_with_two_seeds(tmp_path, mnist5k_dir):
  # benchmark_models.py with no flags (the dataset and output folders aside).
  study = _flags(f'--output_dir={tmp_path}', f'--dataset_dir={mnist5k_dir}')
  assert study.study == 'both'
  train = [spec for spec, _ in benchmark.plan_train_runs(study, mnist5k_dir)]
  assert sorted({(s.model, s.optimizer) for s in train}) == sorted(
      (m, o) for m in ('lenet', 'cifarnet', 'mobilenet_v1_025') for o in ('momentum', 'adam'))
  assert sorted(s.seed for s in train if s.model == 'lenet' and s.optimizer == 'adam') == [0, 1]
  assert {(s.steps, s.batch_size, s.image_size) for s in train} == {(200, 32, 32)}
  throughput = [spec for spec, _ in benchmark.plan_throughput_runs(study)]
  assert [(s.model, s.mode) for s in throughput] == [
      (m, mode) for m in ('alexnet_v2', 'vgg_16', 'inception_v1', 'mobilenet_v1',
                          'resnet_v1_50') for mode in ('train', 'inference')]
  assert {(s.batch_size, s.image_size, s.data) for s in throughput} == {(4, 224, 'synthetic')}


def test_results_md_gives_mean_ci_and_welch_against_the_best(tmp_path, mnist5k_dir):
  study = _study(tmp_path, mnist5k_dir, '--optimizers=momentum,adam',
                 '--learning_rates=0.01,0.02', '--seeds=0,1,2')
  top1 = {('momentum', '0.01'): [0.90, 0.91, 0.92], ('momentum', '0.02'): [0.89, 0.91, 0.93],
          ('adam', '0.01'): [0.85, 0.86, 0.87], ('adam', '0.02'): [0.80, 0.81, 0.82]}
  rows = []
  for spec, run_dir in benchmark.plan_train_runs(study, mnist5k_dir):
    accuracy = top1[spec.optimizer, spec.learning_rate][spec.seed]
    seconds = 1.0 + 0.1 * spec.seed
    result = {'status': 'ok', 'accuracy': accuracy, 'recall_5': 1.0, 'loss': 0.1,
              'param_count': 10, 'images_per_sec': 100.0 + spec.seed, 'train_seconds': seconds,
              'setup_seconds': 1.0, 'eval_seconds': 1.0,
              'history': [{'train_seconds': seconds, 'accuracy': accuracy}]}
    rows.append(benchmark.train_row(spec, result, run_dir, study.target_accuracy))
  summary = benchmark.summarize(rows)
  assert [e['n_seeds'] for e in summary] == [3] * 4
  lines = {tuple(line.split(' | ')[1:3]): line
           for line in benchmark.markdown_report(rows, summary, []).splitlines()
           if line.startswith('| lenet |')}
  assert '| 0.91 ± 0.025 |' in lines['momentum', '0.01']
  assert '| 1.1 ± 0.25 (3/3 reached) | best |' in lines['momentum', '0.01']
  assert lines['momentum', '0.02'].endswith('| p=1, not significant |')
  assert lines['adam', '0.01'].endswith('| p=0.0036, significant |')  # as Welch's test below


def test_student_t_and_welch_match_published_values():
  # Student t 97.5% quantiles (any statistics table).
  for df, quantile in ((1, 12.706), (2, 4.303), (4, 2.776), (10, 2.228), (30, 2.042)):
    assert statistics.t_quantile(0.975, df) == pytest.approx(quantile, abs=1e-3)
  assert statistics.ci95_half_width([1.0, 2.0, 3.0]) == pytest.approx(4.303 / 3 ** 0.5,
                                                                      abs=1e-3)
  assert statistics.ci95_half_width([1.0]) is None
  # t = 0.05 / sqrt(2e-4 / 3) = 6.12 on 4 degrees of freedom.
  assert statistics.welch_t_test([0.90, 0.91, 0.92], [0.85, 0.86, 0.87]) == pytest.approx(
      0.0036, abs=1e-4)
  assert statistics.welch_t_test([0.5, 0.6], [0.5, 0.6]) == pytest.approx(1.0)
  assert statistics.welch_t_test([0.5], [0.6, 0.7]) is None
