"""The flags of benchmark_models.py: the study's own, plus every training flag.

`read_study_config` is the one place they become a `benchmark.StudyConfig`.
"""

import dataclasses
import os

from absl import flags

from slimbench import benchmark
from slimbench import flag_groups
from slimbench import train_flags


def define_benchmark_flags(fv):
  """The runner's flags, plus every training flag (passed through to each run)."""
  train_flag_names = train_flags.define_train_flags(fv)
  flags.DEFINE_enum('study', 'both', ['throughput', 'train', 'both'],
                    'train: train and evaluate each model x optimizer x seed; throughput: '
                    'time training and inference steps; both (the main job).',
                    flag_values=fv)
  flags.DEFINE_list('models', None, 'Models or shell patterns of registered names (e.g. '
                    'resnet_v1_*). By default the training study trains '
                    f'{",".join(benchmark.DEFAULT_TRAIN_MODELS)} and the throughput study times '
                    f'{",".join(benchmark.DEFAULT_THROUGHPUT_MODELS)}.', flag_values=fv)
  flags.DEFINE_list('optimizers', ['momentum', 'adam'], 'Training study: optimizers to '
                    'compare. (The throughput study\'s training step takes --optimizer.)',
                    flag_values=fv)
  flags.DEFINE_list('learning_rates', [], 'Training study: learning rates to compare; by '
                    'default one per optimizer that suits it (momentum 0.01, adam 0.001, '
                    '...).', flag_values=fv)
  flags.DEFINE_list('batch_sizes', None, 'Batch sizes (per clone); by default '
                    f'{",".join(benchmark.DEFAULT_TRAIN_BATCH_SIZES)} for training and '
                    f'{",".join(benchmark.DEFAULT_THROUGHPUT_BATCH_SIZES)} for throughput.',
                    flag_values=fv)
  flags.DEFINE_integer('eval_crops', 1, 'Training study: crops per evaluated image, 1 (the '
                       'central crop) or 10 (four corners and the centre, and their mirror '
                       'images; softmax averaged), as eval_image_classifier.py --eval_crops.',
                       flag_values=fv)
  flags.DEFINE_list('seeds', ['0', '1'], 'Training study: each configuration is trained '
                    'once per seed (--random_seed of the run); the summary gives the mean '
                    'and its 95% interval over them.', flag_values=fv)
  flags.DEFINE_string('output_dir', os.path.join(benchmark.WORK_ROOT, 'runs', 'benchmark'),
                      'Root folder of the study: one sub-folder per run; the tables cover '
                      'every run in it.', flag_values=fv)
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
  flags.DEFINE_integer('warmup_steps', 1, 'Throughput: untimed steps after the first.',
                       lower_bound=0, flag_values=fv)
  flags.DEFINE_integer('timed_steps', 5, 'Throughput: timed steps.', lower_bound=2,
                       flag_values=fv)
  flags.DEFINE_integer('image_size', None, 'Throughput: image side; by default each '
                       'model\'s own (training uses --train_image_size).', lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_integer('run_timeout_secs', None, 'Stop a run (its whole process group) '
                       'after this many seconds of wall-clock time.', lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_boolean('plots', True, 'Write PNG plots (needs matplotlib).', flag_values=fv)
  for name, value in benchmark.MAIN_JOB_DEFAULTS.items():
    fv.set_default(name, value)
  return train_flag_names


# Forwarded training flags that name files: resolved like --dataset_dir, so that a run's
# identity names the files it read, whichever folder the runner was started from.
_TRAIN_PATH_FLAGS = ('checkpoint_path', 'plateau_metric_file')


def read_study_config(fv, train_flag_names):
  """The study the parsed flags describe. Relative paths (--output_dir, --dataset_dir and
  the forwarded --checkpoint_path, --plateau_metric_file) name files under the working
  folder of the command."""
  study = flag_groups.read(benchmark.StudyConfig, fv)
  data = study.data
  if data.dataset_dir:
    data = dataclasses.replace(data, dataset_dir=os.path.abspath(data.dataset_dir))
  lines = flag_groups.flag_lines(fv, train_flag_names)
  for name in _TRAIN_PATH_FLAGS:
    if name in lines and fv[name].value:
      lines[name] = f'--{name}={os.path.abspath(fv[name].value)}'
  return dataclasses.replace(
      study, output_dir=os.path.abspath(study.output_dir), data=data,
      train_flag_lines=tuple(sorted(lines.items())),
      given=frozenset(name for name in fv if fv[name].present))
