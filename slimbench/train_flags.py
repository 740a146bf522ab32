"""The flags of train_image_classifier.py: TF-Slim's names and defaults, plus a few more.

Defined on a given `flags.FlagValues`, so that tests and the benchmark runner can parse
their own argument lists without touching the process-wide `absl.flags.FLAGS`.
"""

from absl import flags

from slimbench import optimization
from slimbench.flag_groups import checkpoint_flags
from slimbench.flag_groups import dataset_flags
from slimbench.flag_groups import model_flags
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
                       'parameter server for a worker gone before it finished.', lower_bound=1,
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
  flags.DEFINE_integer('random_seed', None, 'Graph-level random seed, for repeatable runs.',
                       flag_values=fv)

  # ----- Optimization -----
  flags.DEFINE_float('weight_decay', 0.00004, 'L2 weight decay of the model.',
                     lower_bound=0.0, flag_values=fv)
  flags.DEFINE_enum('optimizer', 'rmsprop', optimization.OPTIMIZERS, 'The optimizer.',
                    flag_values=fv)
  flags.DEFINE_float('adadelta_rho', 0.95, 'Decay rate of adadelta.', flag_values=fv)
  flags.DEFINE_float('adagrad_initial_accumulator_value', 0.1,
                     'Starting value of the AdaGrad accumulators.', flag_values=fv)
  flags.DEFINE_float('adam_beta1', 0.9, 'Decay of the first moment estimates.',
                     flag_values=fv)
  flags.DEFINE_float('adam_beta2', 0.999, 'Decay of the second moment estimates.',
                     flag_values=fv)
  flags.DEFINE_float('opt_epsilon', 1.0, 'Epsilon of adadelta, adam and rmsprop.',
                     flag_values=fv)
  flags.DEFINE_float('ftrl_learning_rate_power', -0.5, 'Learning rate power of FTRL.',
                     flag_values=fv)
  flags.DEFINE_float('ftrl_initial_accumulator_value', 0.1,
                     'Starting value of the FTRL accumulators.', flag_values=fv)
  flags.DEFINE_float('ftrl_l1', 0.0, 'FTRL L1 regularization strength.', flag_values=fv)
  flags.DEFINE_float('ftrl_l2', 0.0, 'FTRL L2 regularization strength.', flag_values=fv)
  flags.DEFINE_float('momentum', 0.9, 'Momentum of the momentum optimizer.', flag_values=fv)
  flags.DEFINE_float('rmsprop_momentum', 0.9, 'Momentum of RMSProp.', flag_values=fv)
  flags.DEFINE_float('rmsprop_decay', 0.9, 'Decay of RMSProp.', flag_values=fv)
  flags.DEFINE_float('clip_gradient_norm', 0.0, 'Rescale the gradients whenever their '
                     'global norm (over every trained variable, clones summed) exceeds this; '
                     '0 does not clip.', lower_bound=0.0, flag_values=fv)
  flags.DEFINE_float('batch_norm_decay', None, 'Decay of the batch-norm moving statistics; '
                     'by default the family\'s (0.997-0.9997, made for long ImageNet runs: '
                     'short runs want 0.9 or their evaluation sees unsettled statistics).',
                     lower_bound=0.0, upper_bound=1.0, flag_values=fv)
  flags.DEFINE_integer('quantize_delay', -1,
                       'TF-Slim\'s quantization-aware training delay. Its machinery '
                       '(tf.contrib.quantize) no longer exists: any value >= 0 is an error.',
                       flag_values=fv)

  # ----- Learning rate -----
  flags.DEFINE_enum('learning_rate_decay_type', 'exponential', optimization.DECAY_TYPES,
                    'How the learning rate decays (cosine: half a cosine down to '
                    '--end_learning_rate over --num_epochs_per_decay, then flat).',
                    flag_values=fv)
  flags.DEFINE_float('learning_rate', 0.01, 'Initial learning rate.', lower_bound=0.0,
                     flag_values=fv)
  flags.DEFINE_float('end_learning_rate', 0.0001, 'Final rate of polynomial decay, and the '
                     'floor of cosine decay.', lower_bound=0.0, flag_values=fv)
  flags.DEFINE_float('label_smoothing', 0.0, 'Label smoothing of the cross entropy.',
                     lower_bound=0.0, upper_bound=1.0, flag_values=fv)
  flags.DEFINE_float('learning_rate_decay_factor', 0.94, 'Learning rate decay factor.',
                     flag_values=fv)
  flags.DEFINE_float('num_epochs_per_decay', 2.0, 'Epochs between decays (exponential) or '
                     'until the end rate (polynomial, cosine: give the run\'s length after '
                     'the warm-up).', lower_bound=0.0, flag_values=fv)
  flags.DEFINE_float('warmup_epochs', 0.0, 'Epochs of linear warm-up from 0 to '
                     '--learning_rate before the decay schedule starts.', lower_bound=0.0,
                     flag_values=fv)
  flags.DEFINE_boolean('sync_replicas', False, 'Aggregate the replicas\' gradients '
                       'synchronously.', flag_values=fv)
  flags.DEFINE_integer('replicas_to_aggregate', 1, 'Gradients to aggregate per step with '
                       '--sync_replicas.', lower_bound=1, flag_values=fv)
  flags.DEFINE_list('piecewise_boundaries_epochs', [], 'piecewise: epochs at which the rate '
                    'changes, increasing (e.g. 30,60,80).', flag_values=fv)
  flags.DEFINE_list('piecewise_learning_rates', [], 'piecewise: the rates before, between '
                    'and after the boundaries (one more than boundaries).', flag_values=fv)
  flags.DEFINE_string('plateau_metric_file', None, 'plateau: the CSV an evaluator writes '
                      '(eval_image_classifier.py --wait_for_checkpoints); by default '
                      'train_dir/eval/eval_results.csv.', flag_values=fv)
  flags.DEFINE_string('plateau_metric', 'accuracy', 'plateau: the column watched; higher '
                      'is better, except for a loss.', flag_values=fv)
  flags.DEFINE_integer('plateau_patience', 2, 'plateau: evaluations without improvement '
                       'before the rate is divided.', lower_bound=1, flag_values=fv)
  flags.DEFINE_float('plateau_factor', 10.0, 'plateau: what the rate is divided by.',
                     lower_bound=1.0, flag_values=fv)
  flags.DEFINE_float('plateau_min_delta', 0.0, 'plateau: the least change that counts as '
                     'an improvement.', lower_bound=0.0, flag_values=fv)
  flags.DEFINE_float('plateau_min_learning_rate', 0.0, 'plateau: the rate never goes '
                     'below this.', lower_bound=0.0, flag_values=fv)

  # ----- Dataset -----
  dataset_flags.define_dataset_flags(fv, split_name='train')
  model_flags.define_model_flags(fv)
  preprocessing_flags.define_preprocessing_flags(fv)
  flags.DEFINE_integer('batch_size', 32, 'Examples per clone per step.', lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_integer('train_image_size', None, 'Training image side; by default the '
                       'model\'s default size.', lower_bound=1, flag_values=fv)
  flags.DEFINE_integer('num_frames', None, 'Video models (i3d, s3dg): frames per training '
                       'clip; by default the model\'s (64). Clips are synthetic '
                       '(--dataset_name=synthetic).', lower_bound=1, flag_values=fv)
  flags.DEFINE_integer('max_number_of_steps', None, 'Global step to stop at; unset trains '
                       'until stopped.', lower_bound=1, flag_values=fv)

  # ----- Fine-tuning -----
  checkpoint_flags.define_checkpoint_flags(fv, 'The weights to start from; ignored once '
                                           '--train_dir has a checkpoint of its own.',
                                           with_moving_average=True)
  flags.DEFINE_string('checkpoint_exclude_scopes', None, 'Comma-separated variable scopes '
                      'not restored from --checkpoint_path.', flag_values=fv)
  flags.DEFINE_string('trainable_scopes', None, 'Comma-separated variable scopes to train; '
                      'unset trains all.', flag_values=fv)
  flags.DEFINE_boolean('ignore_missing_vars', False, 'Skip variables that the checkpoint '
                       'lacks instead of failing.', flag_values=fv)
  return sorted(set(fv) - before)
