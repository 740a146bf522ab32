"""One run of a benchmark study, in its own process: `python -m slimbench.benchmark_worker SPEC`.

SPEC is a run_spec.json written by `benchmark.py`; the worker writes result.json beside it
(under a temporary name, then renamed), so a study that stops half-way knows which runs
finished. Kinds of run:
- 'train': trains in segments, evaluating the held-out split after each, so the run yields
  accuracy over training time; writes the run's HParams to TensorBoard.
- 'throughput': times training or inference steps on synthetic data or a converted
  dataset.
- 'peak': measures this machine's float32 matrix-multiply rate, the yardstick of
  achieved GFLOP/s.
"""

import json
import os
import resource
import sys
import time
import traceback

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import flags  # pylint: disable=g-import-not-at-top
from absl import logging  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from datasets import dataset_factory  # pylint: disable=g-import-not-at-top
from nets import nets_factory  # pylint: disable=g-import-not-at-top
from slimbench import benchmark  # pylint: disable=g-import-not-at-top
from slimbench import evaluation  # pylint: disable=g-import-not-at-top
from slimbench import files  # pylint: disable=g-import-not-at-top
from slimbench import inputs  # pylint: disable=g-import-not-at-top
from slimbench import precision  # pylint: disable=g-import-not-at-top
from slimbench import train_flags  # pylint: disable=g-import-not-at-top
from slimbench import training  # pylint: disable=g-import-not-at-top

tf1 = tf.compat.v1

RESULT_FILE = benchmark.RESULT_FILE
HPARAM_METRICS = benchmark.HPARAM_METRICS


def _peak_memory_mb():
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _parse(define, argv):
  flag_values = flags.FlagValues()
  names = define(flag_values)
  flag_values(['worker'] + list(argv))
  return flag_values, names


def run_train(spec):
  """Trains to each step of spec['segments'], evaluating after each."""
  fv, names = _parse(train_flags.define_train_flags, spec['train_argv'])
  history = []
  train_seconds = 0.0
  timed_images = timed_seconds = 0.0
  result = None
  for segment_end in spec['segments']:
    fv['max_number_of_steps'].value = segment_end
    trained = training.train(fv, names)
    train_seconds += trained['seconds']
    if trained['images_per_sec']:
      seconds = (trained['steps_run'] - 1) * fv.batch_size * fv.num_clones / (
          trained['images_per_sec'])
      timed_images += (trained['steps_run'] - 1) * fv.batch_size * fv.num_clones
      timed_seconds += seconds
    efv, _ = _parse(evaluation.define_eval_flags, spec['eval_argv'])
    result = evaluation.evaluate(efv)[0]
    history.append({'step': trained['global_step'], 'train_seconds': train_seconds,
                    'accuracy': result['accuracy'], 'recall_5': result['recall_5'],
                    'loss': result['loss'], 'train_loss': trained['loss']})
    logging.info('step %d after %.1f s of training: accuracy %.4f', trained['global_step'],
                 train_seconds, result['accuracy'])
  target = spec.get('target_accuracy')
  reached = [h['train_seconds'] for h in history if target and h['accuracy'] >= target]
  final = history[-1]
  return {
      'accuracy': final['accuracy'], 'recall_5': final['recall_5'], 'loss': final['loss'],
      'train_loss': final['train_loss'], 'global_step': final['step'],
      'num_eval_examples': result['num_examples'],
      'train_seconds': train_seconds,
      'images_per_sec': timed_images / timed_seconds if timed_seconds else 0.0,
      'time_to_target': reached[0] if reached else None,
      'param_count': trained['param_count'],
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


def _flops_per_image(model_name, num_classes, image_size, channels):
  """Forward float operations for one image, from TensorFlow's graph profiler."""
  with tf.Graph().as_default() as graph:
    images = tf1.placeholder(tf.float32, [1, image_size, image_size, channels])
    nets_factory.get_network_fn(model_name, num_classes=num_classes)(images)
    options = tf1.profiler.ProfileOptionBuilder.float_operation()
    options['output'] = 'none'
    profile = tf1.profiler.profile(graph, options=options)
  return profile.total_float_ops


def session_config(spec):
  """The session config of a run: its thread counts (0: TensorFlow's choice)."""
  return tf1.ConfigProto(intra_op_parallelism_threads=spec.get('num_intra_threads') or 0,
                         inter_op_parallelism_threads=spec.get('num_inter_threads') or 0)


def synthetic_inputs(model_name, batch_size, image_size, num_classes):
  """Images and labels held in variables, as in tf_cnn_benchmarks: no step pays for
  generating or copying data."""
  channels = nets_factory.model_info(model_name).input_channels
  images = tf1.get_local_variable(
      'synthetic_images', initializer=tf1.random_uniform(
          [batch_size, image_size, image_size, channels], -1, 1), trainable=False)
  labels = tf1.get_local_variable(
      'synthetic_labels', initializer=tf1.random_uniform(
          [batch_size], 0, num_classes, tf.int64), trainable=False)
  return images, labels


def dataset_inputs(spec, image_size, training):
  """Batches from the converted dataset of the spec, through the training input pipeline
  (decoding, the model's preprocessing, parallel reads and prefetch).

  Returns:
    (images, labels, num_classes).
  """
  dataset = dataset_factory.get_dataset(spec['dataset_name'],
                                        spec.get('dataset_split_name', 'train'),
                                        spec['dataset_dir'])
  batches = inputs.make_batches(
      dataset, spec.get('preprocessing_name') or spec['model_name'], image_size,
      spec['batch_size'], is_training=training,
      num_readers=spec.get('num_readers', 4),
      num_preprocessing_threads=spec.get('num_preprocessing_threads', 4),
      num_epochs=None)
  images, labels = tf1.data.make_one_shot_iterator(batches).get_next()
  return images, labels, dataset.num_classes


def benchmark_step(model_name, images, labels, num_classes, training, use_fp16=False,
                   fp16_loss_scale=None):
  """One step of `model_name` on `images`, built in the default graph.

  A training step is the forward pass, the loss with weight decay (and 0.4 of the
  auxiliary logits' loss), the backward pass, the batch-norm updates and a momentum
  update; an inference step is the forward pass of the eval graph. `use_fp16` computes in
  float16 over float32 variables, as training's --use_fp16 does.
  """
  network_fn = nets_factory.get_network_fn(model_name, num_classes=num_classes,
                                           weight_decay=4e-5, is_training=training)
  if use_fp16:
    network_fn = precision.float16_network(network_fn)
  logits, end_points = network_fn(images)
  if not training:
    return tf.reduce_sum(logits)  # a scalar fetch keeps the output copy negligible
  loss = tf1.losses.sparse_softmax_cross_entropy(labels, logits)
  if 'AuxLogits' in end_points:
    loss += 0.4 * tf1.losses.sparse_softmax_cross_entropy(labels, end_points['AuxLogits'])
  loss += tf.add_n(tf1.losses.get_regularization_losses() or [tf.constant(0.0)])
  global_step = tf1.train.get_or_create_global_step()
  optimizer = tf1.train.MomentumOptimizer(0.01, 0.9)
  if use_fp16:
    optimizer = precision.loss_scale_optimizer(optimizer, fp16_loss_scale)
  with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
    return optimizer.minimize(loss, global_step)


def time_steps(run_step, timed_steps):
  """Seconds of each of `timed_steps` calls of `run_step()`."""
  times = []
  for _ in range(timed_steps):
    start = time.perf_counter()
    run_step()
    times.append(time.perf_counter() - start)
  return times


def run_throughput(spec):
  """Times spec['timed_steps'] steps after spec['warmup_steps'].

  The images are synthetic, or with spec['data'] == 'real' come from the converted
  dataset spec['dataset_dir'] through the training input pipeline.
  """
  model_name, batch_size = spec['model_name'], spec['batch_size']
  info = nets_factory.model_info(model_name)
  image_size = spec.get('image_size') or info.default_image_size
  training_mode = spec['mode'] == 'train'
  build_start = time.perf_counter()
  with tf.Graph().as_default():
    if spec.get('data', 'synthetic') == 'real':
      images, labels, num_classes = dataset_inputs(spec, image_size, training_mode)
    else:
      num_classes = spec.get('num_classes') or info.num_classes
      images, labels = synthetic_inputs(model_name, batch_size, image_size, num_classes)
    step_op = benchmark_step(model_name, images, labels, num_classes, training_mode,
                             use_fp16=spec.get('use_fp16', False),
                             fp16_loss_scale=spec.get('fp16_loss_scale'))
    param_count = int(sum(np.prod(v.shape) for v in tf1.trainable_variables()))
    build_seconds = time.perf_counter() - build_start
    with tf1.Session(config=session_config(spec)) as session:
      session.run([tf1.global_variables_initializer(), tf1.local_variables_initializer()])
      first_step_start = time.perf_counter()
      session.run(step_op)
      first_step_seconds = time.perf_counter() - first_step_start
      for _ in range(spec['warmup_steps']):
        session.run(step_op)
      step_times = time_steps(lambda: session.run(step_op), spec['timed_steps'])
  rates = batch_size / np.array(step_times)
  flops = _flops_per_image(model_name, num_classes, image_size, info.input_channels)
  images_per_sec = float(np.median(rates))
  achieved = flops * (3 if training_mode else 1) * images_per_sec / 1e9
  peak = spec.get('peak_gflops')
  return {
      'images_per_sec': images_per_sec,
      # tf_cnn_benchmarks' spread: a 95% interval of the mean, and the scaled median
      # absolute deviation ("jitter").
      'ci95': float(1.96 * rates.std(ddof=1) / np.sqrt(len(rates))) if len(rates) > 1 else 0.0,
      'jitter': float(1.4826 * np.median(np.abs(rates - np.median(rates)))),
      'step_time_ms': float(np.median(step_times) * 1000),
      'build_seconds': build_seconds,
      'first_step_seconds': first_step_seconds,
      'param_count': param_count,
      'gflops_per_image': flops / 1e9,
      'achieved_gflops': achieved,
      'peak_fraction': achieved / peak if peak else None,
      'image_size': image_size,
  }


def run_peak(spec):
  """float32 GFLOP/s of a large matrix multiply on this machine (both cores)."""
  size = spec.get('matrix_size', 2048)
  with tf.Graph().as_default():
    a = tf1.get_local_variable('a', initializer=tf1.random_uniform([size, size]))
    b = tf1.get_local_variable('b', initializer=tf1.random_uniform([size, size]))
    product = tf.reduce_sum(tf.matmul(a, b))
    with tf1.Session(config=session_config(spec)) as session:
      session.run(tf1.local_variables_initializer())
      session.run(product)
      times = []
      deadline = time.perf_counter() + spec.get('seconds', 3.0)
      while time.perf_counter() < deadline or len(times) < 3:
        start = time.perf_counter()
        session.run(product)
        times.append(time.perf_counter() - start)
  return {'peak_gflops': 2.0 * size ** 3 / float(np.median(times)) / 1e9,
          'matrix_size': size}


RUNS = {'train': run_train, 'throughput': run_throughput, 'peak': run_peak}


def main(argv):
  if len(argv) != 2:
    sys.exit('usage: python -m slimbench.benchmark_worker RUN_DIR/run_spec.json')
  spec_path = argv[1]
  with open(spec_path) as f:
    spec = json.load(f)
  run_dir = os.path.dirname(os.path.abspath(spec_path))
  logging.set_verbosity(logging.INFO)
  start = time.time()
  try:
    result = RUNS[spec['kind']](spec)
    result['status'] = 'ok'
  except Exception as error:  # pylint: disable=broad-except
    # A failed run is recorded and the study goes on with the others.
    traceback.print_exc()
    result = {'status': 'failed', 'error': f'{type(error).__name__}: {error}'.splitlines()[0]}
  result['wall_seconds'] = time.time() - start
  result['peak_memory_mb'] = _peak_memory_mb()
  if spec.get('hparams') and result['status'] == 'ok':
    write_hparams(run_dir, spec['hparams'], result)
  files.write_json_atomically(os.path.join(run_dir, RESULT_FILE), result)
  return 0 if result['status'] == 'ok' else 1


if __name__ == '__main__':
  logging.use_absl_handler()
  sys.exit(main(sys.argv))
