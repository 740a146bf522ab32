"""Typed settings: what the library takes instead of the scripts' flags.

Each script reads its flags once, at its boundary (`slimbench/commands/`, with
`slimbench.flag_groups.read`), into these frozen dataclasses, one per concern, and passes them on; nothing below the scripts reads a
flag. A field has its flag's name, type and default, so `--learning_rate` is
`ScheduleConfig.learning_rate`. Lists become tuples, so that a config is hashable and
cannot be changed on the way; `dataclasses.replace` makes a changed copy.

The groups mirror `slimbench.flag_groups` (the flags several scripts share) and the
training script's own flags. A script's whole configuration (`training.TrainConfig`,
`evaluation.EvalConfig`, ...) lives beside the code that runs it.
"""

import dataclasses
from typing import Optional


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """Which converted dataset, split and label numbering."""
  dataset_name: str = 'imagenet'
  dataset_dir: Optional[str] = None
  dataset_split_name: str = 'train'
  labels_offset: int = 0


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Which registered network; `num_frames` for video networks (None: the model's own)."""
  model_name: Optional[str] = 'inception_v3'
  num_frames: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class PreprocessingConfig:
  """How images become the network's input (the size is each script's own setting)."""
  preprocessing_name: Optional[str] = None
  use_grayscale: bool = False
  # 0: the count measured fastest on this machine (runtime_tuning.preprocessing_threads).
  num_preprocessing_threads: int = 0


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
  """The optimizer, its parameters, regularization and gradient aggregation."""
  optimizer: str = 'rmsprop'
  weight_decay: float = 0.00004
  adadelta_rho: float = 0.95
  adagrad_initial_accumulator_value: float = 0.1
  adam_beta1: float = 0.9
  adam_beta2: float = 0.999
  opt_epsilon: float = 1.0
  ftrl_learning_rate_power: float = -0.5
  ftrl_initial_accumulator_value: float = 0.1
  ftrl_l1: float = 0.0
  ftrl_l2: float = 0.0
  momentum: float = 0.9
  rmsprop_momentum: float = 0.9
  rmsprop_decay: float = 0.9
  clip_gradient_norm: float = 0.0
  batch_norm_decay: Optional[float] = None
  quantize_delay: int = -1
  sync_replicas: bool = False
  replicas_to_aggregate: int = 1


@dataclasses.dataclass(frozen=True)
class ScheduleConfig:
  """The learning rate over training, and label smoothing."""
  learning_rate: float = 0.01
  learning_rate_decay_type: str = 'exponential'
  end_learning_rate: float = 0.0001
  learning_rate_decay_factor: float = 0.94
  num_epochs_per_decay: float = 2.0
  warmup_epochs: float = 0.0
  piecewise_boundaries_epochs: tuple = ()
  piecewise_learning_rates: tuple = ()
  plateau_metric: str = 'accuracy'
  plateau_metric_file: Optional[str] = None
  plateau_factor: float = 10.0
  plateau_patience: int = 2
  plateau_min_delta: float = 0.0
  plateau_min_learning_rate: float = 0.0
  label_smoothing: float = 0.0


@dataclasses.dataclass(frozen=True)
class CheckpointConfig:
  """The weights to start from (or evaluate), what of them, and their averages."""
  checkpoint_path: Optional[str] = None
  checkpoint_exclude_scopes: Optional[str] = None
  trainable_scopes: Optional[str] = None
  ignore_missing_vars: bool = False
  moving_average_decay: Optional[float] = None


@dataclasses.dataclass(frozen=True)
class ClusterConfig:
  """Where this process runs: clones, replicas and its task in a cluster.

  As given by the flags; `cluster.resolve` returns a resolved copy (task, replica and
  parameter-server counts taken from --ps_hosts/--worker_hosts or TF_CONFIG).
  """
  master: str = ''
  num_clones: int = 1
  clone_on_cpu: bool = False
  worker_replicas: int = 1
  num_ps_tasks: int = 0
  task: int = 0
  job_name: Optional[str] = None
  ps_hosts: Optional[str] = None
  worker_hosts: Optional[str] = None
  cluster_wait_secs: int = 300
  # The fields given on the command line, not left at their defaults: a cluster
  # description must agree with those.
  given: frozenset = frozenset()


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """The training loop: where it writes, how long, how big a step, how it logs and saves."""
  train_dir: str = '/tmp/tfmodel/'
  batch_size: int = 32
  max_number_of_steps: Optional[int] = None
  train_image_size: Optional[int] = None
  num_readers: int = 4
  num_intra_threads: int = 0
  num_inter_threads: int = 0
  use_fp16: bool = False
  fp16_loss_scale: Optional[float] = None
  log_every_n_steps: int = 10
  save_summaries_secs: int = 600
  save_interval_secs: int = 600
  summarize_histograms: bool = False
  random_seed: Optional[int] = None
  conv_gradients: str = 'auto'
