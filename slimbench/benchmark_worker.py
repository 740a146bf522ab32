"""One run of a benchmark study, in its own process: `python -m slimbench.benchmark_worker SPEC`.

SPEC is the run_spec.json that `benchmark.py` wrote (a `run_spec` dataclass); the worker
writes result.json beside it (under a temporary name, then renamed), so a study that
stops half-way knows which runs finished. Kinds of run:
- 'train': trains once, and at each evaluation point saves a checkpoint and evaluates it
  on the held-out split without leaving the training session, so the run yields accuracy
  over training time and its training time counts training steps only. The progress up to
  the last evaluation point is journaled (progress.json) with its checkpoint: a run that
  was killed resumes from there.
- 'throughput': times training steps (the training graph of `training.py`, built from the
  run's training flags) or inference steps, on synthetic or real data (a video model: on
  synthetic clips, counted in clips/sec).
- 'peak': measures this machine's float32 matrix-multiply rate, the yardstick of
  achieved GFLOP/s.
"""

import time

PROCESS_START = time.time()  # before TensorFlow loads: setup time includes loading it

import dataclasses  # pylint: disable=g-import-not-at-top,g-bad-import-order
import json  # pylint: disable=g-import-not-at-top,g-bad-import-order
import os  # pylint: disable=g-import-not-at-top,g-bad-import-order
import resource  # pylint: disable=g-import-not-at-top,g-bad-import-order
import sys  # pylint: disable=g-import-not-at-top,g-bad-import-order
import traceback  # pylint: disable=g-import-not-at-top,g-bad-import-order

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import slimbench  # pylint: disable=g-import-not-at-top,unused-import  (oneDNN first)
from absl import flags  # pylint: disable=g-import-not-at-top
from absl import logging  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from slimbench.datasets import dataset_factory  # pylint: disable=g-import-not-at-top
from slimbench.datasets import synthetic  # pylint: disable=g-import-not-at-top
from slimbench.nets import nets_factory  # pylint: disable=g-import-not-at-top
from slimbench import config  # pylint: disable=g-import-not-at-top
from slimbench import evaluation  # pylint: disable=g-import-not-at-top
from slimbench import files  # pylint: disable=g-import-not-at-top
from slimbench import inputs  # pylint: disable=g-import-not-at-top
from slimbench import kernel_tuning  # pylint: disable=g-import-not-at-top
from slimbench import precision  # pylint: disable=g-import-not-at-top
from slimbench import runtime_tuning  # pylint: disable=g-import-not-at-top
from slimbench import provenance  # pylint: disable=g-import-not-at-top
from slimbench import run_spec  # pylint: disable=g-import-not-at-top
from slimbench import train_flags  # pylint: disable=g-import-not-at-top
from slimbench import training  # pylint: disable=g-import-not-at-top

tf1 = tf.compat.v1

RESULT_FILE = run_spec.RESULT_FILE
JOURNAL_FILE = run_spec.JOURNAL_FILE
CHECKPOINT_PREFIX = 'model.ckpt'
EVAL_BATCH_SIZE = 100
# Final metrics of each training run, as TensorBoard's HParams table shows them.
HPARAM_METRICS = {'accuracy': 'hparams/accuracy', 'recall_5': 'hparams/recall_5',
                  'loss': 'hparams/loss', 'images_per_sec': 'hparams/images_per_sec'}


class RunError(Exception):
  """The run cannot give a result (the message says why)."""


def _peak_memory_mb():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _parse(define, argv):
  flag_values = flags.FlagValues()
  names = define(flag_values)
  flag_values(['worker'] + list(argv))
  return flag_values, names


def train_argv(spec, run_dir):
  """The training flags of a train run: its own flags, then the fields of its spec."""
  return list(spec.train_flags) + [
      f'--model_name={spec.model}', f'--optimizer={spec.optimizer}',
      f'--learning_rate={spec.learning_rate}', f'--batch_size={spec.batch_size}',
      f'--train_image_size={spec.image_size}', f'--max_number_of_steps={spec.steps}',
      f'--random_seed={spec.seed}', f'--dataset_dir={spec.dataset_dir}',
      f'--train_dir={run_dir}']


def eval_config(train, spec, checkpoint, run_dir):
  """The evaluation of `checkpoint` of a train run with settings `train` (a TrainConfig):
  the images seen as training saw them, on the held-out split."""
  return evaluation.EvalConfig(
      data=dataclasses.replace(train.data, dataset_split_name=spec.eval_split),
      model=config.ModelConfig(model_name=train.model.model_name),
      preprocessing=train.preprocessing, use_grayscale_given=True,
      checkpoint=config.CheckpointConfig(
          checkpoint_path=checkpoint, moving_average_decay=train.checkpoint.moving_average_decay),
      eval_dir=f'{run_dir}/eval', batch_size=EVAL_BATCH_SIZE,
      eval_image_size=spec.image_size, eval_crops=spec.eval_crops)


def _new_journal():
  return {'history': [], 'checkpoint': None, 'train_seconds': 0.0, 'eval_seconds': 0.0,
          'setup_seconds': 0.0, 'timed_steps': 0, 'timed_seconds': 0.0, 'processes': 0,
          'resumed_at': []}


def _read_journal(run_dir):
  return run_spec.read_json_file(run_dir, JOURNAL_FILE)


def _resume_point(run_dir):
  """The journal to continue, with training's checkpoint state pointed at its checkpoint.

  Only steps whose time the journal holds count, so a checkpoint newer than the journal
  (saved by a run stopped between evaluation points) is passed over, and a run without a
  journal starts again from step 0.
  """
  journal = _read_journal(run_dir)
  checkpoint = journal and journal.get('checkpoint')
  if checkpoint and os.path.exists(checkpoint + '.index'):
    tf1.train.update_checkpoint_state(run_dir, checkpoint,
                                      all_model_checkpoint_paths=[checkpoint])
    logging.info('Resuming from step %d (%s)', journal['history'][-1]['step'], checkpoint)
    journal['resumed_at'].append(journal['history'][-1]['step'])
    return journal
  state = os.path.join(run_dir, 'checkpoint')
  if os.path.exists(state):
    os.remove(state)  # the run's own checkpoint index; training then starts afresh
  return _new_journal()


class _SegmentHook(tf1.train.SessionRunHook):
  """Times each training step; at each segment end saves, evaluates and journals.

  A step's time runs from just before `session.run` to after the per-step work of the
  other hooks (summaries, periodic checkpoints); the checkpoint and evaluation at a
  segment end are counted as evaluation time instead.
  """

  def __init__(self, segments, journal, evaluate, images_per_step, journal_path,
               checkpoint_prefix):
    self._segments = set(segments)
    self._journal = journal
    self._evaluate = evaluate
    self._images_per_step = images_per_step
    self._journal_path = journal_path
    self._checkpoint_prefix = checkpoint_prefix
    self._step = None
    self._setup_seconds = None
    self._setup_counted = False
    self._steps_run = 0
    self._pending = {'train_seconds': 0.0, 'timed_steps': 0, 'timed_seconds': 0.0}

  def begin(self):
    self._global_step = tf1.train.get_global_step()
    # training.py's train_op is the total loss after the update: fetching it costs nothing.
    self._loss = tf1.get_default_graph().get_tensor_by_name('train_op:0')
    self._saver = tf1.train.Saver(max_to_keep=2)
    self._param_count = int(sum(v.shape.num_elements() for v in tf1.trainable_variables()))

  def after_create_session(self, session, coord):
    self._step = int(session.run(self._global_step))

  def before_run(self, run_context):
    if self._setup_seconds is None:
      self._setup_seconds = time.time() - PROCESS_START
    self._start = time.perf_counter()
    return tf1.train.SessionRunArgs(self._loss)

  def after_run(self, run_context, run_values):
    seconds = time.perf_counter() - self._start
    self._step += 1
    self._steps_run += 1
    self._pending['train_seconds'] += seconds
    if self._steps_run > 1:  # a process's first step includes graph optimization
      self._pending['timed_steps'] += 1
      self._pending['timed_seconds'] += seconds
    if self._step in self._segments:
      self._end_segment(run_context.session, float(run_values.results))

  def _end_segment(self, session, train_loss):
    eval_start = time.perf_counter()
    checkpoint = self._saver.save(session, self._checkpoint_prefix, global_step=self._step)
    metrics = self._evaluate(checkpoint)
    journal = self._journal
    for key, value in self._pending.items():
      journal[key] += value
    self._pending = dict.fromkeys(self._pending, 0)
    if not self._setup_counted:  # once per process, with its first steps that count
      journal['setup_seconds'] += self._setup_seconds
      journal['processes'] += 1
      self._setup_counted = True
    journal['eval_seconds'] += time.perf_counter() - eval_start
    journal['checkpoint'] = checkpoint
    journal['param_count'] = self._param_count
    journal['history'].append({
        'step': self._step, 'train_seconds': journal['train_seconds'],
        'accuracy': metrics['accuracy'], 'recall_5': metrics['recall_5'],
        'loss': metrics['loss'], 'train_loss': train_loss})
    files.write_json_atomically(self._journal_path, journal)
    logging.info('step %d after %.1f s of training: accuracy %.4f', self._step,
                 journal['train_seconds'], metrics['accuracy'])


def run_train(spec, run_dir):
  """Trains to spec.steps, evaluating at each of spec.segments."""
  train = train_flags.read_train_config(*_parse(train_flags.define_train_flags,
                                                 train_argv(spec, run_dir)))
  journal_path = os.path.join(run_dir, JOURNAL_FILE)
  journal = _resume_point(run_dir)
  done = journal['history'] and journal['history'][-1]['step'] >= spec.steps
  if not done:

    def evaluate(checkpoint):
      with tf.Graph().as_default():  # the training graph is finalized
        return evaluation.evaluate(eval_config(train, spec, checkpoint, run_dir))[0]

    hook = _SegmentHook(spec.segments, journal, evaluate,
                        train.run.batch_size * train.cluster.num_clones, journal_path,
                        os.path.join(run_dir, CHECKPOINT_PREFIX))
    training.train(train, extra_hooks=[hook])
    journal = _read_journal(run_dir) or journal
  history = journal['history']
  if not history or history[-1]['step'] != spec.steps:
    reached = history[-1]['step'] if history else 0
    raise RunError(f'training stopped at step {reached} of {spec.steps}')
  final = history[-1]
  images_per_step = train.run.batch_size * train.cluster.num_clones
  return {
      'accuracy': final['accuracy'], 'recall_5': final['recall_5'], 'loss': final['loss'],
      'global_step': final['step'], 'steps': spec.steps,
      'train_seconds': journal['train_seconds'],
      'setup_seconds': journal['setup_seconds'],
      'eval_seconds': journal['eval_seconds'],
      'images_per_sec': (journal['timed_steps'] * images_per_step / journal['timed_seconds']
                         if journal['timed_seconds'] else None),
      'timed_steps': journal['timed_steps'],
      'resumed_at': journal['resumed_at'],
      'param_count': journal['param_count'],
      # The rate above depends on it: the flag, or the count measured on this machine.
      'input_threads': runtime_tuning.preprocessing_threads(
          train.preprocessing.num_preprocessing_threads),
      'history': history,
  }


def write_hparams(run_dir, hparams, metrics):
  """The run's hyper-parameters and final metrics, for TensorBoard's HParams table."""
  from tensorboard.plugins.hparams import api as hp  # pylint: disable=g-import-not-at-top
  writer = tf.summary.create_file_writer(run_dir)
  with writer.as_default():
    hp.hparams(hparams, trial_id=os.path.basename(run_dir))
    for key, tag in HPARAM_METRICS.items():
      if metrics.get(key) is not None:
        tf.summary.scalar(tag, metrics[key], step=metrics.get('global_step', 0))
  writer.close()


def _flops_per_input(model_name, num_classes, image_size, channels, num_frames=None):
  """Forward float operations for one input (an image, or a clip of `num_frames` frames for
  a video model), from TensorFlow's graph profiler."""
  with tf.Graph().as_default() as graph:
    images = tf1.placeholder(tf.float32, nets_factory.input_shape(
        model_name, 1, image_size, num_frames=num_frames, channels=channels))
    nets_factory.get_network_fn(model_name, num_classes=num_classes)(images)
    options = tf1.profiler.ProfileOptionBuilder.float_operation()
    options['output'] = 'none'
    profile = tf1.profiler.profile(graph, options=options)
  return profile.total_float_ops


def session_config(train):
  """The session config of a run: the thread counts of its `training.TrainConfig` `train`,
  or where they are 0 the ones measured fastest on this machine."""
  intra, inter = runtime_tuning.session_threads(train.run.num_intra_threads,
                                                train.run.num_inter_threads)
  return tf1.ConfigProto(intra_op_parallelism_threads=intra,
                         inter_op_parallelism_threads=inter)


def synthetic_inputs(model_name, batch_size, image_size, num_classes, channels=None,
                     num_frames=None):
  """Images (clips of `num_frames` frames for a video model, by default the model's) and
  labels held in variables, as in tf_cnn_benchmarks: no step pays for generating or
  copying data."""
  shape = nets_factory.input_shape(model_name, batch_size, image_size, num_frames=num_frames,
                                   channels=channels)
  images = tf1.get_local_variable(
      'synthetic_images', initializer=tf1.random_uniform(shape, -1, 1), trainable=False)
  labels = tf1.get_local_variable(
      'synthetic_labels', initializer=tf1.random_uniform(
          [batch_size], 0, num_classes, tf.int64), trainable=False)
  return images, labels


class _HeldBatch:
  """The same (images, labels) at every get_next(), for training's graph builder."""

  def __init__(self, images, labels):
    self._batch = (images, labels)

  def get_next(self):
    return self._batch


def train_step(train, images=None, labels=None, num_classes=None):
  """Training's own training step (`training.build_train_graph`) for the
  `training.TrainConfig` `train`.

  With `images`/`labels` (tensors, e.g. from `synthetic_inputs`: images [batch, size,
  size, C] or clips [batch, frames, size, size, C]) every step trains on them; without, on
  the config's dataset through training's input pipeline.

  Returns:
    (the op that runs one step, the graph dict of `build_train_graph`).
  """
  if images is None:
    graph = training.build_train_graph(train)
  else:
    is_clip = images.shape.rank == 5
    dataset = synthetic.SyntheticDataset('train', image_size=int(images.shape[-2]),
                                         num_classes=num_classes + train.data.labels_offset,
                                         channels=int(images.shape[-1]),
                                         num_frames=int(images.shape[1]) if is_clip else None)
    graph = training.build_train_graph(train, dataset=dataset,
                                       batch_iterator=_HeldBatch(images, labels))
  return graph['train_op'], graph


def benchmark_step(model_name, images, labels, num_classes, training_mode, use_fp16=False,
                   fp16_loss_scale=None, train_flag_argv=()):
  """One step of `model_name` on `images`, built in the default graph.

  A training step is training's own (`train_step`) under the training flags
  `train_flag_argv` (TF-Slim's defaults where they say nothing); an inference step is the
  forward pass of the eval graph. `use_fp16` computes in float16 over float32 variables.
  """
  if training_mode:
    argv = [f'--model_name={model_name}', f'--use_fp16={use_fp16}',
            f'--batch_size={int(images.shape[0])}',
            f'--train_image_size={int(images.shape[-2])}', *train_flag_argv]
    if fp16_loss_scale:
      argv.append(f'--fp16_loss_scale={fp16_loss_scale}')
    train = train_flags.read_train_config(*_parse(train_flags.define_train_flags, argv))
    return train_step(train, images, labels, num_classes)[0]
  network_fn = nets_factory.get_network_fn(model_name, num_classes=num_classes,
                                           is_training=False)
  if use_fp16:
    network_fn = precision.float16_network(network_fn)
  logits, _ = network_fn(images)
  return tf.reduce_sum(logits)  # a scalar fetch keeps the output copy negligible


def time_steps(run_step, timed_steps):
  """Seconds of each of `timed_steps` calls of `run_step()`."""
  times = []
  for _ in range(timed_steps):
    start = time.perf_counter()
    run_step()
    times.append(time.perf_counter() - start)
  return times


def throughput_argv(spec):
  argv = list(spec.train_flags) + [
      f'--model_name={spec.model}', f'--batch_size={spec.batch_size}',
      f'--train_image_size={spec.image_size}']
  if spec.data == 'real':
    argv.append(f'--dataset_dir={spec.dataset_dir}')
  return argv


def run_throughput(spec, unused_run_dir=None):
  """Times spec.timed_steps steps after the first and spec.warmup_steps more.

  The images are synthetic (held in variables), or with spec.data == 'real' come from the
  converted dataset through the training input pipeline. A training step is the one
  training builds from the run's flags: optimizer, weight decay, label smoothing, clones,
  precision. A video model's inputs are synthetic clips of --num_frames frames (by default
  its own): its rate is clips/sec, reported as such (`clips_per_sec`, `gflops_per_clip`).
  """
  train = train_flags.read_train_config(*_parse(train_flags.define_train_flags,
                                                 throughput_argv(spec)))
  data, preprocessing = train.data, train.preprocessing
  # Threads decoding and preprocessing real data: the flag, or the count measured.
  input_threads = (runtime_tuning.preprocessing_threads(
      preprocessing.num_preprocessing_threads) if spec.data == 'real' else None)
  info = nets_factory.model_info(spec.model)
  num_frames = (train.model.num_frames or info.num_frames) if info.is_video_model else None
  if num_frames is None and train.model.num_frames is not None:
    raise ValueError(f'--num_frames applies to video models only; {spec.model} is an image '
                     'model')
  if num_frames is not None and spec.data == 'real':
    raise ValueError(f'{spec.model} is a video model and no video dataset converter exists: '
                     'time it on synthetic clips (--throughput_data=synthetic)')
  training_mode = spec.mode == 'train'
  graph = None
  inputs_per_step = spec.batch_size * (train.cluster.num_clones if training_mode else 1)
  build_start = time.perf_counter()
  with tf.Graph().as_default():
    if spec.data == 'real':
      dataset = dataset_factory.get_dataset(data.dataset_name, data.dataset_split_name,
                                            data.dataset_dir)
      num_classes = dataset.num_classes - data.labels_offset
      channels = 1 if preprocessing.use_grayscale else info.input_channels
      if training_mode:
        step_op, graph = train_step(train)
      else:
        batches = inputs.make_batches(
            dataset, preprocessing.preprocessing_name or spec.model, spec.image_size,
            spec.batch_size, is_training=False, labels_offset=data.labels_offset,
            use_grayscale=preprocessing.use_grayscale, num_readers=train.run.num_readers,
            num_preprocessing_threads=input_threads, num_epochs=None)
        images, labels = tf1.data.make_one_shot_iterator(batches).get_next()
        step_op = benchmark_step(spec.model, images, labels, num_classes, False,
                                 use_fp16=train.run.use_fp16)
    else:
      num_classes = info.num_classes - data.labels_offset
      channels = info.input_channels
      images, labels = synthetic_inputs(spec.model, spec.batch_size, spec.image_size,
                                        num_classes, channels, num_frames)
      if training_mode:
        step_op, graph = train_step(train, images, labels, num_classes)
      else:
        step_op = benchmark_step(spec.model, images, labels, num_classes, False,
                                 use_fp16=train.run.use_fp16)
    param_count = int(sum(np.prod(v.shape) for v in tf1.trainable_variables()))
    build_seconds = time.perf_counter() - build_start
    with tf1.Session(config=session_config(train)) as session:
      session.run([tf1.global_variables_initializer(), tf1.local_variables_initializer()])
      first_step_start = time.perf_counter()
      session.run(step_op)
      first_step_seconds = time.perf_counter() - first_step_start
      for _ in range(spec.warmup_steps):
        session.run(step_op)
      step_times = time_steps(lambda: session.run(step_op), spec.timed_steps)
  # A step's inputs are images, or clips for a video model: the rate counts them.
  unit = 'clip' if num_frames else 'image'
  rates = inputs_per_step / np.array(step_times)
  flops = _flops_per_input(spec.model, num_classes, spec.image_size, channels, num_frames)
  inputs_per_sec = float(np.median(rates))
  achieved = flops * (3 if training_mode else 1) * inputs_per_sec / 1e9
  return {
      'input_unit': unit,
      'num_frames': num_frames,
      f'{unit}s_per_sec': inputs_per_sec,
      # tf_cnn_benchmarks' spread: a 95% interval of the mean, and the scaled median
      # absolute deviation ("jitter").
      'ci95': float(1.96 * rates.std(ddof=1) / np.sqrt(len(rates))) if len(rates) > 1 else 0.0,
      'jitter': float(1.4826 * np.median(np.abs(rates - np.median(rates)))),
      'step_time_ms': float(np.median(step_times) * 1000),
      'timed_steps': len(step_times),
      'build_seconds': build_seconds,
      'first_step_seconds': first_step_seconds,
      'param_count': param_count,
      f'gflops_per_{unit}': flops / 1e9,
      'achieved_gflops': achieved,
      'peak_fraction': achieved / spec.peak_gflops if spec.peak_gflops else None,
      'image_size': spec.image_size,
      'num_intra_threads': train.run.num_intra_threads,
      'num_inter_threads': train.run.num_inter_threads,
      'input_threads': input_threads,
      'conv_gradients': conv_gradients_summary(graph['conv_gradients']) if graph else '',
      # Convolution -> the kernel its gradient used, where `auto` chose by measurement.
      'conv_gradient_kernels': (graph['conv_gradients']
                                if graph and isinstance(graph['conv_gradients'], dict) else {}),
  }


def conv_gradients_summary(choices):
  """`auto: 9 taps, 3 matmul, 4 tensorflow` from {convolution: kernel}, or the fixed mode."""
  if not isinstance(choices, dict):
    return choices
  return 'auto: ' + kernel_tuning.count_kernels(choices)


def run_peak(spec, unused_run_dir=None):
  """float32 GFLOP/s of a large matrix multiply on this machine (every core): the fastest
  of the products timed, and their median."""
  size = spec.matrix_size
  with tf.Graph().as_default():
    a = tf1.get_local_variable('a', initializer=tf1.random_uniform([size, size]))
    b = tf1.get_local_variable('b', initializer=tf1.random_uniform([size, size]))
    product = tf.reduce_sum(tf.matmul(a, b))
    intra, inter = runtime_tuning.session_threads(spec.num_intra_threads,
                                                  spec.num_inter_threads)
    session_options = tf1.ConfigProto(intra_op_parallelism_threads=intra,
                                      inter_op_parallelism_threads=inter)
    with tf1.Session(config=session_options) as session:
      session.run(tf1.local_variables_initializer())
      session.run(product)
      times = []
      deadline = time.perf_counter() + spec.seconds
      while time.perf_counter() < deadline or len(times) < 3:
        start = time.perf_counter()
        session.run(product)
        times.append(time.perf_counter() - start)
  flops = 2.0 * size ** 3
  # The fastest product, not the median: other load only ever slows a product down, and
  # on a shared 2-core machine the median of a few seconds fell to 218 GFLOP/s where the
  # fastest products ran at 380-420, which would have doubled every peak_fraction.
  return {'peak_gflops': flops / min(times) / 1e9,
          'median_gflops': flops / float(np.median(times)) / 1e9,
          'matrix_size': size, 'num_intra_threads': spec.num_intra_threads,
          'num_inter_threads': spec.num_inter_threads}


RUNS = {'train': run_train, 'throughput': run_throughput, 'peak': run_peak}


def _thread_flags(spec):
  if spec.kind == 'peak':
    return spec.num_intra_threads, spec.num_inter_threads
  return (int(run_spec.flag_value(spec, 'num_intra_threads') or 0),
          int(run_spec.flag_value(spec, 'num_inter_threads') or 0))


def main(argv):
  if len(argv) != 2:
    sys.exit('usage: python -m slimbench.benchmark_worker RUN_DIR/run_spec.json')
  spec_path = argv[1]
  with open(spec_path) as f:
    spec = run_spec.from_json(f.read())
  run_dir = os.path.dirname(os.path.abspath(spec_path))
  logging.set_verbosity(logging.INFO)
  try:
    result = RUNS[spec.kind](spec, run_dir)
    result['status'] = 'ok'
  except Exception as error:  # pylint: disable=broad-except
    # A failed run is recorded and the study goes on with the others.
    traceback.print_exc()
    result = {'status': 'failed', 'error': f'{type(error).__name__}: {error}'.splitlines()[0]}
  result['wall_seconds'] = time.time() - PROCESS_START
  result['peak_memory_mb'] = _peak_memory_mb()
  result['run_id'] = run_spec.run_id(spec)
  result.update(provenance.collect(*_thread_flags(spec)))
  if spec.kind == 'train' and result['status'] == 'ok':
    write_hparams(run_dir, run_spec.hparams(spec), result)
  files.write_json_atomically(os.path.join(run_dir, RESULT_FILE), result)
  return 0 if result['status'] == 'ok' else 1


if __name__ == '__main__':
  logging.use_absl_handler()
  sys.exit(main(sys.argv))
