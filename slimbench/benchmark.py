"""Studies that train, time and compare many architectures under identical conditions.

A study is a grid of runs: model x optimizer x learning rate x batch size x seed for
training; model x batch size x mode x data for throughput. Each run is a typed spec
(`run_spec`) whose identity is its whole configuration, run in its own process in its own
folder under --output_dir (readable name plus a hash of the identity), so TensorBoard
overlays the runs, a finished run is reused only when nothing about it changed, and a
study that stops half-way resumes. The tables are rebuilt at the end of every call from
every run folder in --output_dir, so the calls of one study accumulate: results.csv (one
row per run), summary.csv (one row per configuration, over its seeds, with 95% intervals),
throughput.csv, results.md and PNG plots with error bars.
"""

import atexit
import csv
import ctypes
import dataclasses
import hashlib
import io
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Optional

from absl import logging

from slimbench.datasets import dataset_utils
from slimbench.nets import nets_factory
import slimbench
from slimbench import evaluation
from slimbench import files
from slimbench import precision
from slimbench import run_spec
from slimbench import statistics
from slimbench.config import DataConfig
from slimbench.config import PreprocessingConfig
from slimbench.config import RunConfig

RESULT_FILE = run_spec.RESULT_FILE
SPEC_FILE = run_spec.SPEC_FILE
TRAIN_CSV = 'results.csv'
SUMMARY_CSV = 'summary.csv'
THROUGHPUT_CSV = 'throughput.csv'
MARKDOWN = 'results.md'
# The folder holding the `slimbench` package, put on the worker's path.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Default runs and data go beside the code in a checkout (the README's paths), else under
# the folder the command runs in.
WORK_ROOT = slimbench.SOURCE_ROOT or os.getcwd()
# Final metrics of each training run as the HParams table shows them: {column: tag}. The
# worker writes the first four into the run's folder; time to target depends on the
# runner's --target_accuracy, so the runner writes it there.
HPARAM_METRICS = {'top1': 'hparams/accuracy', 'top5': 'hparams/recall_5',
                  'loss': 'hparams/loss', 'images/sec': 'hparams/images_per_sec',
                  'time_to_target': 'hparams/time_to_target'}
HPARAMS_CONFIG_SUFFIX = '.hparams_config'
TIME_TO_TARGET_SUFFIX = '.time_to_target'

# Learning rates that work for each optimizer when --learning_rates is not given: one
# shared rate would favour one optimizer.
DEFAULT_LEARNING_RATES = {'momentum': 0.01, 'sgd': 0.05, 'adam': 0.001, 'rmsprop': 0.001,
                          'adagrad': 0.05, 'adadelta': 1.0, 'ftrl': 0.05}
# Training flags that the runner sets per run; a user gives them in plural form.
PER_RUN_FLAGS = {'model_name': '--models', 'batch_size': '--batch_sizes',
                 'random_seed': '--seeds', 'train_dir': '--output_dir'}
# Training flags that are fields of a run's spec rather than forwarded flags.
SPEC_FIELD_FLAGS = ('max_number_of_steps', 'train_image_size', 'dataset_dir')
BUILT_IN_DATASETS = ('mnist5k',)
DEFAULT_TRAIN_MODELS = ['lenet', 'cifarnet', 'mobilenet_v1_025']
DEFAULT_TRAIN_BATCH_SIZES = ['32']
# The families this project compares, timed at their default sizes.
DEFAULT_THROUGHPUT_MODELS = ['alexnet_v2', 'vgg_16', 'inception_v1', 'mobilenet_v1',
                             'resnet_v1_50']
DEFAULT_THROUGHPUT_BATCH_SIZES = ['4']
PEAK_MATRIX_SIZE = 2048
PEAK_SECONDS = 3.0

# Training-flag defaults of the main job, a short study on the built-in offline dataset:
# every model gets the same input (32x32 grayscale through the lenet preprocessing, which
# does not crop digits away), batch-norm statistics that settle within a short run, and an
# epsilon that does not cripple Adam (TF-Slim's 1.0 suits RMSProp on ImageNet only). For
# another dataset, pass --preprocessing_name= (empty: each model's own) and
# --train_image_size. The throughput study's training step uses --optimizer and
# --learning_rate.
MAIN_JOB_DEFAULTS = {
    'dataset_name': 'mnist5k', 'max_number_of_steps': 200, 'train_image_size': 32,
    'preprocessing_name': 'lenet', 'batch_norm_decay': 0.9, 'opt_epsilon': 1e-7,
    'weight_decay': 0.0, 'log_every_n_steps': 50, 'optimizer': 'momentum',
    'save_interval_secs': 3600, 'save_summaries_secs': 10, 'num_readers': 1,
}

PROVENANCE_COLUMNS = ('commit', 'tf_version', 'cpu', 'cores', 'threads', 'onednn', 'date',
                      'dataset')
TRAIN_COLUMNS = ('model', 'optimizer', 'learning_rate', 'batch_size', 'img_size', 'steps',
                 'seed', 'precision', 'top1', 'top5', 'loss', 'param_count',
                 'images_per_sec', 'input_threads', 'train_seconds', 'time_to_target',
                 'target_accuracy', 'setup_seconds', 'eval_seconds', 'eval_split',
                 'eval_points', 'eval_crops', 'resumed_at', 'status', 'error', 'config', 'run_id', 'run', 'flags') + PROVENANCE_COLUMNS
SUMMARY_COLUMNS = ('model', 'optimizer', 'learning_rate', 'batch_size', 'img_size', 'steps',
                   'precision', 'eval_split', 'eval_points', 'eval_crops', 'n_seeds', 'seeds', 'n_failed', 'top1_mean',
                   'top1_ci95', 'top5_mean', 'top5_ci95', 'images_per_sec_mean',
                   'images_per_sec_ci95', 'train_seconds_mean', 'train_seconds_ci95',
                   'target_accuracy', 'n_reached', 'time_to_target_mean',
                   'time_to_target_ci95', 'config', 'flags') + PROVENANCE_COLUMNS
# A video model's rows count clips (input_unit 'clip', of num_frames frames) in
# clips_per_sec and gflops_per_clip; an image model's, images in the image columns.
THROUGHPUT_COLUMNS = ('model', 'mode', 'optimizer', 'data', 'input_threads', 'precision',
                      'batch_size', 'img_size', 'input_unit', 'num_frames', 'images_per_sec',
                      'clips_per_sec', 'ci95', 'jitter', 'step_time_ms', 'timed_steps',
                      'param_count', 'gflops_per_image', 'gflops_per_clip', 'achieved_gflops',
                      'peak_fraction', 'peak_memory_mb', 'conv_gradients', 'build_seconds',
                      'first_step_seconds', 'status', 'error', 'run_id', 'run',
                      'flags') + PROVENANCE_COLUMNS


@dataclasses.dataclass(frozen=True)
class StudyConfig:
  """A study: the runner's own settings (the flags of the same names), and what every
  run is trained with."""
  study: str = 'both'
  models: Optional[tuple] = None
  optimizers: tuple = ('momentum', 'adam')
  learning_rates: tuple = ()
  batch_sizes: Optional[tuple] = None
  eval_crops: int = 1
  seeds: tuple = ('0', '1')
  output_dir: str = ''
  eval_points: int = 4
  target_accuracy: float = 0.9
  eval_split_name: str = 'test'
  modes: tuple = ('train', 'inference')
  throughput_data: tuple = ('synthetic',)
  warmup_steps: int = 1
  timed_steps: int = 5
  image_size: Optional[int] = None
  run_timeout_secs: Optional[int] = None
  plots: bool = True
  # The training settings the runner itself reads.
  data: DataConfig = DataConfig()
  run: RunConfig = RunConfig()
  preprocessing: PreprocessingConfig = PreprocessingConfig()
  # Every training flag with a value, (name, `--name=value`): each run is given them.
  train_flag_lines: tuple = ()
  # The flags set on the command line (a flag set per run must not be).
  given: frozenset = frozenset()


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


def check_study(study):
  """Raises ValueError naming the flag for a study that cannot run as given."""
  for name, plural in PER_RUN_FLAGS.items():
    if name in study.given:
      raise ValueError(f'--{name}: the benchmark sets it per run; use {plural}')
  if study.study == 'train':
    for name, plural in (('optimizer', '--optimizers'), ('learning_rate', '--learning_rates')):
      if name in study.given:
        raise ValueError(f'--{name} sets the throughput study\'s training step; the '
                         f'training study compares {plural}')
  if study.study == 'throughput':
    for name, single in (('optimizers', '--optimizer'), ('learning_rates', '--learning_rate'),
                         ('seeds', None), ('eval_crops', None)):
      if name in study.given:
        raise ValueError(f'--{name} belongs to the training study' + (
            f'; the throughput study\'s training step takes {single}' if single else ''))
  for optimizer in study.optimizers:
    if optimizer not in DEFAULT_LEARNING_RATES:
      raise ValueError(f'--optimizers: {optimizer!r} is not one of '
                       f'{", ".join(DEFAULT_LEARNING_RATES)}')
  for mode in study.modes:
    if mode not in ('train', 'inference'):
      raise ValueError(f'--modes: {mode!r} is not train or inference')
  precision.check_config(study.run.use_fp16, study.run.fp16_loss_scale)
  for data in study.throughput_data:
    if data not in ('synthetic', 'real'):
      raise ValueError(f'--throughput_data: {data!r} is not synthetic or real')
  for value in study.batch_sizes or []:
    if not value.isdigit() or int(value) < 1:
      raise ValueError(f'--batch_sizes: {value!r} is not a positive whole number')
  for value in study.learning_rates:
    try:
      float(value)
    except ValueError:
      raise ValueError(f'--learning_rates: {value!r} is not a number') from None
  evaluation.check_eval_crops(study.eval_crops)
  if not study.seeds:
    raise ValueError('--seeds: give at least one seed')
  for value in study.seeds:
    if not value.lstrip('-').isdigit():
      raise ValueError(f'--seeds: {value!r} is not a whole number')


def ensure_dataset(data):
  """The dataset folder; a built-in dataset is converted there first if it is not yet."""
  dataset_dir = data.dataset_dir or os.path.join(WORK_ROOT, 'data', data.dataset_name)
  if data.dataset_name in BUILT_IN_DATASETS and not os.path.exists(
      os.path.join(dataset_dir, 'dataset_info.json')):
    logging.info('Converting the built-in %s dataset into %s', data.dataset_name, dataset_dir)
    from slimbench.datasets import converters  # pylint: disable=g-import-not-at-top
    converters.get_spec(data.dataset_name).convert(dataset_dir)
  return dataset_dir


def dataset_identity(dataset_name, dataset_dir):
  """`name@checksum`: the checksum covers the content of every shard.

  From the shards' SHA-256 in dataset_info.json when the converter recorded them, else
  from the names and sizes of the folder's files (`name@files-...`).
  """
  info_path = os.path.join(dataset_dir, 'dataset_info.json')
  digest = hashlib.sha256()
  try:
    with open(info_path) as f:
      info = json.load(f)
    shards = sorted((split, shard['file'], shard['sha256'])
                    for split, content in info['splits'].items()
                    for shard in content['shards'])
    digest.update(json.dumps(shards).encode())
    return f'{dataset_name}@{digest.hexdigest()[:12]}'
  except (OSError, ValueError, KeyError, TypeError):
    pass
  if not os.path.isdir(dataset_dir):
    raise ValueError(f'--dataset_dir: {dataset_dir} is not a folder')
  entries = sorted((name, os.path.getsize(os.path.join(dataset_dir, name)))
                   for name in os.listdir(dataset_dir)
                   if os.path.isfile(os.path.join(dataset_dir, name)))
  digest.update(json.dumps(entries).encode())
  return f'{dataset_name}@files-{digest.hexdigest()[:12]}'


def _forwarded_flags(study, exclude):
  """Every training flag with a value, as --name=value, except those in `exclude`."""
  return sorted(line for name, line in study.train_flag_lines
                if name not in PER_RUN_FLAGS and name not in SPEC_FIELD_FLAGS and
                name not in exclude)


def _for_model(forwarded, model):
  # --batch_norm_decay is a knob of the nets that have batch norm, --num_frames of the
  # video models; the others run as they are (and their identity does not depend on it)
  # rather than fail.
  skipped = () if nets_factory.has_batch_norm(model) else ('--batch_norm_decay=',)
  if not nets_factory.model_info(model).is_video_model:
    skipped += ('--num_frames=',)
  return tuple(arg for arg in forwarded if not arg.startswith(skipped))


def _precision(study):
  return 'fp16' if study.run.use_fp16 else 'fp32'


def plan_train_runs(study, dataset_dir):
  """(spec, run folder) of each run of the training study."""
  forwarded = _forwarded_flags(study, exclude=('optimizer', 'learning_rate'))
  dataset = dataset_identity(study.data.dataset_name, dataset_dir)
  runs = []
  for model, optimizer, batch_size in itertools.product(
      expand_models(study.models or DEFAULT_TRAIN_MODELS), study.optimizers,
      study.batch_sizes or DEFAULT_TRAIN_BATCH_SIZES):
    rates = study.learning_rates or [str(DEFAULT_LEARNING_RATES[optimizer])]
    image_size = (study.run.train_image_size or
                  nets_factory.model_info(model).default_image_size)
    for rate, seed in itertools.product(rates, study.seeds):
      spec = run_spec.TrainRun(
          model=model, optimizer=optimizer, learning_rate=rate, batch_size=int(batch_size),
          image_size=image_size, steps=study.run.max_number_of_steps, seed=int(seed),
          precision=_precision(study), dataset=dataset, eval_split=study.eval_split_name,
          eval_points=study.eval_points, eval_crops=study.eval_crops,
          train_flags=_for_model(forwarded, model),
          dataset_dir=dataset_dir)
      runs.append((spec, os.path.join(study.output_dir, 'train', run_spec.folder_name(spec))))
  return runs


def plan_throughput_runs(study, dataset_dir=None, peak_gflops=None):
  """(spec, run folder) of each run of the throughput study; real data needs dataset_dir."""
  # Real images go through each model's own preprocessing unless the user names one (the
  # main job's lenet preprocessing is for its training comparison).
  exclude = () if 'preprocessing_name' in study.given else ('preprocessing_name',)
  forwarded = _forwarded_flags(study, exclude=exclude)
  models = expand_models(study.models or DEFAULT_THROUGHPUT_MODELS)
  runs = []
  for model, batch_size, mode, data in itertools.product(
      models, study.batch_sizes or DEFAULT_THROUGHPUT_BATCH_SIZES, study.modes,
      study.throughput_data):
    spec = run_spec.ThroughputRun(
        model=model, mode=mode, data=data, batch_size=int(batch_size),
        image_size=study.image_size or nets_factory.model_info(model).default_image_size,
        warmup_steps=study.warmup_steps, timed_steps=study.timed_steps,
        precision=_precision(study),
        dataset=(dataset_identity(study.data.dataset_name, dataset_dir) if data == 'real'
                 else 'synthetic'),
        train_flags=_for_model(forwarded, model), peak_gflops=peak_gflops,
        dataset_dir=dataset_dir if data == 'real' else '')
    runs.append((spec, os.path.join(study.output_dir, 'throughput',
                                    run_spec.folder_name(spec))))
  return runs


# ----- Running workers -----

_LIVE_WORKERS = set()


def _kill_group(process):
  try:
    os.killpg(process.pid, signal.SIGKILL)
  except (ProcessLookupError, PermissionError):
    pass


def _kill_live_workers():
  for process in list(_LIVE_WORKERS):
    _kill_group(process)


atexit.register(_kill_live_workers)

try:
  _PRCTL = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux: the process group still goes on exit
  _PRCTL = None
_PR_SET_PDEATHSIG = 1


def _die_with(parent_pid):
  """A preexec_fn: the worker gets SIGKILL when the runner dies, even by SIGKILL."""
  def preexec():
    if _PRCTL is not None:
      _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the runner died before prctl took effect
      os._exit(1)  # pylint: disable=protected-access
  return preexec


def _read_result(run_dir):
  return run_spec.read_json_file(run_dir, RESULT_FILE)


def _relay(stream, log, echo):
  for line in stream:
    log.write(line)
    log.flush()
    if echo and (' step ' in line or 'accuracy' in line or 'Error' in line):
      # absl's prefix (level, time, thread, file) says nothing here; keep the message.
      print(f'    {line.split("] ", 1)[-1].rstrip()}', flush=True)


def execute(spec, run_dir, timeout=None, echo=True):
  """Runs one spec in its own process unless its folder has its result; returns the result.

  The worker is the leader of its own process group, which is killed when the run times
  out or the runner exits; the kernel kills the worker if the runner is killed outright.
  """
  result = _read_result(run_dir)
  if result and result.get('status') == 'ok' and result.get('run_id') == run_spec.run_id(spec):
    return dict(result, skipped=True)
  os.makedirs(run_dir, exist_ok=True)
  spec_path = os.path.join(run_dir, SPEC_FILE)
  files.write_text_atomically(spec_path, run_spec.to_json(spec))
  stale = os.path.join(run_dir, RESULT_FILE)
  if os.path.exists(stale):
    os.remove(stale)  # a failed attempt's; this attempt writes its own
  command = [sys.executable, '-m', 'slimbench.benchmark_worker', spec_path]
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      filter(None, [PACKAGE_PARENT, os.environ.get('PYTHONPATH')])))
  timed_out = False
  with open(os.path.join(run_dir, 'log.txt'), 'w') as log:
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, process_group=0,
                               preexec_fn=_die_with(os.getpid()))
    _LIVE_WORKERS.add(process)
    relay = threading.Thread(target=_relay, args=(process.stdout, log, echo), daemon=True)
    relay.start()
    try:
      process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
      timed_out = True
    finally:
      _kill_group(process)  # the worker, and anything it started
      process.wait()
      _LIVE_WORKERS.discard(process)
      relay.join(timeout=10)
  result = _read_result(run_dir)
  if result is None or timed_out:
    reason = (f'timed out after {timeout} s (--run_timeout_secs)' if timed_out else
              f'exited with status {process.returncode} without a result')
    result = {'status': 'failed', 'error': f'the run {reason}; see its log.txt',
              'run_id': run_spec.run_id(spec)}
    files.write_json_atomically(os.path.join(run_dir, RESULT_FILE), result)
  return result


# ----- Tables -----

def _format(value):
  if isinstance(value, float):
    return f'{value:.4g}'
  if isinstance(value, (list, tuple)):
    return ' '.join(str(v) for v in value)
  return '' if value is None else str(value)


def _provenance(result, dataset):
  row = {key: result.get(key) for key in PROVENANCE_COLUMNS}
  row['dataset'] = dataset
  return row


def time_to_target(history, target):
  """Training seconds at the first evaluation reaching `target`; None if none did."""
  reached = [h['train_seconds'] for h in history if h['accuracy'] >= target]
  return reached[0] if reached else None


def train_row(spec, result, run_dir, target_accuracy):
  row = dict(model=spec.model, optimizer=spec.optimizer, learning_rate=spec.learning_rate,
             batch_size=spec.batch_size, img_size=spec.image_size, steps=spec.steps,
             seed=spec.seed, precision=spec.precision, eval_split=spec.eval_split,
             eval_points=spec.eval_points, eval_crops=spec.eval_crops,
             status=result.get('status'),
             error=result.get('error', ''), config=spec.config_identity(),
             run_id=run_spec.run_id(spec), run=os.path.basename(run_dir),
             flags=' '.join(spec.train_flags), target_accuracy=target_accuracy,
             **_provenance(result, spec.dataset))
  if result.get('status') == 'ok':
    row.update(top1=result['accuracy'], top5=result['recall_5'], loss=result['loss'],
               param_count=result['param_count'], images_per_sec=result['images_per_sec'],
               train_seconds=result['train_seconds'], setup_seconds=result['setup_seconds'],
               eval_seconds=result['eval_seconds'], resumed_at=result.get('resumed_at'),
               input_threads=result.get('input_threads'),
               time_to_target=time_to_target(result['history'], target_accuracy))
  return row


def throughput_row(spec, result, run_dir):
  row = dict(model=spec.model, mode=spec.mode, data=spec.data, precision=spec.precision,
             batch_size=spec.batch_size, img_size=spec.image_size,
             optimizer=run_spec.flag_value(spec, 'optimizer') if spec.mode == 'train' else '',
             status=result.get('status'), error=result.get('error', ''),
             run_id=run_spec.run_id(spec), run=os.path.basename(run_dir),
             flags=' '.join(spec.train_flags), **_provenance(result, spec.dataset))
  row['input_unit'] = result.get('input_unit') or _input_unit(spec.model)
  if result.get('status') == 'ok':
    row.update({key: result.get(key) for key in THROUGHPUT_COLUMNS if key in result})
  return row


def _input_unit(model):
  """What a throughput run of `model` counts: 'clip' for a video model, else 'image'."""
  try:
    return 'clip' if nets_factory.model_info(model).is_video_model else 'image'
  except ValueError:  # a run folder of a model no longer registered
    return 'image'


def collect_rows(output_dir, kind, make_row):
  """One row per run folder of `kind` under output_dir that has a result, in run order."""
  folder = os.path.join(output_dir, kind)
  rows = []
  if not os.path.isdir(folder):
    return rows
  for name in sorted(os.listdir(folder)):
    run_dir = os.path.join(folder, name)
    result = _read_result(run_dir)
    if result is None:
      continue
    try:
      spec = run_spec.read(run_dir)
    except (OSError, ValueError, TypeError, KeyError):
      logging.warning('%s: not a run of this version of the runner; left out of the tables',
                      run_dir)
      continue
    if spec.kind != kind or result.get('run_id') != run_spec.run_id(spec):
      continue
    rows.append((os.path.getmtime(os.path.join(run_dir, RESULT_FILE)),
                 make_row(spec, result, run_dir)))
  return [row for _, row in sorted(rows, key=lambda item: item[0])]


def summarize(train_rows):
  """One row per configuration (the runs that differ only by seed), in first-run order."""
  groups = {}
  for row in train_rows:
    groups.setdefault(row['config'], []).append(row)
  summary = []
  for config, rows in groups.items():
    ok = [r for r in rows if r['status'] == 'ok']
    first = rows[0]
    entry = {key: first[key] for key in (
        'model', 'optimizer', 'learning_rate', 'batch_size', 'img_size', 'steps',
        'precision', 'eval_split', 'eval_points', 'eval_crops', 'target_accuracy', 'flags',
        'dataset')}
    entry.update(config=config, n_seeds=len(ok), seeds=sorted(r['seed'] for r in ok),
                 n_failed=len(rows) - len(ok))
    for key in ('top1', 'top5', 'images_per_sec', 'train_seconds', 'time_to_target'):
      values = [r[key] for r in ok if r.get(key) is not None]
      entry[f'{key}_values'] = values
      entry[f'{key}_mean'] = statistics.mean(values) if values else None
      entry[f'{key}_ci95'] = statistics.ci95_half_width(values)
    entry['n_reached'] = len(entry['time_to_target_values'])
    for key in PROVENANCE_COLUMNS[:-1]:
      values = sorted({str(r.get(key)) for r in ok or rows})
      entry[key] = values[0] if len(values) == 1 else ' | '.join(values)
    summary.append(entry)
  return summary


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


def _number(value, digits):
  """`digits` significant digits, but whole numbers in full (373, not 3.73e+02)."""
  return f'{value:.0f}' if abs(value) >= 10 ** digits else f'{value:.{digits}g}'


def _mean_ci(entry, key):
  mean = entry.get(f'{key}_mean')
  if mean is None:
    return ''
  ci = entry.get(f'{key}_ci95')
  return _number(mean, 3) + (f' ± {_number(ci, 2)}' if ci is not None else ' (1 run)')


def _significance(best, other):
  """'p=0.012, significant' for best's top-1 against other's (Welch's t-test)."""
  p = statistics.welch_t_test(best['top1_values'], other['top1_values'])
  if p is None:
    return 'n/a (needs 2+ seeds each)'
  return f'p={p:.2g}, ' + ('significant' if p < 0.05 else 'not significant')


def _varying_flags(entries):
  """The settings not in other columns whose values differ among `entries`, per entry:
  forwarded flags, --eval_points, precision."""
  parsed = [dict([flag.split('=', 1) if '=' in flag else (flag, '') for flag in
                  entry['flags'].split()] + [('--eval_points', str(entry['eval_points'])),
                                             ('precision', entry['precision'])])
            for entry in entries]
  names = sorted(set().union(*parsed)) if parsed else []
  varying = [n for n in names if len({p.get(n) for p in parsed}) > 1]
  return [' '.join(f'{n}={p[n]}' if p.get(n) else n for n in varying if n in p)
          for p in parsed]


def _provenance_header(rows):
  lines = []
  for key in PROVENANCE_COLUMNS:
    counts = {}
    for row in rows:
      counts[str(row.get(key))] = counts.get(str(row.get(key)), 0) + 1
    if len(counts) == 1:
      lines.append(f'- {key}: {next(iter(counts))}')
    else:
      lines.append(f'- {key}: ' + '; '.join(f'{value} ({n} run{"s" if n > 1 else ""})'
                                             for value, n in sorted(counts.items())))
  return '\n'.join(lines)


def markdown_report(train_rows, summary, throughput_rows):
  """results.md: provenance, one comparison per dataset/steps/split, the throughput table."""
  sections = ['# Benchmark results', _provenance_header(train_rows + throughput_rows)]
  groups = {}
  for entry in summary:
    groups.setdefault((entry['dataset'], entry['steps'], entry['eval_split'],
                       entry['eval_crops']), []).append(entry)
  for (dataset, steps, split, crops), entries in groups.items():
    finished = [e for e in entries if e['top1_mean'] is not None]
    best = max(finished, key=lambda e: e['top1_mean']) if finished else None
    target = entries[0]['target_accuracy']
    lines = ['| model | optimizer | learning_rate | batch_size | img_size | other flags | '
             'seeds | top1 | top5 | images/sec | train_seconds | '
             f'time_to_{target:g} | vs best top1 (Welch) |', '|' + '---|' * 13]
    for entry, other in zip(entries, _varying_flags(entries)):
      if entry is best:
        verdict = 'best'
      elif best is None or entry['top1_mean'] is None:
        verdict = ''
      else:
        verdict = _significance(best, entry)
      reached = (f'{_mean_ci(entry, "time_to_target")} ({entry["n_reached"]}/'
                 f'{entry["n_seeds"]} reached)' if entry['n_reached'] else
                 f'not reached (0/{entry["n_seeds"]})')
      failed = f', {entry["n_failed"]} failed' if entry['n_failed'] else ''
      lines.append('| ' + ' | '.join([
          entry['model'], entry['optimizer'], str(entry['learning_rate']),
          str(entry['batch_size']), str(entry['img_size']), other,
          f'{entry["n_seeds"]}{failed}', _mean_ci(entry, 'top1'), _mean_ci(entry, 'top5'),
          _mean_ci(entry, 'images_per_sec'), _mean_ci(entry, 'train_seconds'), reached,
          verdict]) + ' |')
    crops = ', ten crops per image' if crops == 10 else ''
    sections.append(f'## Training on {dataset} ({steps} steps, evaluated on {split}{crops})\n\n'
                    'Mean ± half-width of the 95% Student-t interval over seeds; "vs best" '
                    'tests the best top-1 against each other configuration (Welch\'s '
                    't-test, significant when p < 0.05).\n\n' + '\n'.join(lines))
  failed = [r for r in train_rows + throughput_rows if r['status'] != 'ok']
  image_rows = [r for r in throughput_rows if r.get('input_unit') != 'clip']
  clip_rows = [r for r in throughput_rows if r.get('input_unit') == 'clip']
  if image_rows:
    columns = ('model', 'mode', 'optimizer', 'data', 'precision', 'batch_size', 'img_size',
               'images_per_sec', 'ci95', 'step_time_ms', 'timed_steps', 'gflops_per_image',
               'peak_fraction', 'build_seconds', 'first_step_seconds', 'status')
    sections.append('## Throughput\n\nMedian images/sec over the timed steps, ci95 the '
                    'half-width of its 95% interval.\n\n' +
                    markdown_table(columns, image_rows))
  if clip_rows:
    # Not in the images/sec table: a clip is num_frames images' worth of work.
    columns = ('model', 'mode', 'optimizer', 'data', 'precision', 'batch_size', 'img_size',
               'num_frames', 'clips_per_sec', 'ci95', 'step_time_ms', 'timed_steps',
               'gflops_per_clip', 'peak_fraction', 'build_seconds', 'first_step_seconds',
               'status')
    sections.append('## Throughput of video models\n\nMedian clips/sec (clips of num_frames '
                    'frames of img_size) over the timed steps, ci95 the half-width of its 95% '
                    'interval.\n\n' + markdown_table(columns, clip_rows))
  if failed:
    sections.append('## Failed runs\n\n' + '\n'.join(
        f'- {r["run"]}: {r["error"]}' for r in failed))
  return '\n\n'.join(sections) + '\n'


def _write_events(folder, suffix, write):
  """Calls write() under a new event file of `folder` named ...`suffix`, then removes the
  older files of that suffix (this runner's own earlier writes), so that a rebuild
  replaces what the last one wrote instead of adding a second value."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  older = set(tf.io.gfile.glob(os.path.join(folder, 'events.out.tfevents.*' + suffix)))
  writer = tf.summary.create_file_writer(folder, filename_suffix=suffix)
  with writer.as_default():
    write()
  writer.close()
  for path in older:
    files.remove_quietly(path)


def write_hparams_config(output_dir, train_runs):
  """TensorBoard's HParams table for the training runs [(spec, run_dir, row)]: a column per
  hyperparameter that differs between them (all of them where none does) and the
  HPARAM_METRICS; each run's time to target into its folder.

  TensorBoard shows the first five columns by default and orders them itself: those
  marked `differs` first, then by name. Constant columns would push varying ones out of
  those five (`optimizer` came sixth, after constant ones), so they are left out.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorboard.plugins.hparams import api as hp  # pylint: disable=g-import-not-at-top
  from tensorboard.plugins.hparams import plugin_data_pb2  # pylint: disable=g-import-not-at-top
  values = {}
  for spec, _, _ in train_runs:
    for key, value in run_spec.hparams(spec).items():
      values.setdefault(key, set()).add(value)
  differing = {key for key, seen in values.items() if len(seen) > 1}
  hparams = []
  for key in sorted(differing or values):
    seen = values[key]
    if all(isinstance(v, str) for v in seen):
      hparams.append(hp.HParam(key, hp.Discrete(sorted(seen))))
    else:
      hparams.append(hp.HParam(key, hp.RealInterval(float(min(seen)), float(max(seen)))
                               if len(seen) > 1 else hp.Discrete(sorted(seen))))
  metrics = [hp.Metric(tag, display_name=name) for name, tag in HPARAM_METRICS.items()]
  config = hp.hparams_config_pb(hparams=hparams, metrics=metrics)
  # TensorBoard marks `differs` itself only where it derives the columns from the runs.
  summary_value = config.value[0]
  plugin_data = plugin_data_pb2.HParamsPluginData.FromString(
      summary_value.metadata.plugin_data.content)
  for info in plugin_data.experiment.hparam_infos:
    info.differs = info.name in differing
  summary_value.metadata.plugin_data.content = plugin_data.SerializeToString()
  _write_events(os.path.join(output_dir, 'train'), HPARAMS_CONFIG_SUFFIX,
                lambda: tf.summary.experimental.write_raw_pb(config.SerializeToString(),
                                                             step=0))
  for _, run_dir, row in train_runs:
    if row.get('time_to_target') is not None:
      _write_events(run_dir, TIME_TO_TARGET_SUFFIX,
                    lambda row=row: tf.summary.scalar(HPARAM_METRICS['time_to_target'],
                                                      row['time_to_target'],
                                                      step=row['steps'] or 0))
    else:  # not reached under this --target_accuracy: no value from an earlier one
      for path in tf.io.gfile.glob(os.path.join(run_dir, '*' + TIME_TO_TARGET_SUFFIX)):
        files.remove_quietly(path)


def write_plots(output_dir, summary, histories, throughput_rows):
  """accuracy_vs_throughput.png, accuracy_over_time.png and throughput.png, with 95%
  intervals as error bars."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  written = []
  finished = [e for e in summary if e['top1_mean'] is not None]
  several = len({(e['dataset'], e['steps']) for e in finished}) > 1

  def label(entry):
    text = f"{entry['model']}/{entry['optimizer']} lr={entry['learning_rate']}"
    return text + (f" {entry['dataset'].split('@')[0]} {entry['steps']} steps"
                   if several else '')

  if finished:
    figure, axes = plt.subplots(figsize=(7, 5))
    for entry in finished:
      axes.errorbar(entry['images_per_sec_mean'], entry['top1_mean'],
                    xerr=entry['images_per_sec_ci95'], yerr=entry['top1_ci95'], fmt='o',
                    capsize=3)
      axes.annotate(label(entry), (entry['images_per_sec_mean'], entry['top1_mean']),
                    fontsize=8)
    axes.set_xlabel('training images/sec (mean, 95% interval over seeds)')
    axes.set_ylabel('top-1 accuracy (held-out split)')
    axes.set_title('Accuracy vs training throughput')
    axes.grid(True, alpha=0.3)
    written.append(_save(figure, os.path.join(output_dir, 'accuracy_vs_throughput.png')))

    figure, axes = plt.subplots(figsize=(7, 5))
    for entry in finished:
      runs = histories[entry['config']]
      points = min(len(h) for h in runs)
      seconds = [statistics.mean([h[i]['train_seconds'] for h in runs]) for i in range(points)]
      accuracy = [[h[i]['accuracy'] for h in runs] for i in range(points)]
      axes.errorbar(seconds, [statistics.mean(a) for a in accuracy],
                    yerr=[statistics.ci95_half_width(a) or 0.0 for a in accuracy],
                    marker='o', capsize=3, label=label(entry))
    axes.set_xlabel('training seconds (mean over seeds)')
    axes.set_ylabel('top-1 accuracy (mean, 95% interval over seeds)')
    axes.set_title('Accuracy over training time')
    axes.legend(fontsize=8)
    axes.grid(True, alpha=0.3)
    written.append(_save(figure, os.path.join(output_dir, 'accuracy_over_time.png')))
  measured = [row for row in throughput_rows
              if row.get('status') == 'ok' and row.get('images_per_sec') is not None]
  if measured:
    figure, axes = plt.subplots(figsize=(8, max(3, 0.35 * len(measured))))
    labels = [f"{r['model']} {r['mode']} {r['data']} bs={r['batch_size']}" for r in measured]
    axes.barh(labels, [r['images_per_sec'] for r in measured],
              xerr=[r.get('ci95') or 0.0 for r in measured], capsize=3)
    axes.set_xlabel('images/sec (median, 95% interval of the mean)')
    axes.set_title('Throughput')
    written.append(_save(figure, os.path.join(output_dir, 'throughput.png')))
  plt.close('all')
  return written


def _save(figure, path):
  figure.tight_layout()
  with dataset_utils.atomic_output(path) as f:
    figure.savefig(f, format='png', dpi=100)
  return path


def _measure_peak(study):
  spec = run_spec.PeakRun(matrix_size=PEAK_MATRIX_SIZE, seconds=PEAK_SECONDS,
                          num_intra_threads=study.run.num_intra_threads,
                          num_inter_threads=study.run.num_inter_threads)
  run_dir = os.path.join(study.output_dir, 'throughput', run_spec.folder_name(spec))
  peak = execute(spec, run_dir, timeout=study.run_timeout_secs, echo=False)
  logging.info('Measured matrix-multiply peak: %s GFLOP/s (fastest product; median %s)',
               _format(peak.get('peak_gflops')), _format(peak.get('median_gflops')))
  return peak.get('peak_gflops')


def rebuild_reports(study):
  """Writes every table and plot from every run folder under --output_dir."""
  output_dir = study.output_dir
  histories = {}

  def make_train_row(spec, result, run_dir):
    row = train_row(spec, result, run_dir, study.target_accuracy)
    if result.get('status') == 'ok':
      histories.setdefault(row['config'], []).append(result['history'])
      train_runs.append((spec, run_dir, row))
    return row

  train_runs = []
  train_rows = collect_rows(output_dir, 'train', make_train_row)
  throughput_rows = collect_rows(output_dir, 'throughput', throughput_row)
  summary = summarize(train_rows)
  if train_rows:
    write_csv(os.path.join(output_dir, TRAIN_CSV), TRAIN_COLUMNS, train_rows)
    write_csv(os.path.join(output_dir, SUMMARY_CSV), SUMMARY_COLUMNS, summary)
    if train_runs:
      write_hparams_config(output_dir, train_runs)
  if throughput_rows:
    write_csv(os.path.join(output_dir, THROUGHPUT_CSV), THROUGHPUT_COLUMNS, throughput_rows)
  report = markdown_report(train_rows, summary, throughput_rows)
  files.write_text_atomically(os.path.join(output_dir, MARKDOWN), report)
  if study.plots:
    write_plots(output_dir, summary, histories, throughput_rows)
  return report


def _stop_on_signals():
  """SIGTERM/SIGHUP end the runner as SIGINT does, so its worker group is killed."""
  if threading.current_thread() is not threading.main_thread():
    return {}

  def handle(signum, unused_frame):
    _kill_live_workers()
    raise SystemExit(128 + signum)
  return {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGHUP)}


def run_study(study):
  """Runs `study` (a StudyConfig); rebuilds the tables of its output folder.

  Returns:
    {'train': rows, 'throughput': rows, 'failed': rows} of this call's runs.
  """
  check_study(study)
  os.makedirs(study.output_dir, exist_ok=True)
  previous_handlers = _stop_on_signals()
  try:
    return _run_study(study)
  finally:
    _kill_live_workers()
    for sig, handler in previous_handlers.items():
      signal.signal(sig, handler)


def _run_study(study):
  train_runs, throughput_runs = [], []
  if study.study in ('train', 'both'):
    train_runs = plan_train_runs(study, ensure_dataset(study.data))
  if study.study in ('throughput', 'both'):
    dataset_dir = ensure_dataset(study.data) if 'real' in study.throughput_data else None
    # Planned first, so that bad flags fail before the peak is measured.
    plan_throughput_runs(study, dataset_dir)
    throughput_runs = plan_throughput_runs(study, dataset_dir,
                                           peak_gflops=_measure_peak(study))
  all_runs = train_runs + throughput_runs
  rows = {'train': [], 'throughput': [], 'failed': []}
  study_start = time.time()
  executed = 0
  for index, (spec, run_dir) in enumerate(all_runs):
    elapsed = time.time() - study_start
    eta = (f', ETA {elapsed / executed * (len(all_runs) - index):.0f} s' if executed else '')
    print(f'[{index + 1}/{len(all_runs)}] {os.path.basename(run_dir)}{eta}', flush=True)
    result = execute(spec, run_dir, timeout=study.run_timeout_secs)
    if result.get('skipped'):
      print('    finished earlier with the same configuration: reused', flush=True)
    else:
      executed += 1
      if result.get('status') != 'ok':
        print(f'    FAILED: {result.get("error")}', flush=True)
    if spec.kind == 'train':
      row = train_row(spec, result, run_dir, study.target_accuracy)
    else:
      row = throughput_row(spec, result, run_dir)
    rows[spec.kind].append(row)
    if result.get('status') != 'ok':
      rows['failed'].append(row)
  report = rebuild_reports(study)
  print('\n' + report, flush=True)
  print(f'Results in {study.output_dir}; compare the runs with: '
        f'tensorboard --logdir {os.path.join(study.output_dir, "train")}', flush=True)
  return rows
