"""What one run of a benchmark study is: a typed spec shared by the planner and the worker.

A run's identity is its whole configuration: every field of its spec except where its
inputs live on this machine (`dataset_dir`) and the matmul peak a throughput run
is compared with. Two runs with the same identity measure the
same thing, so a finished one is reused; any difference (a training flag, the dataset's
content, the image size, the step count, the seed, the precision, the thread counts) is
another run in another folder. The folder name is readable and ends in a short hash of
the identity.
"""

import dataclasses
import hashlib
import json
import os
import re

SPEC_FILE = 'run_spec.json'
RESULT_FILE = 'result.json'     # what the worker measured
JOURNAL_FILE = 'progress.json'  # a train run's progress up to its last evaluation point
# Fields that say where the inputs are on this machine, or what a throughput run is
# compared with, not what is measured.
_NOT_IDENTITY = ('dataset_dir', 'peak_gflops')
# Fields added after runs were recorded, with the value those runs had: at that value a
# field stays out of the identity, so the runs already finished keep their identity and
# are reused.
_LATER_FIELDS = {'eval_crops': 1}


@dataclasses.dataclass(frozen=True)
class TrainRun:
  """Train `model` for `steps` steps, evaluating on `eval_split` at `eval_points` points."""
  model: str
  optimizer: str
  learning_rate: str
  batch_size: int
  image_size: int
  steps: int
  seed: int
  precision: str
  dataset: str          # name@content-checksum
  eval_split: str
  eval_points: int
  # Every other training flag as --name=value, sorted: all of them are the configuration.
  train_flags: tuple
  eval_crops: int = 1   # 1 (central crop) or 10 (the AlexNet paper's ten crops)
  dataset_dir: str = ''
  kind: str = 'train'

  @property
  def segments(self):
    """The global steps after which the run evaluates, the last being `steps`."""
    return sorted({max(1, round(self.steps * (i + 1) / self.eval_points))
                   for i in range(self.eval_points)})

  def readable_name(self):
    crops = f'-{self.eval_crops}crops' if self.eval_crops != 1 else ''
    return (f'{self.model}-{self.optimizer}-lr{self.learning_rate}-bs{self.batch_size}-'
            f'img{self.image_size}-{self.steps}steps-seed{self.seed}-{self.precision}{crops}')

  def config_identity(self):
    """The identity without the seed: runs differing only by seed are one configuration."""
    return short_hash(dict(identity(self), seed=None))


@dataclasses.dataclass(frozen=True)
class ThroughputRun:
  """Time `timed_steps` training or inference steps of `model` after `warmup_steps`."""
  model: str
  mode: str             # train | inference
  data: str             # synthetic | real
  batch_size: int
  image_size: int
  warmup_steps: int
  timed_steps: int
  precision: str
  dataset: str          # name@content-checksum for real data, else 'synthetic'
  train_flags: tuple    # as TrainRun's: the training step is built from them
  peak_gflops: float = None  # this machine's matmul rate, the yardstick of peak_fraction
  dataset_dir: str = ''
  kind: str = 'throughput'

  def readable_name(self):
    mode = self.mode + (f'-{flag_value(self, "optimizer")}' if self.mode == 'train' else '')
    return (f'{self.model}-{mode}-{self.data}-bs{self.batch_size}-img{self.image_size}-'
            f'{self.precision}')


@dataclasses.dataclass(frozen=True)
class PeakRun:
  """Measure this machine's float32 matrix-multiply rate."""
  matrix_size: int
  seconds: float
  num_intra_threads: int
  num_inter_threads: int
  kind: str = 'peak'

  def readable_name(self):
    return f'matmul_peak-{self.matrix_size}'


KINDS = {'train': TrainRun, 'throughput': ThroughputRun, 'peak': PeakRun}


def identity(spec):
  """The fields that define what a run measures, as a plain dict."""
  fields = dataclasses.asdict(spec)
  for name in _NOT_IDENTITY:
    fields.pop(name, None)
  for name, value in _LATER_FIELDS.items():
    if fields.get(name) == value:
      del fields[name]
  return fields


def short_hash(value):
  text = json.dumps(value, sort_keys=True, default=list)
  return hashlib.sha256(text.encode()).hexdigest()[:10]


def run_id(spec):
  return short_hash(identity(spec))


def folder_name(spec):
  """`readable-name-<hash>`, with only file-name-safe characters."""
  return re.sub(r'[^A-Za-z0-9_.=-]', '_', f'{spec.readable_name()}-{run_id(spec)}')


def to_json(spec):
  return json.dumps(dataclasses.asdict(spec), indent=1, sort_keys=True)


def from_json(text):
  """The spec that `to_json` wrote."""
  fields = json.loads(text)
  cls = KINDS[fields['kind']]
  if 'train_flags' in fields:
    fields['train_flags'] = tuple(fields['train_flags'])
  return cls(**fields)


def read(run_dir):
  with open(os.path.join(run_dir, SPEC_FILE)) as f:
    return from_json(f.read())


def hparams(spec):
  """The knobs TensorBoard's HParams table shows for a train run."""
  return {'model': spec.model, 'optimizer': spec.optimizer,
          'learning_rate': float(spec.learning_rate), 'batch_size': spec.batch_size,
          'image_size': spec.image_size, 'steps': spec.steps, 'seed': spec.seed,
          'precision': spec.precision, 'dataset': spec.dataset, 'eval_crops': spec.eval_crops}


def flag_value(spec, name):
  """The value of --name among the spec's training flags, as text; None if absent."""
  prefix = f'--{name}='
  for flag in spec.train_flags:
    if flag.startswith(prefix):
      return flag[len(prefix):]
    if flag == f'--{name}':
      return 'true'
    if flag == f'--no{name}':
      return 'false'
  return None


def read_json_file(run_dir, filename):
  """The JSON a run folder holds under `filename`, or None if it is missing or unreadable
  (a run killed while writing it counts as not having written it)."""
  path = os.path.join(run_dir, filename)
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None
