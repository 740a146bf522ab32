"""Training of any registered network on any converted dataset, as TF-Slim trains.

`train(flag_values)` does what train_image_classifier.py does, from the flags of
`train_flags.define_train_flags`: clones over devices with `model_deploy`, a `tf.data`
input pipeline, the optimizer and learning-rate schedule of the flags, fine-tuning from a
checkpoint, resume from `train_dir`, checkpoints and TensorBoard summaries. The same call
runs a parameter server or a worker of a multi-machine cluster (see `slimbench.cluster`):
asynchronous training, or synchronous with `--sync_replicas`, where the chief aggregates
`--replicas_to_aggregate` gradients per step.
"""

import os
import signal
import threading
import time

from absl import logging
import tensorflow as tf
import tf_slim as slim

from datasets import dataset_factory
from deployment import model_deploy
from nets import nets_factory
from slimbench import checkpoints
from slimbench import cluster
from slimbench import files
from slimbench import inputs
from slimbench import optimization
from slimbench import precision

tf1 = tf.compat.v1

FLAGS_FILE = 'flags.txt'
RESULTS_FILE = 'train_results.json'
AUX_LOSS_WEIGHT = 0.4
# Seconds the session gives its threads to stop. Only synchronous training has one that
# matters: the chief's, which closes the token queue so that no worker waits for a token.
STOP_GRACE_SECS = 2


def scalar_summary(tag, tensor):
  """A scalar summary with exactly `tag` (tf.summary.scalar appends _1 when an op of that
  name exists, as TF-Slim's 'total_loss_1' shows)."""
  summary = tf.raw_ops.ScalarSummary(tags=tag, values=tensor)
  tf1.add_to_collection(tf1.GraphKeys.SUMMARIES, summary)
  return summary


class TrainingError(Exception):
  """Training stopped for a reason the user must act on (the message says which)."""


def check_flags(fv, task=None):
  """Rejects flag combinations that cannot work, with one clear line each."""
  if fv.quantize_delay >= 0:
    raise ValueError('--quantize_delay: quantization-aware training used tf.contrib.quantize, '
                     'which TensorFlow 2 no longer has; leave the flag at -1')
  if not task and not fv.master and (fv.num_ps_tasks or fv.worker_replicas > 1):
    raise ValueError('--num_ps_tasks/--worker_replicas describe a multi-machine cluster: '
                     'give it with --job_name, --ps_hosts and --worker_hosts, or TF_CONFIG (or '
                     '--master of a server started elsewhere)')
  if fv.replicas_to_aggregate > 1 and not fv.sync_replicas:
    raise ValueError('--replicas_to_aggregate applies to synchronous training: add '
                     '--sync_replicas')
  precision.check_flags(fv)
  if not fv.dataset_dir and fv.dataset_name != 'synthetic':
    raise ValueError('--dataset_dir is required: the folder of the converted dataset '
                     '(see download_and_convert_data.py)')
  nets_factory.model_info(fv.model_name)  # an unknown model fails here, with suggestions


def write_flags(fv, names, train_dir):
  """Writes the resolved flags as a --flagfile into train_dir (temp name, then rename)."""
  lines = []
  for name in names:
    value = fv[name].value
    if value is None:
      continue
    if isinstance(value, bool):
      lines.append(f'--{name}' if value else f'--no{name}')
    else:
      lines.append(f'--{name}={value}')
  files.write_text_atomically(os.path.join(train_dir, FLAGS_FILE), '\n'.join(lines) + '\n')


def _variables_to_train(trainable_scopes):
  scopes = checkpoints.split_scopes(trainable_scopes)
  if not scopes:
    return tf1.trainable_variables()
  chosen = [v for v in tf1.trainable_variables() if checkpoints.in_scopes(v.op.name, scopes)]
  if not chosen:
    raise ValueError(f'--trainable_scopes={trainable_scopes} matches no trainable variable')
  return chosen


def _fine_tune_init_fn(fv, model_info, num_classes):
  """The Scaffold init_fn restoring --checkpoint_path, or None."""
  if not fv.checkpoint_path:
    return None
  if tf.train.latest_checkpoint(fv.train_dir):
    logging.info('Ignoring --checkpoint_path: %s already has a checkpoint, training resumes '
                 'from it', fv.train_dir)
    return None
  checkpoint = checkpoints.resolve_checkpoint(fv.checkpoint_path)
  exclude = checkpoints.split_scopes(fv.checkpoint_exclude_scopes)
  saver, restored, skipped = checkpoints.restore_saver(
      checkpoint, slim.get_model_variables(), exclude_scopes=exclude,
      ignore_missing_vars=fv.ignore_missing_vars, model_info=model_info,
      num_classes=num_classes)
  logging.info('Fine-tuning from %s: restoring %d variables, leaving %d', checkpoint,
               len(restored), len(skipped))

  def init_fn(unused_scaffold, session):
    saver.restore(session, checkpoint)
  return init_fn


class _ProgressHook(tf1.train.SessionRunHook):
  """Logs `step N: loss = X (Y sec/step, Z images/sec)` and a summary at the end.

  sec/step is this process's time per step; images/sec counts the images of every worker
  and clone, from how far the global step moved (`images_per_step` per global step).
  """

  def __init__(self, loss, step_after_update, global_step, every_n_steps, images_per_step):
    self._loss = loss
    self._step_after_update = step_after_update
    self._global_step = global_step
    self._every_n_steps = every_n_steps
    self._images_per_step = images_per_step
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
    logging.info('step %d: loss = %.4f (%.3f sec/step, %.1f images/sec)', self.last_step,
                 loss, sec_per_step, images_per_sec)

  @property
  def images_per_sec(self):
    if self.steps_run < 2:
      return 0.0
    seconds = self._last_time - self._timed[0]
    return (self.last_step - self._timed[1]) * self._images_per_step / max(seconds, 1e-9)


class _StopOnSignalHook(tf1.train.SessionRunHook):
  """Ends the run after the current step on SIGINT/SIGTERM, so the final checkpoint is saved."""

  def __init__(self):
    self.received = None
    self._previous = {}

  def begin(self):
    if threading.current_thread() is not threading.main_thread():
      return  # signal handlers can only be installed from the main thread
    for sig in (signal.SIGINT, signal.SIGTERM):
      self._previous[sig] = signal.signal(sig, self._handle)

  def _handle(self, signum, unused_frame):
    self.received = signal.Signals(signum).name
    logging.info('%s received: stopping after this step and saving a checkpoint',
                 self.received)

  def after_run(self, run_context, run_values):
    if self.received:
      run_context.request_stop()

  def end(self, session):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


def clip_by_global_norm(gradients_and_variables, clip_norm):
  """Scales every gradient by min(1, clip_norm / global norm), as TF-Slim's
  `clip_gradient_norm` did; returns the new pairs and the norm before clipping.

  Under dynamic loss scaling a non-finite gradient makes every clipped gradient NaN, so
  the optimizer still skips that step.
  """
  gradients, variables = zip(*gradients_and_variables)
  clipped, norm = tf.clip_by_global_norm(list(gradients), clip_norm)
  return list(zip(clipped, variables)), norm


def build_train_graph(fv):
  """Builds the training graph in the default graph.

  Returns:
    A dict with train_op, total_loss, global_step, summary_op, dataset, init_fn,
    images_per_step (per global step, over every worker and clone), param_count and
    sync_optimizer (the SyncReplicasOptimizer with --sync_replicas, else None).
  """
  model_info = nets_factory.model_info(fv.model_name)
  if fv.random_seed is not None:
    tf1.set_random_seed(fv.random_seed)
  deploy_config = model_deploy.DeploymentConfig(
      num_clones=fv.num_clones, clone_on_cpu=fv.clone_on_cpu, replica_id=fv.task,
      num_replicas=fv.worker_replicas, num_ps_tasks=fv.num_ps_tasks)
  with tf1.device(deploy_config.variables_device()):
    global_step = tf1.train.get_or_create_global_step()

  dataset = dataset_factory.get_dataset(fv.dataset_name, fv.dataset_split_name,
                                        fv.dataset_dir)
  num_classes = dataset.num_classes - fv.labels_offset
  if num_classes < 1:
    raise ValueError(f'--labels_offset={fv.labels_offset} leaves no classes of the '
                     f'{dataset.num_classes} in {fv.dataset_name}')
  network_fn = nets_factory.get_network_fn(fv.model_name, num_classes=num_classes,
                                           weight_decay=fv.weight_decay, is_training=True,
                                           batch_norm_decay=fv.batch_norm_decay)
  image_size = fv.train_image_size or network_fn.default_image_size
  if fv.use_fp16:
    network_fn = precision.float16_network(network_fn)

  with tf1.device(deploy_config.inputs_device()):
    batches = inputs.make_batches(
        dataset, fv.preprocessing_name or fv.model_name, image_size, fv.batch_size,
        is_training=True, labels_offset=fv.labels_offset, use_grayscale=fv.use_grayscale,
        num_readers=fv.num_readers, num_preprocessing_threads=fv.num_preprocessing_threads,
        shard_index=fv.task, num_shards=fv.worker_replicas, seed=fv.random_seed)
    iterator = tf1.data.make_one_shot_iterator(batches)

  def clone_fn(batch_iterator):
    images, labels = batch_iterator.get_next()
    logits, end_points = network_fn(images)
    onehot_labels = tf.one_hot(labels, num_classes)
    if 'AuxLogits' in end_points:
      tf1.losses.softmax_cross_entropy(
          onehot_labels, end_points['AuxLogits'], label_smoothing=fv.label_smoothing,
          weights=AUX_LOSS_WEIGHT, scope='aux_loss')
    tf1.losses.softmax_cross_entropy(onehot_labels, logits,
                                     label_smoothing=fv.label_smoothing, weights=1.0)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32))
    scalar_summary('train/batch_accuracy', accuracy)
    tf1.summary.image('images', images, max_outputs=3)
    return end_points

  summaries = set()
  clones = model_deploy.create_clones(deploy_config, clone_fn, [iterator])
  first_clone_scope = deploy_config.clone_scope(0)
  update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS, first_clone_scope)
  summaries |= set(tf1.get_collection(tf1.GraphKeys.SUMMARIES, first_clone_scope))
  if fv.summarize_histograms:
    for name, tensor in clones[0].outputs.items():
      summaries.add(tf1.summary.histogram('activations/' + name, tensor))
      summaries.add(scalar_summary('sparsity/' + name, tf.nn.zero_fraction(tensor)))
    for variable in slim.get_model_variables():
      summaries.add(tf1.summary.histogram(variable.op.name, variable))
  for loss in tf1.get_collection(tf1.GraphKeys.LOSSES, first_clone_scope):
    summaries.add(scalar_summary('losses/' + loss.op.name, loss))

  if fv.moving_average_decay:
    moving_average_variables = slim.get_model_variables()
    variable_averages = tf1.train.ExponentialMovingAverage(fv.moving_average_decay,
                                                           global_step)
  else:
    moving_average_variables, variable_averages = None, None

  with tf1.device(deploy_config.optimizer_device()):
    learning_rate = optimization.configure_learning_rate(dataset.num_samples, global_step, fv)
    optimizer = optimization.configure_optimizer(learning_rate, fv)
    if fv.use_fp16:
      optimizer = precision.loss_scale_optimizer(optimizer, fv.fp16_loss_scale)
    summaries.add(scalar_summary('learning_rate', learning_rate))
  sync_optimizer = None
  if fv.sync_replicas:
    # The chief applies the mean of --replicas_to_aggregate gradients per step, and the
    # moving averages with it.
    optimizer = sync_optimizer = tf1.train.SyncReplicasOptimizer(
        optimizer, replicas_to_aggregate=fv.replicas_to_aggregate,
        total_num_replicas=fv.worker_replicas, variable_averages=variable_averages,
        variables_to_average=moving_average_variables)
  elif variable_averages:
    update_ops.append(variable_averages.apply(moving_average_variables))

  total_loss, clones_gradients = model_deploy.optimize_clones(
      clones, optimizer, var_list=_variables_to_train(fv.trainable_scopes))
  summaries.add(scalar_summary('total_loss', total_loss))
  if fv.clip_gradient_norm > 0:
    clones_gradients, gradient_norm = clip_by_global_norm(clones_gradients,
                                                          fv.clip_gradient_norm)
    summaries.add(scalar_summary('gradient_norm', gradient_norm))
  if fv.summarize_histograms:
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
      'summary_op': tf1.summary.merge(list(summaries), name='summary_op'),
      'dataset': dataset,
      'init_fn': _fine_tune_init_fn(fv, model_info, num_classes),
      'images_per_step': (fv.batch_size * fv.num_clones *
                          (fv.replicas_to_aggregate if fv.sync_replicas else 1)),
      'sync_optimizer': sync_optimizer,
      'param_count': int(sum(v.shape.num_elements() for v in tf1.trainable_variables())),
  }


def results_file(task):
  """This process's results file in train_dir: the chief's (or one machine's) is
  train_results.json, worker N's train_results.workerN.json."""
  return RESULTS_FILE if task == 0 else f'train_results.worker{task}.json'


def train(fv, flag_names=()):
  """Trains as the flags say; in a cluster, runs this process's task.

  Args:
    fv: parsed FlagValues with the flags of `train_flags.define_train_flags`.
    flag_names: names of those flags, written into train_dir (by the chief).

  Returns:
    A dict: global_step (after this process's last step), loss (last step), steps_run,
    start_step, images_per_sec (every worker's), seconds, task. A parameter server returns
    what `cluster.serve` does.

  Raises:
    ValueError: bad flags or data, one clear line.
    TrainingError: the loss became NaN or Inf.
  """
  task = cluster.resolve(fv)
  if task and task.job_name == cluster.PS_JOB:
    return cluster.serve(task)
  check_flags(fv, task)
  is_chief = fv.task == 0
  tf.io.gfile.makedirs(fv.train_dir)
  if flag_names and is_chief:
    write_flags(fv, flag_names, fv.train_dir)
  start = time.time()
  server = cluster.start_server(task) if task else None
  master = server.target if server else fv.master
  with tf.Graph().as_default():
    graph = build_train_graph(fv)
    progress = _ProgressHook(graph['total_loss'], graph['step_after_update'],
                             graph['global_step'], fv.log_every_n_steps,
                             graph['images_per_step'])
    stop_on_signal = _StopOnSignalHook()
    hooks = [tf1.train.NanTensorHook(graph['total_loss']), progress, stop_on_signal]
    hooks += optimization.schedule_hooks(fv)
    if fv.max_number_of_steps:
      hooks.append(tf1.train.StopAtStepHook(last_step=fv.max_number_of_steps))
    if graph['sync_optimizer']:
      hooks.append(cluster.SyncReplicasHook(graph['sync_optimizer'], is_chief))
    scaffold = tf1.train.Scaffold(
        init_fn=graph['init_fn'], summary_op=graph['summary_op'],
        saver=tf1.train.Saver(max_to_keep=5, keep_checkpoint_every_n_hours=1.0))
    session_config = (cluster.session_config(fv.task) if fv.num_ps_tasks
                      else tf1.ConfigProto())
    session_config.intra_op_parallelism_threads = fv.num_intra_threads
    session_config.inter_op_parallelism_threads = fv.num_inter_threads
    if fv.num_ps_tasks:
      cluster.log_variable_placement(fv.task)
    if master and not is_chief:
      cluster.wait_for_chief(master, fv.task)
    try:
      with tf1.train.MonitoredTrainingSession(
          master=master, is_chief=is_chief, checkpoint_dir=fv.train_dir,
          scaffold=scaffold, hooks=hooks, save_checkpoint_secs=fv.save_interval_secs,
          save_summaries_secs=fv.save_summaries_secs, log_step_count_steps=None,
          config=session_config, stop_grace_period_secs=STOP_GRACE_SECS) as session:
        while not session.should_stop():
          session.run(graph['train_op'])
    except tf1.train.NanLossDuringTrainingError as error:
      raise TrainingError(
          f'the loss became NaN or Inf at step {progress.steps_run}; the last good checkpoint '
          f'in {fv.train_dir} is kept. Lower --learning_rate or check the data') from error
  sync = graph['sync_optimizer'] is not None
  if sync and not is_chief and progress.last_step < (fv.max_number_of_steps or 0):
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
             'signal': stop_on_signal.received, 'param_count': graph['param_count'],
             'task': fv.task}
  files.write_json_atomically(os.path.join(fv.train_dir, results_file(fv.task)), results)
  return results
