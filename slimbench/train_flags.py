"""The flags of train_image_classifier.py: TF-Slim's names and defaults, plus a few more.

Defined on a given `flags.FlagValues`, so that tests and the benchmark runner can parse
their own argument lists without touching the process-wide `absl.flags.FLAGS`;
`read_train_config` turns them, once parsed, into the `training.TrainConfig` that training
takes.

Usage:
  fv = flags.FlagValues()
  names = train_flags.define_train_flags(fv)
  fv(['train', '--model_name=lenet', ...])
  training.train(train_flags.read_train_config(fv, names))
"""

import dataclasses

from absl import flags

from slimbench import cluster
from slimbench import config
from slimbench import flag_groups
from slimbench import training
from slimbench.flag_groups import checkpoint_flags
from slimbench.flag_groups import dataset_flags
from slimbench.flag_groups import learning_rate_flags
from slimbench.flag_groups import model_flags
from slimbench.flag_groups import optimizer_flags
from slimbench.flag_groups import preprocessing_flags


def define_train_flags(fv):
  """Defines every training flag on the FlagValues `fv`; returns their names."""
  before = set(fv)

  # ----- General and deployment -----
  flags.DEFINE_string('train_dir', '/tmp/tfmodel/',
                      'Where checkpoints, event logs and the resolved flags are written.',
                      flag_values=fv)
  flags.DEFINE_string('master', '', 'grpc:// address of a TensorFlow server started '
                      'elsewhere for this worker; with --ps_hosts/--worker_hosts or TF_CONFIG '
                      'this process starts its own and the flag stays empty.', flag_values=fv)
  flags.DEFINE_integer('num_clones', 1, 'Model clones to deploy (one per GPU).',
                       lower_bound=1, flag_values=fv)
  flags.DEFINE_boolean('clone_on_cpu', False, 'Put the clones on the CPU.', flag_values=fv)
  flags.DEFINE_integer('worker_replicas', 1, 'Number of worker replicas (taken from '
                       '--worker_hosts or TF_CONFIG when given).', lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_integer('num_ps_tasks', 0, 'Number of parameter servers; 0 keeps the '
                       'variables on this worker (taken from --ps_hosts or TF_CONFIG when '
                       'given).', lower_bound=0, flag_values=fv)
  flags.DEFINE_integer('task', 0, 'Task index of this process in its job; worker 0 is the '
                       'chief.', lower_bound=0, flag_values=fv)
  flags.DEFINE_enum('job_name', None, ['ps', 'worker'], 'Multi-machine: run as a parameter '
                    'server or as a worker of the cluster of --ps_hosts/--worker_hosts.',
                    flag_values=fv)
  flags.DEFINE_string('ps_hosts', None, 'Multi-machine: comma-separated host:port of the '
                      'parameter servers.', flag_values=fv)
  flags.DEFINE_string('worker_hosts', None, 'Multi-machine: comma-separated host:port of the '
                      'workers, the chief first.', flag_values=fv)
  flags.DEFINE_integer('cluster_wait_secs', 300, 'Multi-machine: how long a task waits for '
                       'one it needs before it stops with an error naming it: a worker for '
                       'the parameter servers at its start (a lost one: at most 30 s), a '
                       'synchronous worker for a lost chief, a parameter server for a '
                       'worker gone before it finished.', lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_integer('num_readers', 4, 'TFRecord files read in parallel.', lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_integer('num_intra_threads', 0, 'Threads of one op (a convolution); 0 lets '
                       'TensorFlow pick (one per core).', lower_bound=0, flag_values=fv)
  flags.DEFINE_integer('num_inter_threads', 0, 'Ops run at the same time; 0 lets TensorFlow '
                       'pick.', lower_bound=0, flag_values=fv)
  flags.DEFINE_boolean('use_fp16', False, 'Mixed precision: compute activations and '
                       'gradients in float16 over float32 variables (for GPUs with float16 '
                       'units; slower on CPU).', flag_values=fv)
  flags.DEFINE_float('fp16_loss_scale', None, 'With --use_fp16: a fixed loss scale; unset '
                     'scales the loss dynamically.', lower_bound=1.0, flag_values=fv)
  flags.DEFINE_integer('log_every_n_steps', 10, 'Steps between log lines.', lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_integer('save_summaries_secs', 600, 'Seconds between summary writes.',
                       lower_bound=1, flag_values=fv)
  flags.DEFINE_integer('save_interval_secs', 600, 'Seconds between checkpoints.',
                       lower_bound=1, flag_values=fv)
  flags.DEFINE_boolean('summarize_histograms', False,
                       'Also write histograms of activations, variables and gradients '
                       '(costly for large nets).', flag_values=fv)
  flags.DEFINE_enum('conv_gradients', 'auto', ['auto', 'tensorflow', 'fast'],
                    'How convolutions are differentiated: auto times TensorFlow\'s gradient '
                    'kernels against their matmul forms for each distinct convolution on '
                    'this machine, once (kept in ~/.cache/slimbench/kernel_choices.json, '
                    'or $SLIMBENCH_CACHE_DIR), and uses the fastest; tensorflow: '
                    'TensorFlow\'s own; fast: the fixed rule of earlier versions. The '
                    'values are the same up to float rounding.', flag_values=fv)
  flags.DEFINE_integer('random_seed', None, 'Graph-level random seed, for repeatable runs.',
                       flag_values=fv)

  optimizer_flags.define_optimizer_flags(fv)
  learning_rate_flags.define_learning_rate_flags(fv)

  # ----- Dataset -----
  dataset_flags.define_dataset_flags(fv, split_name='train')
  model_flags.define_model_flags(fv, with_num_frames=True)
  preprocessing_flags.define_preprocessing_flags(fv)
  flags.DEFINE_integer('batch_size', 32, 'Examples per clone per step.', lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_integer('train_image_size', None, 'Training image side; by default the '
                       'model\'s default size.', lower_bound=1, flag_values=fv)
  flags.DEFINE_integer('max_number_of_steps', None, 'Global step to stop at; unset trains '
                       'until stopped.', lower_bound=1, flag_values=fv)

  # ----- Fine-tuning -----
  checkpoint_flags.define_checkpoint_flags(fv, 'The weights to start from; ignored once '
                                           '--train_dir has a checkpoint of its own.',
                                           with_moving_average=True, with_fine_tuning=True)
  return sorted(set(fv) - before)


def read_train_config(fv, flag_names):
  """The `training.TrainConfig` of the parsed training flags `fv`.

  Args:
    fv: a FlagValues with the flags of `define_train_flags`, parsed.
    flag_names: the names `define_train_flags` returned; their set values become the
      config's `flag_lines` (flags.txt).
  """
  return training.TrainConfig(
      data=flag_groups.read(config.DataConfig, fv),
      model=flag_groups.read(config.ModelConfig, fv),
      preprocessing=flag_groups.read(config.PreprocessingConfig, fv),
      optimizer=flag_groups.read(config.OptimizerConfig, fv),
      schedule=flag_groups.read(config.ScheduleConfig, fv),
      checkpoint=flag_groups.read(config.CheckpointConfig, fv),
      cluster=dataclasses.replace(
          flag_groups.read(config.ClusterConfig, fv),
          given=frozenset(name for name in cluster.RESOLVED_FIELDS if fv[name].present)),
      run=flag_groups.read(config.RunConfig, fv),
      flag_lines=flag_groups.flag_lines(fv, flag_names))
