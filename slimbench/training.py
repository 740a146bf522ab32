"""Training of any registered network on any converted dataset, as TF-Slim trains.

`train(config)` does what train_image_classifier.py does, from a `TrainConfig` (which
`train_flags.read_train_config` reads from that script's flags): clones over devices with
`model_deploy`, a `tf.data` input pipeline, the optimizer and learning-rate schedule of
the config, fine-tuning from a checkpoint, resume from `train_dir`, checkpoints and
TensorBoard summaries. The same call runs a parameter server or a worker of a
multi-machine cluster (see `slimbench.cluster`): asynchronous training, or synchronous
with `--sync_replicas`, where the chief aggregates `--replicas_to_aggregate` gradients
per step.
"""

import dataclasses
import json
import os
import signal
import threading
import time
import types
from typing import Mapping

from absl import logging
import tensorflow as tf
import tf_slim as slim

from slimbench.datasets import dataset_factory
from slimbench.deployment import model_deploy
from slimbench.nets import nets_factory
from slimbench import checkpoints
from slimbench import cluster
from slimbench import config as config_lib
from slimbench import files
from slimbench import inputs
from slimbench import kernel_tuning
from slimbench import optimization
from slimbench import precision
from slimbench import runtime_tuning

tf1 = tf.compat.v1

FLAGS_FILE = 'flags.txt'
RESULTS_FILE = 'train_results.json'
AUX_LOSS_WEIGHT = 0.4
# Seconds the session gives its threads to stop. Only synchronous training has one that
# matters: the chief's, which closes the token queue so that no worker waits for a token.
STOP_GRACE_SECS = 2
# Seconds after SIGINT/SIGTERM before a step that has not ended is reported as stuck.
STUCK_NOTICE_SECS = 5


def scalar_summary(tag, tensor):
  """A scalar summary with exactly `tag` (tf.summary.scalar appends _1 when an op of that
  name exists, as TF-Slim's 'total_loss_1' shows)."""
  summary = tf.raw_ops.ScalarSummary(tags=tag, values=tensor)
  tf1.add_to_collection(tf1.GraphKeys.SUMMARIES, summary)
  return summary


class TrainingError(Exception):
  """Training stopped for a reason the user must act on (the message says which)."""


class DivergedError(TrainingError):
  """The loss, the gradients or the weights became NaN or Inf at global step `step`."""

  def __init__(self, step, what):
    super().__init__(f'training diverged at step {step}: {what}')
    self.step = step
    self.what = what


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """The settings of a training run: train_image_classifier.py's flags, one group per concern.

  `train_flags.read_train_config` makes one from parsed flags. `flag_lines` maps the name
  of each flag that has a value to its line as absl writes it (`--learning_rate=0.01`, a
  list as `--name=a,b`), in name order, read-only: the chief writes them into flags.txt
  and a resume compares them with the flags.txt there. The groups say all that it does,
  so it is left out of the hash.
  """
  data: config_lib.DataConfig
  model: config_lib.ModelConfig
  preprocessing: config_lib.PreprocessingConfig
  optimizer: config_lib.OptimizerConfig
  schedule: config_lib.ScheduleConfig
  checkpoint: config_lib.CheckpointConfig
  cluster: config_lib.ClusterConfig
  run: config_lib.RunConfig
  flag_lines: Mapping[str, str] = dataclasses.field(hash=False)

  def __post_init__(self):
    # A copy behind a read-only view: nothing changes the lines of a frozen config.
    object.__setattr__(self, 'flag_lines', types.MappingProxyType(dict(self.flag_lines)))


def check_config(config, task=None):
  """Rejects settings that cannot work together, with one clear line naming the flags.

  Args:
    config: a `TrainConfig`, its cluster resolved (`cluster.resolve`).
    task: this process's `cluster.Task`, or None on one machine.
  """
  optimizer, cluster_config, data = config.optimizer, config.cluster, config.data
  if optimizer.quantize_delay >= 0:
    raise ValueError('--quantize_delay: quantization-aware training used tf.contrib.quantize, '
                     'which TensorFlow 2 no longer has; leave the flag at -1')
  if not task and not cluster_config.master and (cluster_config.num_ps_tasks or
                                                 cluster_config.worker_replicas > 1):
    raise ValueError('--num_ps_tasks/--worker_replicas describe a multi-machine cluster: '
                     'give it with --job_name, --ps_hosts and --worker_hosts, or TF_CONFIG (or '
                     '--master of a server started elsewhere)')
  if optimizer.replicas_to_aggregate > 1 and not optimizer.sync_replicas:
    raise ValueError('--replicas_to_aggregate applies to synchronous training: add '
                     '--sync_replicas')
  precision.check_config(config.run.use_fp16, config.run.fp16_loss_scale)
  if not data.dataset_dir and data.dataset_name != 'synthetic':
    raise ValueError('--dataset_dir is required: the folder of the converted dataset '
                     '(see download_and_convert_data.py)')
  model_name = config.model.model_name
  info = nets_factory.model_info(model_name)  # an unknown model fails here, with suggestions
  if config.model.num_frames is not None and not info.is_video_model:
    raise ValueError(f'--num_frames applies to video models only; {model_name} is an '
                     'image model')
  if info.is_video_model and data.dataset_name != dataset_factory.SYNTHETIC:
    raise ValueError(f'--model_name={model_name} is a video model and no video dataset '
                     f'converter exists: train it on --dataset_name=synthetic clips, not '
                     f'--dataset_name={data.dataset_name}')


def write_flags(flag_lines, train_dir):
  """Writes the resolved flags as a --flagfile into train_dir (temp name, then rename).

  `flag_lines` (a `TrainConfig`'s) holds each flag as absl's own serializer writes it, as
  `FlagValues.flags_into_string` does (a list as `--name=a,b`, a multi flag one line per
  value), so that the file reads back with --flagfile; unset flags are not among them.
  """
  files.write_text_atomically(os.path.join(train_dir, FLAGS_FILE),
                              ''.join(line + '\n' for line in flag_lines.values() if line))


def _variables_to_train(trainable_scopes):
  scopes = checkpoints.split_scopes(trainable_scopes)
  if not scopes:
    return tf1.trainable_variables()
  chosen = [v for v in tf1.trainable_variables() if checkpoints.in_scopes(v.op.name, scopes)]
  if not chosen:
    raise ValueError(f'--trainable_scopes={trainable_scopes} matches no trainable variable')
  return chosen


def _fine_tune_init_fn(config, model_info, num_classes):
  """The Scaffold init_fn restoring --checkpoint_path, or None."""
  if not config.checkpoint.checkpoint_path:
    return None
  if tf.train.latest_checkpoint(config.run.train_dir):
    logging.info('Ignoring --checkpoint_path: %s already has a checkpoint, training resumes '
                 'from it', config.run.train_dir)
    return None
  checkpoint = checkpoints.resolve_checkpoint(config.checkpoint.checkpoint_path)
  exclude = checkpoints.split_scopes(config.checkpoint.checkpoint_exclude_scopes)
  saver, restored, skipped = checkpoints.restore_saver(
      checkpoint, slim.get_model_variables(), exclude_scopes=exclude,
      ignore_missing_vars=config.checkpoint.ignore_missing_vars, model_info=model_info,
      num_classes=num_classes)
  logging.info('Fine-tuning from %s: restoring %d variables, leaving %d', checkpoint,
               len(restored), len(skipped))

  def init_fn(unused_scaffold, session):
    saver.restore(session, checkpoint)
  return init_fn


def format_duration(seconds):
  """45s, 3m20s, 2h05m: an ETA as a person reads it."""
  seconds = int(round(seconds))
  if seconds < 60:
    return f'{seconds}s'
  if seconds < 3600:
    return f'{seconds // 60}m{seconds % 60:02d}s'
  return f'{seconds // 3600}h{seconds % 3600 // 60:02d}m'


class _ProgressHook(tf1.train.SessionRunHook):
  """Logs `step N: loss = X (Y sec/step, Z images/sec)`, and with a known last step
  `, P% ETA 3m20s` after it.

  sec/step is this process's time per step; images/sec counts the images of every worker
  and clone, from how far the global step moved (`images_per_step` per global step). The
  ETA is the remaining global steps at the rate the global step moved since the first
  step (which includes graph optimization and is left out).
  """

  def __init__(self, loss, step_after_update, global_step, every_n_steps, images_per_step,
               last_step=None):
    self._loss = loss
    self._step_after_update = step_after_update
    self._global_step = global_step
    self._every_n_steps = every_n_steps
    self._images_per_step = images_per_step
    self._last_step = last_step
    self.steps_run = 0
    self.last_loss = None
    self.start_step = None
    self.last_step = None
    self._timed = None  # (time, global step) after the first step

  def after_create_session(self, session, coord):
    if self.start_step is None:
      self.start_step = self.last_step = int(session.run(self._global_step))

  def before_run(self, run_context):
    self._step_start = time.perf_counter()
    return tf1.train.SessionRunArgs([self._loss, self._step_after_update])

  def after_run(self, run_context, run_values):
    now = time.perf_counter()
    loss, step = run_values.results
    previous_step, self.last_step = self.last_step, int(step)
    self.last_loss = float(loss)
    self.steps_run += 1
    if self.steps_run == 1:
      # The first step includes graph optimization and is left out of the throughput.
      self._timed = self._window = (now, self.last_step)
      self._window_steps = 0
      self._log(loss, now - self._step_start, self._images_per_step / (now - self._step_start))
      return
    self._window_steps += 1
    # Other workers move the global step too: log on crossing a multiple of the interval.
    if step // self._every_n_steps > previous_step // self._every_n_steps:
      seconds = now - self._window[0]
      self._log(loss, seconds / self._window_steps,
                (self.last_step - self._window[1]) * self._images_per_step / seconds)
      self._window, self._window_steps = (now, self.last_step), 0
    self._last_time = now

  def _log(self, loss, sec_per_step, images_per_sec):
    logging.info('step %d: loss = %.4f (%.3f sec/step, %.1f images/sec)%s', self.last_step,
                 loss, sec_per_step, images_per_sec, self._progress())

  def _progress(self):
    """', P% ETA 3m20s' toward the last step; '' when it is unknown."""
    if not self._last_step:
      return ''
    text = f', {100 * min(self.last_step, self._last_step) // self._last_step}%'
    timed_steps = self.last_step - self._timed[1]
    if timed_steps > 0:
      seconds_per_step = (time.perf_counter() - self._timed[0]) / timed_steps
      remaining = max(self._last_step - self.last_step, 0)
      text += f' ETA {format_duration(remaining * seconds_per_step)}'
    return text

  @property
  def images_per_sec(self):
    if self.steps_run < 2:
      return 0.0
    seconds = self._last_time - self._timed[0]
    return (self.last_step - self._timed[1]) * self._images_per_step / max(seconds, 1e-9)


class _SummaryHook(tf1.train.SummarySaverHook):
  """Writes the summaries every `save_secs` as TensorFlow's hook does, and also at the
  last step and wherever training stops (a signal, another hook), so that a run shorter
  than `save_secs` still has a curve that ends where training ended. Each write adds
  global_step/sec and images/sec over the global steps since the previous write (every
  worker's; the first step, which includes graph optimization, is left out).
  """

  def __init__(self, train_dir, save_secs, scaffold, last_step, images_per_step):
    super().__init__(save_secs=save_secs, output_dir=train_dir, scaffold=scaffold)
    self._last_step = last_step
    self._images_per_step = images_per_step
    self._rate_start = None  # (time, global step) where the next rates' window starts
    self._written_step = None

  def before_run(self, run_context):
    args = super().before_run(run_context)
    summary_op = self._get_summary_op()
    if (not self._request_summary and self._last_step and summary_op is not None and
        self._next_step >= self._last_step):
      self._request_summary = True
      args.fetches['summary'] = summary_op
    return args

  def after_run(self, run_context, run_values):
    super().after_run(run_context, run_values)
    step = self._next_step - 1
    if self._rate_start is None:
      self._rate_start = (time.perf_counter(), step)
    elif self._request_summary:
      self._write_rates(step)
    if self._request_summary:
      self._written_step = step

  def end(self, session):
    step = int(session.run(self._global_step_tensor))
    summary_op = self._get_summary_op()
    if self._summary_writer and step != self._written_step:
      if summary_op is not None:
        for summary in session.run(summary_op):
          self._summary_writer.add_summary(summary, step)
      self._write_rates(step)
    super().end(session)

  def _write_rates(self, step):
    now = time.perf_counter()
    if self._rate_start is None or step <= self._rate_start[1]:
      return
    steps_per_sec = (step - self._rate_start[1]) / max(now - self._rate_start[0], 1e-9)
    self._summary_writer.add_summary(tf1.Summary(value=[
        tf1.Summary.Value(tag='global_step/sec', simple_value=steps_per_sec),
        tf1.Summary.Value(tag='images/sec',
                          simple_value=steps_per_sec * self._images_per_step)]), step)
    self._rate_start = (now, step)


class _StopOnSignalHook(tf1.train.SessionRunHook):
  """Ends the run after the current step on SIGINT/SIGTERM, so the final checkpoint is saved.

  A step can wait without a limit for another task of a cluster (the chief's token in
  synchronous training), and while it does no Python handler runs. The signals also reach
  a pipe (`signal.set_wakeup_fd`) that a thread reads: it says so when the step has not
  ended STUCK_NOTICE_SECS after the signal, and ends the process at once, with 128 + the
  signal number and without a final checkpoint, at the second signal.
  """

  def __init__(self):
    self.received = None
    self._previous = {}
    self._wakeup = None  # (read end, write end, the wakeup fd before ours)
    self._steps = 0

  def begin(self):
    if threading.current_thread() is not threading.main_thread():
      return  # signal handlers can only be installed from the main thread
    for sig in (signal.SIGINT, signal.SIGTERM):
      self._previous[sig] = signal.signal(sig, self._handle)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    self._wakeup = (read_fd, write_fd,
                    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False))
    threading.Thread(target=self._watch, args=(read_fd,), name='signal_watch',
                     daemon=True).start()

  def _handle(self, signum, unused_frame):
    self.received = signal.Signals(signum).name
    logging.info('%s received: stopping after this step and saving a checkpoint',
                 self.received)

  def _watch(self, read_fd):
    signals = 0
    while True:
      data = os.read(read_fd, 64)
      if not data:  # close() closed the write end
        os.close(read_fd)
        return
      for signum in data:
        if signum not in (signal.SIGINT, signal.SIGTERM):
          continue
        name = signal.Signals(signum).name
        signals += 1
        if signals > 1:
          logging.error('%s received again while the step waits: exiting now, without a '
                        'final checkpoint', name)
          logging.flush()
          os._exit(128 + signum)  # pylint: disable=protected-access
        threading.Thread(target=self._notice_stuck, args=(name, self._steps),
                         daemon=True).start()

  def _notice_stuck(self, name, steps):
    time.sleep(STUCK_NOTICE_SECS)
    if self._steps == steps and self._wakeup:
      logging.warning('%s received %d s ago, but the step has not ended: it waits for another '
                      'task of the cluster (the chief of synchronous training, or a parameter '
                      'server). Send %s again to exit at once, without a final checkpoint',
                      name, STUCK_NOTICE_SECS, name)

  def after_run(self, run_context, run_values):
    self._steps += 1
    if self.received:
      run_context.request_stop()

  def end(self, session):
    self.close()

  def close(self):
    """Puts back the handlers and the wakeup fd; also where the session failed (no end)."""
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    self._previous = {}
    if self._wakeup:
      _, write_fd, previous_fd = self._wakeup
      self._wakeup = None
      signal.set_wakeup_fd(previous_fd)
      os.close(write_fd)  # the watch thread then closes the read end


class _DivergenceHook(tf1.train.SessionRunHook):
  """Stops at the first step whose loss or gradients' global norm is NaN or Inf.

  The check is one boolean fetched with the train op. A weight cannot overflow without
  the global norm overflowing first (its square sums past float32's range at 1.8e19), so
  weights that turn NaN while the loss stays finite (ReLU maps NaN to 0) show here too;
  the checkpoint saver checks the weights themselves before every save.
  """

  def __init__(self, all_finite, step_after_update):
    self._all_finite = all_finite
    self._step_after_update = step_after_update

  def before_run(self, run_context):
    return tf1.train.SessionRunArgs([self._all_finite, self._step_after_update])

  def after_run(self, run_context, run_values):
    finite, step = run_values.results
    if not finite:
      raise DivergedError(int(step), 'the loss or the gradients became NaN or Inf')


def _all_finite(tensors):
  return tf.reduce_all(tf.stack([tf.reduce_all(tf.math.is_finite(t)) for t in tensors]))


class _FiniteCheckpointSaverHook(tf1.train.CheckpointSaverHook):
  """Saves checkpoints as TensorFlow's hook does, but never weights that are NaN or Inf:
  so a diverged run keeps its newest finite checkpoint, which rotation cannot remove.
  A failed write (full or read-only disk) removes its partial files and names the path.
  """

  def begin(self):
    super().begin()
    float_variables = [v for v in tf1.global_variables() if v.dtype.base_dtype.is_floating]
    self._weights_finite = _all_finite(float_variables) if float_variables else tf.constant(
        True)

  def _save(self, session, step):
    if not session.run(self._weights_finite):
      raise DivergedError(int(step), 'the weights became NaN or Inf')
    prefix = f'{self._save_path}-{step}'
    before = set(tf.io.gfile.glob(prefix + '*'))
    try:
      return super()._save(session, step)
    except (tf.errors.OpError, OSError) as error:
      for path in set(tf.io.gfile.glob(prefix + '*')) - before:
        files.remove_quietly(path)
      raise files.UnwritableError(f'cannot write the checkpoint {prefix}: '
                                  f'{files.reason(error)}') from error


def clip_by_global_norm(gradients_and_variables, clip_norm):
  """Scales every gradient by min(1, clip_norm / global norm), as TF-Slim's
  `clip_gradient_norm` did; returns the new pairs and the norm before clipping.

  Under dynamic loss scaling a non-finite gradient makes every clipped gradient NaN, so
  the optimizer still skips that step.
  """
  gradients, variables = zip(*gradients_and_variables)
  clipped, norm = tf.clip_by_global_norm(list(gradients), clip_norm)
  return list(zip(clipped, variables)), norm


def build_train_graph(config, dataset=None, batch_iterator=None):
  """Builds the training graph in the default graph.

  Args:
    config: a `TrainConfig`, its cluster resolved (`cluster.resolve`).
    dataset: the dataset to train on; by default the config's (--dataset_name, ...).
    batch_iterator: something whose get_next() gives (images, labels) batches, such as
      the benchmark's images held in variables; by default the config's input pipeline.

  Returns:
    A dict with train_op, total_loss, global_step, summary_op, dataset, init_fn,
    images_per_step (per global step, over every worker and clone), param_count and
    sync_optimizer (the SyncReplicasOptimizer with --sync_replicas, else None).
  """
  data, run, cluster_config = config.data, config.run, config.cluster
  optimizer_config, model_name = config.optimizer, config.model.model_name
  model_info = nets_factory.model_info(model_name)
  if run.random_seed is not None:
    tf1.set_random_seed(run.random_seed)
  deploy_config = model_deploy.DeploymentConfig(
      num_clones=cluster_config.num_clones, clone_on_cpu=cluster_config.clone_on_cpu,
      replica_id=cluster_config.task, num_replicas=cluster_config.worker_replicas,
      num_ps_tasks=cluster_config.num_ps_tasks)
  with tf1.device(deploy_config.variables_device()):
    global_step = tf1.train.get_or_create_global_step()

  if dataset is None:
    # A video model trains on synthetic clips (check_config refuses other datasets), of the
    # model's classes, so that its checkpoint exports and evaluates as the registry's model.
    clips = ({'num_frames': config.model.num_frames or model_info.num_frames,
              'num_classes': model_info.num_classes} if model_info.is_video_model else {})
    dataset = dataset_factory.get_dataset(data.dataset_name, data.dataset_split_name,
                                          data.dataset_dir, **clips)
  num_classes = dataset.num_classes - data.labels_offset
  if num_classes < 1:
    raise ValueError(f'--labels_offset={data.labels_offset} leaves no classes of the '
                     f'{dataset.num_classes} in {data.dataset_name}')
  chooser = (kernel_tuning.KernelChooser() if run.conv_gradients == 'auto'
             else run.conv_gradients)
  network_fn = nets_factory.get_network_fn(model_name, num_classes=num_classes,
                                           weight_decay=optimizer_config.weight_decay,
                                           is_training=True,
                                           batch_norm_decay=optimizer_config.batch_norm_decay,
                                           conv_gradients=chooser)
  image_size = run.train_image_size or network_fn.default_image_size
  if run.use_fp16:
    network_fn = precision.float16_network(network_fn)

  preprocessing = config.preprocessing
  threads = runtime_tuning.preprocessing_threads(preprocessing.num_preprocessing_threads)
  if not batch_iterator and preprocessing.num_preprocessing_threads:
    logging.info('Input pipeline: %d preprocessing thread(s)', threads)
  elif not batch_iterator:
    logging.info('Input pipeline: %d preprocessing thread(s) (--num_preprocessing_threads=0: '
                 '%s)', threads, 'measured fastest on this machine'
                 if runtime_tuning.measured_settings()
                 else 'not measured on this machine, one fewer than the cores')
  with tf1.device(deploy_config.inputs_device()):
    batches = None if batch_iterator else inputs.make_batches(
        dataset, preprocessing.preprocessing_name or model_name, image_size, run.batch_size,
        is_training=True, labels_offset=data.labels_offset,
        use_grayscale=preprocessing.use_grayscale, num_readers=run.num_readers,
        num_preprocessing_threads=threads,
        shard_index=cluster_config.task, num_shards=cluster_config.worker_replicas,
        seed=run.random_seed)
    iterator = batch_iterator or tf1.data.make_one_shot_iterator(batches)

  label_smoothing = config.schedule.label_smoothing

  def clone_fn(batch_iterator):
    images, labels = batch_iterator.get_next()
    logits, end_points = network_fn(images)
    onehot_labels = tf.one_hot(labels, num_classes)
    if 'AuxLogits' in end_points:
      tf1.losses.softmax_cross_entropy(
          onehot_labels, end_points['AuxLogits'], label_smoothing=label_smoothing,
          weights=AUX_LOSS_WEIGHT, scope='aux_loss')
    tf1.losses.softmax_cross_entropy(onehot_labels, logits,
                                     label_smoothing=label_smoothing, weights=1.0)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32))
    scalar_summary('train/batch_accuracy', accuracy)
    # A video model's clips [batch, frames, height, width, C] show their first frames.
    tf1.summary.image('images', images[:, 0] if images.shape.rank == 5 else images,
                      max_outputs=3)
    return end_points

  summaries = set()
  clones = model_deploy.create_clones(deploy_config, clone_fn, [iterator])
  first_clone_scope = deploy_config.clone_scope(0)
  update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS, first_clone_scope)
  summaries |= set(tf1.get_collection(tf1.GraphKeys.SUMMARIES, first_clone_scope))
  if run.summarize_histograms:
    for name, tensor in clones[0].outputs.items():
      summaries.add(tf1.summary.histogram('activations/' + name, tensor))
      summaries.add(scalar_summary('sparsity/' + name, tf.nn.zero_fraction(tensor)))
    for variable in slim.get_model_variables():
      summaries.add(tf1.summary.histogram(variable.op.name, variable))
  for loss in tf1.get_collection(tf1.GraphKeys.LOSSES, first_clone_scope):
    summaries.add(scalar_summary('losses/' + loss.op.name, loss))

  if config.checkpoint.moving_average_decay:
    moving_average_variables = slim.get_model_variables()
    variable_averages = tf1.train.ExponentialMovingAverage(
        config.checkpoint.moving_average_decay, global_step)
  else:
    moving_average_variables, variable_averages = None, None

  # Examples per global step: every clone's, and every replica's that sync training aggregates.
  step_images = run.batch_size * cluster_config.num_clones * (
      optimizer_config.replicas_to_aggregate if optimizer_config.sync_replicas else 1)
  with tf1.device(deploy_config.optimizer_device()):
    learning_rate = optimization.configure_learning_rate(dataset.num_samples, global_step,
                                                         config.schedule, step_images)
    optimizer = optimization.configure_optimizer(learning_rate, optimizer_config)
    if run.use_fp16:
      optimizer = precision.loss_scale_optimizer(optimizer, run.fp16_loss_scale)
    summaries.add(scalar_summary('learning_rate', learning_rate))
  sync_optimizer = None
  if optimizer_config.sync_replicas:
    # The chief applies the mean of --replicas_to_aggregate gradients per step, and the
    # moving averages with it.
    optimizer = sync_optimizer = tf1.train.SyncReplicasOptimizer(
        optimizer, replicas_to_aggregate=optimizer_config.replicas_to_aggregate,
        total_num_replicas=cluster_config.worker_replicas,
        variable_averages=variable_averages, variables_to_average=moving_average_variables)
  elif variable_averages:
    update_ops.append(variable_averages.apply(moving_average_variables))

  total_loss, clones_gradients = model_deploy.optimize_clones(
      clones, optimizer, var_list=_variables_to_train(config.checkpoint.trainable_scopes))
  measured = isinstance(chooser, kernel_tuning.KernelChooser)
  if measured:
    logging.info('%s', chooser.summary())
  summaries.add(scalar_summary('total_loss', total_loss))
  if optimizer_config.clip_gradient_norm > 0:
    clones_gradients, gradient_norm = clip_by_global_norm(clones_gradients,
                                                          optimizer_config.clip_gradient_norm)
    summaries.add(scalar_summary('gradient_norm', gradient_norm))
  else:
    gradient_norm = tf.linalg.global_norm([gradient for gradient, _ in clones_gradients])
  # Under dynamic loss scaling a non-finite gradient is routine (the step is skipped and
  # the scale lowered), so only the loss tells divergence there.
  all_finite = (tf.math.is_finite(total_loss) if run.use_fp16 else
                tf.logical_and(tf.math.is_finite(total_loss), tf.math.is_finite(gradient_norm)))
  if run.summarize_histograms:
    for gradient, variable in clones_gradients:
      summaries.add(tf1.summary.histogram(variable.op.name + '/gradients', gradient))
  grad_updates = optimizer.apply_gradients(clones_gradients, global_step=global_step)
  update_ops.append(grad_updates)
  with tf.control_dependencies([tf.group(*update_ops)]):
    train_op = tf.identity(total_loss, name='train_op')
    # Read after the update, so that the log names the step just completed.
    step_after_update = global_step.read_value()
  summaries |= set(tf1.get_collection(tf1.GraphKeys.SUMMARIES, first_clone_scope))

  return {
      'train_op': train_op,
      'total_loss': total_loss,
      'global_step': global_step,
      'step_after_update': step_after_update,
      'all_finite': all_finite,
      'summary_op': tf1.summary.merge(list(summaries), name='summary_op'),
      'dataset': dataset,
      'init_fn': _fine_tune_init_fn(config, model_info, num_classes),
      'images_per_step': step_images,
      'sync_optimizer': sync_optimizer,
      'param_count': int(sum(v.shape.num_elements() for v in tf1.trainable_variables())),
      # Convolution (op name) -> the kernel its gradient uses; only `auto` measures.
      'conv_gradients': dict(chooser.choices) if measured else run.conv_gradients,
  }


def results_file(task):
  """This process's results file in train_dir: the chief's (or one machine's) is
  train_results.json, worker N's train_results.workerN.json."""
  return RESULTS_FILE if task == 0 else f'train_results.worker{task}.json'


def train(config, extra_hooks=()):
  """Trains as `config` says; in a cluster, runs this process's task.

  Args:
    config: a `TrainConfig` (`train_flags.read_train_config`); the chief writes its
      `flag_lines`, the cluster resolved, into train_dir as flags.txt.
    extra_hooks: more SessionRunHooks, run after the others (the benchmark's timing and
      evaluation between segments).

  Returns:
    A dict: global_step (after this process's last step), loss (last step), steps_run,
    start_step, images_per_sec (every worker's), seconds, task. A parameter server returns
    what `cluster.serve` does.

  A single process whose train_dir already holds a checkpoint at --max_number_of_steps
  does nothing and returns steps_run 0. The results say why training stopped: 'stopped' is
  'finished', the signal's name, or 'diverged at step N'.

  Raises:
    ValueError: bad settings or data, a train_dir in use by another training (one clear line).
    TrainingError: training diverged (the loss, gradients or weights became NaN or Inf).
    files.UnwritableError: train_dir or a checkpoint could not be written.
  """
  cluster_config, task = cluster.resolve(config.cluster)
  if task and task.job_name == cluster.PS_JOB:
    return cluster.serve(task)
  config = _on_cluster(config, cluster_config)
  check_config(config, task)
  is_chief = config.cluster.task == 0
  train_dir = config.run.train_dir
  try:
    tf.io.gfile.makedirs(train_dir)
  except (tf.errors.OpError, OSError) as error:
    raise files.UnwritableError(f'--train_dir={train_dir}: cannot create it '
                                f'({files.reason(error)})') from error
  # Only the chief writes into train_dir.
  lock = files.acquire_lock(train_dir, '--train_dir') if is_chief else None
  try:
    return _train(config, extra_hooks, task, is_chief)
  finally:
    files.release_lock(lock)


def _on_cluster(config, cluster_config):
  """`config` with the resolved `cluster_config`, and flag lines that say so: flags.txt
  records the task and replica counts that the cluster gave."""
  lines = dict(config.flag_lines)
  for name in cluster.RESOLVED_FIELDS:
    if name in lines:
      # An integer flag's line, as absl writes it.
      lines[name] = f'--{name}={getattr(cluster_config, name)}'
  return dataclasses.replace(config, cluster=cluster_config, flag_lines=lines)


def _resume_checkpoint(train_dir):
  """The checkpoint training resumes from (None for a fresh start). Damaged newer ones are
  named in a warning and dropped from the folder's checkpoint list, so that the session
  restores the newest one that reads back; their files are left where they are."""
  checkpoint, damaged = checkpoints.newest_valid_checkpoint(train_dir)
  if not damaged:
    return checkpoint
  if not checkpoint:
    raise ValueError(f'--train_dir={train_dir}: every checkpoint there is damaged (' +
                     '; '.join(f'{name}: {problem}' for name, problem in damaged) +
                     '); move them away to start afresh')
  checkpoints.warn_damaged(damaged, checkpoint)
  checkpoints.forget_damaged(train_dir, checkpoint, [name for name, _ in damaged])
  return checkpoint


def _global_step_of(checkpoint):
  reader = tf.train.load_checkpoint(checkpoint)
  name = tf1.GraphKeys.GLOBAL_STEP
  return int(reader.get_tensor(name)) if reader.has_tensor(name) else None


def _already_finished(run, task_index, step, checkpoint):
  """The results of a run that has nothing to do, from the last run's where they match."""
  logging.info('%s is already trained to step %d (--max_number_of_steps=%d): nothing to do',
               run.train_dir, step, run.max_number_of_steps)
  results = {'global_step': step, 'loss': None, 'steps_run': 0, 'start_step': step,
             'images_per_sec': 0.0, 'seconds': 0.0, 'signal': None, 'stopped': 'finished',
             'task': task_index, 'checkpoint': checkpoint}
  try:
    with tf.io.gfile.GFile(os.path.join(run.train_dir, results_file(task_index))) as f:
      previous = json.load(f)
    if previous.get('global_step') == step:
      results['loss'] = previous.get('loss')
      results['param_count'] = previous.get('param_count')
  except (tf.errors.OpError, OSError, ValueError):
    pass
  return results


# Flags that decide which variables a checkpoint holds, or their shapes.
VARIABLE_FLAGS = ('model_name', 'optimizer', 'moving_average_decay', 'use_fp16',
                  'dataset_name', 'dataset_dir', 'labels_offset', 'train_image_size',
                  'trainable_scopes', 'sync_replicas')


def _written_flags(train_dir, flag_lines):
  """{name: line} of train_dir's flags.txt; None where there is none. A boolean written as
  `--noname` is found under its name among those of `flag_lines`."""
  try:
    with tf.io.gfile.GFile(os.path.join(train_dir, FLAGS_FILE)) as f:
      lines = f.read().split('\n')
  except (tf.errors.OpError, OSError):
    return None
  written = {}
  for line in filter(None, lines):
    name = line.lstrip('-').split('=', 1)[0]
    if '=' not in line and name not in flag_lines and name.startswith('no'):
      name = name[2:]
    written[name] = line
  return written


def _check_resumable(config, checkpoint):
  """Fails in one line when the graph's variables do not fit the checkpoint that training
  would resume from, naming the flags that differ from the run that wrote it."""
  shapes = tf.train.load_checkpoint(checkpoint).get_variable_to_shape_map()
  missing, reshaped = [], []
  for variable in tf1.global_variables():
    name = variable.op.name
    if name not in shapes:
      missing.append(name)
    elif list(shapes[name]) != variable.shape.as_list():
      reshaped.append(f'{name} has shape {list(shapes[name])} there, '
                      f'{variable.shape.as_list()} here')
  if not missing and not reshaped:
    return
  if missing:
    detail = f'it lacks {missing[0]}' + (f' and {len(missing) - 1} more variables'
                                         if len(missing) > 1 else '')
  else:
    detail = reshaped[0]
  differing = []
  train_dir = config.run.train_dir
  written = _written_flags(train_dir, config.flag_lines)
  for name in VARIABLE_FLAGS:
    if written is not None:
      then, now = written.get(name), config.flag_lines.get(name)
      if then != now:
        differing.append(f'{then or "--" + name + " unset"} there, '
                         f'{now or "--" + name + " unset"} now')
  if differing:
    raise ValueError(f'--train_dir={train_dir}: its checkpoint {checkpoint} was written '
                     f'with other flags ({"; ".join(differing)}): {detail}. Resume with '
                     f'the same flags, or train into a new --train_dir')
  raise ValueError(f'--train_dir={train_dir}: its checkpoint {checkpoint} does not fit '
                   f'this model ({detail}). Resume with the flags in its {FLAGS_FILE}, or '
                   f'train into a new --train_dir')


def _train(config, extra_hooks, task, is_chief):
  run, task_index = config.run, config.cluster.task
  if is_chief:
    checkpoints.remove_partial_saves(run.train_dir)
  resumed = _resume_checkpoint(run.train_dir) if is_chief else None
  # In a cluster the chief still starts, so that the other tasks hear that it is done.
  if resumed and run.max_number_of_steps and not task:
    step = _global_step_of(resumed)
    if step is not None and step >= run.max_number_of_steps:
      return _already_finished(run, task_index, step, resumed)
  start = time.time()
  server = cluster.start_server(task) if task else None
  master = server.target if server else config.cluster.master
  with tf.Graph().as_default():
    graph = build_train_graph(config)
    if resumed:
      _check_resumable(config, resumed)
    progress = _ProgressHook(graph['total_loss'], graph['step_after_update'],
                             graph['global_step'], run.log_every_n_steps,
                             graph['images_per_step'], last_step=run.max_number_of_steps)
    stop_on_signal = _StopOnSignalHook()
    scaffold = tf1.train.Scaffold(
        init_fn=graph['init_fn'], summary_op=graph['summary_op'],
        saver=tf1.train.Saver(max_to_keep=5, keep_checkpoint_every_n_hours=1.0))
    # The divergence check runs first, so that no hook acts on a diverged step.
    hooks = [_DivergenceHook(graph['all_finite'], graph['step_after_update'])]
    if is_chief and run.save_interval_secs:
      hooks.append(_FiniteCheckpointSaverHook(run.train_dir, save_secs=run.save_interval_secs,
                                              scaffold=scaffold))
    hooks += [progress, stop_on_signal]
    if is_chief and run.save_summaries_secs:
      hooks.append(_SummaryHook(run.train_dir, run.save_summaries_secs, scaffold,
                                run.max_number_of_steps, graph['images_per_step']))
    hooks += optimization.schedule_hooks(config.schedule, run.train_dir,
                                           check_every_n_steps=run.log_every_n_steps)
    hooks += list(extra_hooks)
    if run.max_number_of_steps:
      hooks.append(tf1.train.StopAtStepHook(last_step=run.max_number_of_steps))
    if graph['sync_optimizer']:
      hooks.append(cluster.SyncReplicasHook(graph['sync_optimizer'], is_chief))
    session_config = (cluster.session_config(task_index) if config.cluster.num_ps_tasks
                      else tf1.ConfigProto())
    (session_config.intra_op_parallelism_threads,
     session_config.inter_op_parallelism_threads) = runtime_tuning.session_threads(
         run.num_intra_threads, run.num_inter_threads)
    if config.cluster.num_ps_tasks:
      cluster.log_variable_placement(task_index)
    if master and not is_chief:
      cluster.wait_for_chief(master, task_index)
      if graph['sync_optimizer']:
        cluster.watch_chief()
    try:
      with tf1.train.MonitoredTrainingSession(
          master=master, is_chief=is_chief, checkpoint_dir=run.train_dir,
          scaffold=scaffold, hooks=hooks, save_checkpoint_secs=None,
          save_checkpoint_steps=None, save_summaries_secs=None, save_summaries_steps=None,
          log_step_count_steps=None, config=session_config,
          stop_grace_period_secs=STOP_GRACE_SECS) as session:
        # Written once the session restored or initialized the variables: a run that
        # fails before that leaves the flags of the run that wrote the checkpoints.
        if config.flag_lines and is_chief:
          write_flags(config.flag_lines, run.train_dir)
        while not session.should_stop():
          session.run(graph['train_op'])
    except DivergedError as error:
      kept = tf.train.latest_checkpoint(run.train_dir)
      files.write_json_atomically(
          os.path.join(run.train_dir, results_file(task_index)),
          {'global_step': error.step, 'stopped': f'diverged at step {error.step}',
           'diverged': error.what, 'checkpoint': kept, 'signal': None, 'task': task_index})
      raise TrainingError(
          f'{error}; no checkpoint was written after that, the newest one, {kept}, holds '
          f'finite weights. Lower --learning_rate or check the data' if kept else
          f'{error}; no checkpoint was written. Lower --learning_rate or check the data'
      ) from None
    finally:
      stop_on_signal.close()  # a failed session calls no hook's end()
  sync = graph['sync_optimizer'] is not None
  if sync and not is_chief and progress.last_step < (run.max_number_of_steps or 0):
    logging.info('The chief ended the synchronous run at step %d', progress.last_step)
  # A worker stopped by a signal keeps the parameter servers for its restart; but a
  # synchronous chief's stop closes the token queue and so ends the run for every worker.
  if server and (not stop_on_signal.received or (sync and is_chief)):
    cluster.report_done(task, server)
  seconds = time.time() - start
  step = progress.last_step
  logging.info('Finished at step %d: loss = %s, %.1f images/sec over %d steps (%.1f s)',
               step, progress.last_loss, progress.images_per_sec, progress.steps_run, seconds)
  logging.info('total images/sec: %.2f', progress.images_per_sec)
  results = {'global_step': step, 'loss': progress.last_loss,
             'steps_run': progress.steps_run, 'start_step': progress.start_step,
             'images_per_sec': progress.images_per_sec, 'seconds': seconds,
             'signal': stop_on_signal.received,
             'stopped': stop_on_signal.received or 'finished',
             'param_count': graph['param_count'],
             'task': task_index}
  files.write_json_atomically(os.path.join(run.train_dir, results_file(task_index)), results)
  return results
