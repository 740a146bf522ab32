"""Studies that train, time and compare many architectures under identical conditions.

A study is a grid of runs (model x optimizer x learning rate x batch size for training;
model x batch size x mode for throughput). Each run is its own process with its own
folder under --output_dir, so that TensorBoard overlays the runs and a study that stops
half-way resumes: runs with a result are skipped, a failed run is recorded with its
error and the others go on. At the end: results CSVs, a Markdown table, PNG plots and
the HParams configuration for TensorBoard's table of runs.
"""

import csv
import io
import itertools
import json
import os
import re
import subprocess
import sys
import time

from absl import flags
from absl import logging

from nets import nets_factory
from slimbench import files
from slimbench import precision
from slimbench import train_flags

RESULT_FILE = 'result.json'
SPEC_FILE = 'run_spec.json'
# Final metrics of each training run, as the HParams table shows them.
HPARAM_METRICS = {'accuracy': 'hparams/accuracy', 'recall_5': 'hparams/recall_5',
                  'loss': 'hparams/loss', 'images_per_sec': 'hparams/images_per_sec'}
TRAIN_CSV = 'results.csv'
THROUGHPUT_CSV = 'throughput.csv'
MARKDOWN = 'results.md'
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Learning rates that work for each optimizer when --learning_rates is not given: one
# shared rate would favour one optimizer.
DEFAULT_LEARNING_RATES = {'momentum': 0.01, 'sgd': 0.05, 'adam': 0.001, 'rmsprop': 0.001,
                          'adagrad': 0.05, 'adadelta': 1.0, 'ftrl': 0.05}
# Flags that the runner sets per run; a user gives them in plural form.
PER_RUN_FLAGS = {'model_name': '--models', 'optimizer': '--optimizers',
                 'learning_rate': '--learning_rates', 'batch_size': '--batch_sizes',
                 'train_dir': '--output_dir', 'max_number_of_steps': '--max_number_of_steps'}
BUILT_IN_DATASETS = ('mnist5k',)

# Training-flag defaults of the main job, a short study on the built-in offline dataset:
# every model gets the same input (32x32 grayscale through the lenet preprocessing, which
# does not crop digits away), batch-norm statistics that settle within a short run, and an
# epsilon that does not cripple Adam (TF-Slim's 1.0 suits RMSProp on ImageNet only). For
# another dataset, pass --preprocessing_name= (empty: each model's own) and
# --train_image_size.
MAIN_JOB_DEFAULTS = {
    'dataset_name': 'mnist5k', 'max_number_of_steps': 300, 'train_image_size': 32,
    'preprocessing_name': 'lenet', 'batch_norm_decay': 0.9, 'opt_epsilon': 1e-7,
    'weight_decay': 0.0, 'random_seed': 0, 'log_every_n_steps': 50,
    'save_interval_secs': 3600, 'save_summaries_secs': 10, 'num_readers': 1,
    'num_preprocessing_threads': 2,
}

TRAIN_COLUMNS = ('model', 'optimizer', 'learning_rate', 'batch_size', 'img_size', 'top1',
                 'top5', 'loss', 'param_count', 'images_per_sec', 'train_seconds', 'steps',
                 'time_to_target', 'status', 'error', 'run')
THROUGHPUT_COLUMNS = ('model', 'mode', 'data', 'precision', 'batch_size', 'img_size',
                      'images_per_sec', 'ci95', 'jitter', 'step_time_ms', 'param_count', 'gflops_per_image',
                      'achieved_gflops', 'peak_fraction', 'peak_memory_mb', 'build_seconds',
                      'first_step_seconds', 'status',
                      'error', 'run')


def define_benchmark_flags(fv):
  """The runner's flags, plus every training flag (passed through to each run)."""
  train_flag_names = train_flags.define_train_flags(fv)
  flags.DEFINE_enum('study', 'train', ['throughput', 'train', 'both'],
                    'train: train and evaluate each model x optimizer; throughput: time '
                    'training and inference steps (--throughput_data); both.', flag_values=fv)
  flags.DEFINE_list('models', ['lenet', 'cifarnet', 'mobilenet_v1_025'],
                    'Models or shell patterns of registered names (e.g. resnet_v1_*).',
                    flag_values=fv)
  flags.DEFINE_list('optimizers', ['momentum', 'adam'], 'Optimizers to compare.',
                    flag_values=fv)
  flags.DEFINE_list('learning_rates', [], 'Learning rates to compare; by default one per '
                    'optimizer that suits it (momentum 0.01, adam 0.001, ...).',
                    flag_values=fv)
  flags.DEFINE_list('batch_sizes', ['32'], 'Batch sizes (per clone) to compare.',
                    flag_values=fv)
  flags.DEFINE_string('output_dir', os.path.join(REPO_ROOT, 'runs', 'benchmark'),
                      'Root folder of the study: one sub-folder per run.', flag_values=fv)
  flags.DEFINE_integer('eval_points', 4, 'Evaluations per training run (accuracy over '
                       'time), evenly spaced.', lower_bound=1, flag_values=fv)
  flags.DEFINE_float('target_accuracy', 0.9, 'Accuracy whose time to reach is recorded.',
                     lower_bound=0.0, upper_bound=1.0, flag_values=fv)
  flags.DEFINE_string('eval_split_name', 'test', 'Held-out split to evaluate on.',
                      flag_values=fv)
  flags.DEFINE_list('modes', ['train', 'inference'], 'Throughput study modes.',
                    flag_values=fv)
  flags.DEFINE_list('throughput_data', ['synthetic'], 'Throughput: where the images come '
                    'from: synthetic (held in memory), real (--dataset_name/--dataset_dir '
                    'through the training input pipeline, with each model\'s own '
                    'preprocessing unless --preprocessing_name is given), or both.',
                    flag_values=fv)
  flags.DEFINE_integer('warmup_steps', 5, 'Throughput: untimed steps after the first.',
                       lower_bound=0, flag_values=fv)
  flags.DEFINE_integer('timed_steps', 20, 'Throughput: timed steps.', lower_bound=2,
                       flag_values=fv)
  flags.DEFINE_integer('image_size', None, 'Throughput: image side; by default each '
                       'model\'s own (training uses --train_image_size).', lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_integer('run_timeout_secs', None, 'Give up a run after this long.',
                       lower_bound=1, flag_values=fv)
  flags.DEFINE_boolean('plots', True, 'Write PNG plots (needs matplotlib).', flag_values=fv)
  for name, value in MAIN_JOB_DEFAULTS.items():
    fv.set_default(name, value)
  return train_flag_names


def expand_models(patterns):
  """Names for a list of names or shell patterns, in the given order, without repeats.

  Raises:
    ValueError: a pattern matches no registered model.
  """
  names = []
  for pattern in patterns:
    matches = nets_factory.list_models(pattern) if any(c in pattern for c in '*?[') else [
        nets_factory.model_info(pattern).name]
    if not matches:
      raise ValueError(f'--models: {pattern!r} matches no registered model')
    names.extend(name for name in matches if name not in names)
  return names


def _run_name(**parts):
  text = '-'.join(f'{key}={value}' for key, value in parts.items())
  return re.sub(r'[^A-Za-z0-9_.=-]', '_', text)


def _check_flags(fv):
  for name, plural in PER_RUN_FLAGS.items():
    if fv[name].present and name != 'max_number_of_steps':
      raise ValueError(f'--{name}: the benchmark sets it per run; use {plural}')
  for optimizer in fv.optimizers:
    if optimizer not in DEFAULT_LEARNING_RATES:
      raise ValueError(f'--optimizers: {optimizer!r} is not one of '
                       f'{", ".join(DEFAULT_LEARNING_RATES)}')
  for mode in fv.modes:
    if mode not in ('train', 'inference'):
      raise ValueError(f'--modes: {mode!r} is not train or inference')
  precision.check_flags(fv)
  for data in fv.throughput_data:
    if data not in ('synthetic', 'real'):
      raise ValueError(f'--throughput_data: {data!r} is not synthetic or real')
  for value in fv.batch_sizes:
    if not value.isdigit() or int(value) < 1:
      raise ValueError(f'--batch_sizes: {value!r} is not a positive whole number')
  for value in fv.learning_rates:
    try:
      float(value)
    except ValueError:
      raise ValueError(f'--learning_rates: {value!r} is not a number') from None


def ensure_dataset(fv):
  """The dataset folder; a built-in dataset is converted there first if it is not yet."""
  dataset_dir = fv.dataset_dir or os.path.join(REPO_ROOT, 'data', fv.dataset_name)
  if fv.dataset_name in BUILT_IN_DATASETS and not os.path.exists(
      os.path.join(dataset_dir, 'dataset_info.json')):
    logging.info('Converting the built-in %s dataset into %s', fv.dataset_name, dataset_dir)
    from datasets import converters  # pylint: disable=g-import-not-at-top
    converters.get_spec(fv.dataset_name).convert(dataset_dir)
  return dataset_dir


def _forwarded_train_argv(fv, train_flag_names):
  """Every training flag with its value here, except those set per run."""
  argv = []
  for name in train_flag_names:
    if name in PER_RUN_FLAGS or name in ('dataset_dir', 'train_dir'):
      continue
    flag = fv[name]
    if flag.value is None or flag.value == '':
      continue
    argv.append(flag.serialize())
  return argv


def _precision(fv):
  return 'fp16' if fv.use_fp16 else 'fp32'


def _precision_part(fv):
  """The run-name part of --use_fp16; float32 runs keep their names from before it."""
  return {'prec': 'fp16'} if fv.use_fp16 else {}


def plan_train_runs(fv, train_flag_names, dataset_dir):
  """The run specs of the training study."""
  base_argv = _forwarded_train_argv(fv, train_flag_names)
  steps = fv.max_number_of_steps
  segments = sorted({max(1, round(steps * (i + 1) / fv.eval_points))
                     for i in range(fv.eval_points)})
  runs = []
  for model, optimizer, batch_size in itertools.product(
      expand_models(fv.models), fv.optimizers, fv.batch_sizes):
    rates = fv.learning_rates or [str(DEFAULT_LEARNING_RATES[optimizer])]
    # --batch_norm_decay is a knob of the nets that have batch norm; the others run as
    # they are rather than fail.
    model_argv = [arg for arg in base_argv if not (
        arg.startswith('--batch_norm_decay=') and not nets_factory.has_batch_norm(model))]
    for rate in rates:
      name = _run_name(model=model, opt=optimizer, lr=rate, bs=batch_size,
                       **_precision_part(fv))
      run_dir = os.path.join(fv.output_dir, 'train', name)
      image_size = fv.train_image_size or nets_factory.model_info(model).default_image_size
      eval_argv = [f'--checkpoint_path={run_dir}', f'--eval_dir={run_dir}/eval',
                   f'--dataset_name={fv.dataset_name}', f'--dataset_dir={dataset_dir}',
                   f'--dataset_split_name={fv.eval_split_name}', f'--model_name={model}',
                   f'--labels_offset={fv.labels_offset}', f'--eval_image_size={image_size}',
                   f'--use_grayscale={fv.use_grayscale}', '--batch_size=100']
      if fv.preprocessing_name:
        eval_argv.append(f'--preprocessing_name={fv.preprocessing_name}')
      if fv.moving_average_decay:
        eval_argv.append(f'--moving_average_decay={fv.moving_average_decay}')
      runs.append({
          'kind': 'train', 'name': name, 'run_dir': run_dir,
          'train_argv': model_argv + [
              f'--model_name={model}', f'--optimizer={optimizer}',
              f'--learning_rate={rate}', f'--batch_size={batch_size}',
              f'--train_dir={run_dir}', f'--dataset_dir={dataset_dir}'],
          'eval_argv': eval_argv, 'segments': segments,
          'target_accuracy': fv.target_accuracy,
          'hparams': {'model': model, 'optimizer': optimizer, 'learning_rate': float(rate),
                      'batch_size': int(batch_size), 'num_clones': fv.num_clones,
                      'image_size': image_size, 'precision': _precision(fv)},
          'row': {'model': model, 'optimizer': optimizer, 'learning_rate': rate,
                  'batch_size': batch_size, 'img_size': image_size},
      })
  return runs


def plan_throughput_runs(fv, dataset_dir=None):
  """The run specs of the throughput study; dataset_dir is needed for real data."""
  runs = []
  for model, batch_size, mode, data in itertools.product(
      expand_models(fv.models), fv.batch_sizes, fv.modes, fv.throughput_data):
    name = _run_name(model=model, bs=batch_size, mode=mode, data=data,
                     **_precision_part(fv))
    run = {
        'kind': 'throughput', 'name': name,
        'run_dir': os.path.join(fv.output_dir, 'throughput', name),
        'model_name': model, 'batch_size': int(batch_size), 'mode': mode, 'data': data,
        'image_size': fv.image_size, 'warmup_steps': fv.warmup_steps,
        'timed_steps': fv.timed_steps, 'num_intra_threads': fv.num_intra_threads,
        'num_inter_threads': fv.num_inter_threads, 'use_fp16': fv.use_fp16,
        'fp16_loss_scale': fv.fp16_loss_scale,
        'row': {'model': model, 'mode': mode, 'data': data, 'precision': _precision(fv),
                'batch_size': batch_size},
    }
    if data == 'real':
      run.update(dataset_name=fv.dataset_name, dataset_dir=dataset_dir,
                 dataset_split_name=fv.dataset_split_name,
                 preprocessing_name=(fv.preprocessing_name
                                     if fv['preprocessing_name'].present else None),
                 num_readers=fv.num_readers,
                 num_preprocessing_threads=fv.num_preprocessing_threads)
    runs.append(run)
  return runs


def _read_result(run_dir):
  path = os.path.join(run_dir, RESULT_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def execute(run, timeout=None, echo=True):
  """Runs one spec in its own process unless it already has a result; returns the result."""
  result = _read_result(run['run_dir'])
  if result and result.get('status') == 'ok':
    return dict(result, skipped=True)
  os.makedirs(run['run_dir'], exist_ok=True)
  spec_path = os.path.join(run['run_dir'], SPEC_FILE)
  with open(spec_path, 'w') as f:
    json.dump(run, f, indent=1)
  command = [sys.executable, '-m', 'slimbench.benchmark_worker', spec_path]
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      filter(None, [REPO_ROOT, os.environ.get('PYTHONPATH')])))
  with open(os.path.join(run['run_dir'], 'log.txt'), 'w') as log:
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + timeout if timeout else None
    for line in process.stdout:
      log.write(line)
      if echo and (' step ' in line or 'accuracy' in line or 'Error' in line):
        # absl's prefix (level, time, thread, file) says nothing here; keep the message.
        message = line.split('] ', 1)[-1].rstrip()
        print(f'    {message}', flush=True)
      if deadline and time.time() > deadline:
        process.kill()
        break
    process.wait()
  result = _read_result(run['run_dir'])
  if result is None:
    reason = 'timed out' if deadline and time.time() > deadline else (
        f'exited with status {process.returncode} without a result')
    result = {'status': 'failed', 'error': f'the run {reason}; see its log.txt'}
    files.write_json_atomically(
        os.path.join(run['run_dir'], RESULT_FILE), result)
  return result


def _format(value):
  if isinstance(value, float):
    return f'{value:.4g}'
  return '' if value is None else str(value)


def _train_row(run, result):
  row = dict(run['row'], status=result.get('status'), error=result.get('error', ''),
             run=run['name'])
  if result.get('status') == 'ok':
    row.update(top1=result['accuracy'], top5=result['recall_5'], loss=result['loss'],
               param_count=result['param_count'], images_per_sec=result['images_per_sec'],
               train_seconds=result['train_seconds'], steps=result['global_step'],
               time_to_target=result['time_to_target'])
  return row


def _throughput_row(run, result):
  row = dict(run['row'], status=result.get('status'), error=result.get('error', ''),
             run=run['name'])
  if result.get('status') == 'ok':
    row.update({key: result.get(key) for key in THROUGHPUT_COLUMNS if key in result})
    row['img_size'] = result['image_size']
  return row


def write_csv(path, columns, rows):
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction='ignore')
  writer.writeheader()
  for row in rows:
    writer.writerow({key: _format(row.get(key)) for key in columns})
  files.write_text_atomically(path, buffer.getvalue())


def markdown_table(columns, rows):
  lines = ['| ' + ' | '.join(columns) + ' |', '|' + '---|' * len(columns)]
  for row in rows:
    lines.append('| ' + ' | '.join(_format(row.get(key)) for key in columns) + ' |')
  return '\n'.join(lines)


def write_hparams_config(output_dir, runs):
  """The root HParams config that makes TensorBoard's table list every run's knobs."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorboard.plugins.hparams import api as hp  # pylint: disable=g-import-not-at-top
  values = {}
  for run in runs:
    for key, value in run['hparams'].items():
      values.setdefault(key, set()).add(value)
  hparams = []
  for key, seen in sorted(values.items()):
    if all(isinstance(v, str) for v in seen):
      hparams.append(hp.HParam(key, hp.Discrete(sorted(seen))))
    else:
      hparams.append(hp.HParam(key, hp.RealInterval(float(min(seen)), float(max(seen)))
                               if len(seen) > 1 else hp.Discrete(sorted(seen))))
  metrics = [hp.Metric(tag, display_name=key)
             for key, tag in HPARAM_METRICS.items()]
  writer = tf.summary.create_file_writer(os.path.join(output_dir, 'train'))
  with writer.as_default():
    hp.hparams_config(hparams=hparams, metrics=metrics)
  writer.close()


def write_plots(output_dir, train_runs, train_results, throughput_rows):
  """accuracy_vs_throughput.png, accuracy_over_time.png and throughput.png."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  written = []
  finished = [(run, result) for run, result in zip(train_runs, train_results)
              if result.get('status') == 'ok']
  if finished:
    figure, axes = plt.subplots(figsize=(7, 5))
    for run, result in finished:
      axes.scatter(result['images_per_sec'], result['accuracy'])
      axes.annotate(f"{run['row']['model']}/{run['row']['optimizer']}",
                    (result['images_per_sec'], result['accuracy']), fontsize=8)
    axes.set_xlabel('training images/sec')
    axes.set_ylabel('top-1 accuracy (held-out split)')
    axes.set_title('Accuracy vs training throughput')
    axes.grid(True, alpha=0.3)
    written.append(_save(figure, os.path.join(output_dir, 'accuracy_vs_throughput.png')))

    figure, axes = plt.subplots(figsize=(7, 5))
    for run, result in finished:
      history = result['history']
      axes.plot([h['train_seconds'] for h in history], [h['accuracy'] for h in history],
                marker='o', label=f"{run['row']['model']}/{run['row']['optimizer']}")
    axes.set_xlabel('training seconds')
    axes.set_ylabel('top-1 accuracy (held-out split)')
    axes.set_title('Accuracy over training time')
    axes.legend(fontsize=8)
    axes.grid(True, alpha=0.3)
    written.append(_save(figure, os.path.join(output_dir, 'accuracy_over_time.png')))
  measured = [row for row in throughput_rows if row.get('status') == 'ok']
  if measured:
    figure, axes = plt.subplots(figsize=(8, max(3, 0.35 * len(measured))))
    labels = [f"{r['model']} {r['mode']} {r['data']} bs={r['batch_size']}" for r in measured]
    axes.barh(labels, [r['images_per_sec'] for r in measured])
    axes.set_xlabel('images/sec (median)')
    axes.set_title('Throughput')
    written.append(_save(figure, os.path.join(output_dir, 'throughput.png')))
  plt.close('all')
  return written


def _save(figure, path):
  figure.tight_layout()
  figure.savefig(path + '.tmp.png', dpi=100)
  os.replace(path + '.tmp.png', path)
  return path


def run_study(fv, train_flag_names):
  """Runs the study the flags describe; returns {'train': rows, 'throughput': rows}."""
  _check_flags(fv)
  os.makedirs(fv.output_dir, exist_ok=True)
  train_runs, throughput_runs = [], []
  if fv.study in ('train', 'both'):
    dataset_dir = ensure_dataset(fv)
    train_runs = plan_train_runs(fv, train_flag_names, dataset_dir)
  if fv.study in ('throughput', 'both'):
    real_data = 'real' in fv.throughput_data
    throughput_runs = plan_throughput_runs(fv, ensure_dataset(fv) if real_data else None)
    peak = execute({'kind': 'peak', 'name': 'peak', 'row': {},
                    'run_dir': os.path.join(fv.output_dir, 'throughput', 'matmul_peak')},
                   timeout=fv.run_timeout_secs, echo=False)
    peak_gflops = peak.get('peak_gflops')
    logging.info('Measured matrix-multiply peak: %s GFLOP/s', _format(peak_gflops))
    for run in throughput_runs:
      run['peak_gflops'] = peak_gflops
  all_runs = train_runs + throughput_runs
  results = []
  study_start = time.time()
  for index, run in enumerate(all_runs):
    elapsed = time.time() - study_start
    eta = (f', ETA {elapsed / index * (len(all_runs) - index):.0f} s' if index else '')
    print(f'[{index + 1}/{len(all_runs)}] {run["name"]}{eta}', flush=True)
    result = execute(run, timeout=fv.run_timeout_secs)
    if result.get('skipped'):
      print('    finished earlier: skipped', flush=True)
    elif result.get('status') != 'ok':
      print(f'    FAILED: {result.get("error")}', flush=True)
    results.append(result)

  train_results = results[:len(train_runs)]
  train_rows = [_train_row(run, result) for run, result in zip(train_runs, train_results)]
  throughput_rows = [_throughput_row(run, result) for run, result in
                     zip(throughput_runs, results[len(train_runs):])]
  sections = []
  if train_runs:
    write_csv(os.path.join(fv.output_dir, TRAIN_CSV), TRAIN_COLUMNS, train_rows)
    write_hparams_config(fv.output_dir, train_runs)
    sections.append(f'## Training on {fv.dataset_name} ({fv.max_number_of_steps} steps, '
                    f'evaluated on {fv.eval_split_name})\n\n' +
                    markdown_table(TRAIN_COLUMNS[:-1], train_rows))
  if throughput_runs:
    write_csv(os.path.join(fv.output_dir, THROUGHPUT_CSV), THROUGHPUT_COLUMNS,
              throughput_rows)
    sections.append('## Throughput\n\n' +
                    markdown_table(THROUGHPUT_COLUMNS[:-1], throughput_rows))
  report = '\n\n'.join(sections) + '\n'
  files.write_text_atomically(os.path.join(fv.output_dir, MARKDOWN), report)
  if fv.plots:
    write_plots(fv.output_dir, train_runs, train_results, throughput_rows)
  print('\n' + report, flush=True)
  print(f'Results in {fv.output_dir}; compare the runs with: '
        f'tensorboard --logdir {os.path.join(fv.output_dir, "train")}', flush=True)
  return {'train': train_rows, 'throughput': throughput_rows}
