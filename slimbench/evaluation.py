"""Evaluation of checkpoints: accuracy, recall@5, loss and per-class accuracy.

`evaluate(eval_config)` does what eval_image_classifier.py does: evaluate one checkpoint,
or (with --wait_for_checkpoints) each new checkpoint of a training folder as it appears.
Every example of the split counts exactly once (the last, partial batch included).
Results go to TensorBoard at the checkpoint's global step and to `eval_results.csv` /
`eval_results.json` in --eval_dir.

With --eval_crops=10 each image is seen as the 2012 AlexNet paper saw it at test time:
the centre and four corner crops and their mirrors (`preprocessing.ten_crop`), the
softmax averaged over the ten. Every metric is then taken on that average; the loss is
the cross entropy of the averaged probabilities.

The images get the channels the checkpoint's first convolution takes (one for LeNet
trained on MNIST), and unless --preprocessing_name or --eval_image_size say, the
preprocessing and size that the checkpoint's training folder records in its flags.txt
(`checkpoint_inputs`). Progress is logged as TF-Slim did: `Evaluation [k/N]`, with the
time taken and an estimate of the time left.

With --keep_best_checkpoints=N the continuous evaluator copies the N best checkpoints by
--best_checkpoint_metric into CHECKPOINT_PATH/best/ (`checkpoints.keep_best`).
"""

import csv
import dataclasses
import io
import math
import os
import time
from typing import Optional

from absl import logging
import numpy as np
import tensorflow as tf
import tf_slim as slim

from slimbench.datasets import dataset_factory
from slimbench.nets import nets_factory
from slimbench.preprocessing import ten_crop
from slimbench import checkpoint_inputs
from slimbench import checkpoints
from slimbench import config
from slimbench import files
from slimbench import inputs
from slimbench import quantization
from slimbench import runtime_tuning

tf1 = tf.compat.v1

RESULTS_CSV = 'eval_results.csv'
RESULTS_JSON = 'eval_results.json'
SUMMARY_TAGS = {'eval/Accuracy': 'accuracy', 'eval/Recall_5': 'recall_5', 'eval/Loss': 'loss',
                'eval/MeanPerClassAccuracy': 'mean_per_class_accuracy'}
CSV_COLUMNS = ('model', 'dataset', 'split', 'global_step', 'num_examples', 'accuracy',
               'recall_5', 'loss', 'mean_per_class_accuracy', 'seconds', 'checkpoint',
               'image_size', 'eval_crops')
EVAL_CROPS = (1, 10)
LOWER_IS_BETTER = ('eval/Loss',)


class NoCheckpointError(Exception):
  """No checkpoint appeared in time (the message says where)."""


@dataclasses.dataclass(frozen=True)
class EvalConfig:
  """What eval_image_classifier.py does: the shared groups, then evaluation's own settings.

  Fields have the names, types and defaults of the script's flags (`eval_flags`), except
  `use_grayscale_given`: whether --use_grayscale was given, so that it binds instead of
  the checkpoint's input channels choosing.
  """
  data: config.DataConfig = config.DataConfig(dataset_split_name='test')
  model: config.ModelConfig = config.ModelConfig()
  preprocessing: config.PreprocessingConfig = config.PreprocessingConfig()
  checkpoint: config.CheckpointConfig = config.CheckpointConfig(checkpoint_path='/tmp/tfmodel/')
  use_grayscale_given: bool = False
  master: str = ''
  eval_dir: str = '/tmp/tfmodel/'
  batch_size: int = 100
  max_num_batches: Optional[int] = None
  eval_image_size: Optional[int] = None
  quantize: bool = False
  eval_crops: int = 1
  wait_for_checkpoints: bool = False
  eval_interval_secs: int = 60
  eval_timeout_secs: Optional[int] = None
  keep_best_checkpoints: int = 0
  best_checkpoint_metric: str = 'eval/Accuracy'


def _check_config(eval_config):
  check_eval_crops(eval_config.eval_crops)
  quantization.check_not_requested(eval_config.quantize, 'quantize', 'quantized evaluation')
  data, model_name = eval_config.data, eval_config.model.model_name
  checkpoint_path = eval_config.checkpoint.checkpoint_path
  if not data.dataset_dir and data.dataset_name != 'synthetic':
    raise ValueError('--dataset_dir is required: the folder of the converted dataset')
  # A folder that does not exist yet is fine: evaluation may start before training.
  if (eval_config.wait_for_checkpoints and tf.io.gfile.exists(checkpoint_path) and
      not tf.io.gfile.isdir(checkpoint_path)):
    raise ValueError(f'--wait_for_checkpoints needs --checkpoint_path to be a folder, got '
                     f'{checkpoint_path}')
  if eval_config.keep_best_checkpoints and not eval_config.wait_for_checkpoints:
    raise ValueError('--keep_best_checkpoints keeps the best checkpoints of a training '
                     'folder as they appear: add --wait_for_checkpoints')
  if nets_factory.model_info(model_name).is_video_model:
    raise ValueError(f'--model_name={model_name} is a video model: evaluation reads '
                     'images, and no video dataset converter exists (time it with '
                     'benchmark_models.py --study=throughput on synthetic clips)')


def check_eval_crops(eval_crops):
  if eval_crops not in EVAL_CROPS:
    raise ValueError(f'--eval_crops must be 1 or 10, got {eval_crops!r}')


def ten_crop_batches(dataset, preprocessing_name, image_size, batch_size, *, labels_offset=0,
                     use_grayscale=False, num_preprocessing_threads=4):
  """Batches of the ten crops of each image, in the split's order, the last one partial.

  Returns:
    A `tf.data.Dataset` of (images float32 [batch, 10, image_size, image_size, C],
    labels int64 [batch]).
  """
  examples = dataset.read(shuffle=False, num_epochs=1,
                          num_parallel_calls=num_preprocessing_threads)

  @tf.autograph.experimental.do_not_convert
  def prepare(example):
    crops = ten_crop.ten_crops(example['image'], preprocessing_name, image_size, image_size,
                               use_grayscale=use_grayscale)
    return crops, example['label'] - labels_offset

  batches = examples.map(prepare, num_parallel_calls=num_preprocessing_threads)
  return batches.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def mean_softmax_log_probabilities(logits, num_crops):
  """log of the softmax averaged over each example's `num_crops` consecutive rows.

  Computed as a log-sum-exp of log-softmaxes, so a class that every crop gives a tiny
  probability keeps a finite log instead of log(0).
  """
  log_probabilities = tf.nn.log_softmax(logits)
  per_example = tf.reshape(log_probabilities, [-1, num_crops, tf.shape(logits)[-1]])
  return tf.reduce_logsumexp(per_example, axis=1) - math.log(num_crops)


def _variables_to_restore(moving_average_decay, global_step):
  if moving_average_decay:
    averages = tf1.train.ExponentialMovingAverage(moving_average_decay, global_step)
    mapping = averages.variables_to_restore(slim.get_model_variables())
    mapping[global_step.op.name] = global_step
    return mapping
  return {v.op.name: v for v in slim.get_variables_to_restore()}


class _EvalGraph:
  """The evaluation graph of one model on one split, built once, run per checkpoint.

  The images get the channels that `checkpoint`'s first convolution takes, and unless the
  flags say, the preprocessing and size that its training folder's flags.txt records (the
  first checkpoint of a training folder speaks for the rest).
  """

  def __init__(self, eval_config, checkpoint=None):
    self.config = eval_config
    data, model_name = eval_config.data, eval_config.model.model_name
    preprocessing = eval_config.preprocessing
    self.eval_crops = eval_crops = eval_config.eval_crops
    batch_size = eval_config.batch_size
    self.graph = tf.Graph()
    with self.graph.as_default():
      self.dataset = dataset_factory.get_dataset(data.dataset_name, data.dataset_split_name,
                                                 data.dataset_dir)
      self.num_classes = self.dataset.num_classes - data.labels_offset
      network_fn = nets_factory.get_network_fn(model_name, num_classes=self.num_classes,
                                               is_training=False)
      self.trained = trained = (
          checkpoint_inputs.training_settings(checkpoint, model_name) if checkpoint else {})
      image_size = checkpoint_inputs.default_from_training(
          'eval_image_size', eval_config.eval_image_size, trained, 'train_image_size',
          checkpoint)
      self.image_size = image_size or network_fn.default_image_size
      preprocessing_name = checkpoint_inputs.default_from_training(
          'preprocessing_name', preprocessing.preprocessing_name, trained,
          'preprocessing_name', checkpoint) or model_name
      self.preprocessing_name = preprocessing_name
      use_grayscale, expand_to_rgb = preprocessing.use_grayscale, False
      if checkpoint:
        use_grayscale, expand_to_rgb = checkpoint_inputs.choose_use_grayscale(
            checkpoint, checkpoint_inputs.checkpoint_channels(checkpoint, model_name),
            preprocessing.use_grayscale, eval_config.use_grayscale_given,
            lambda grayscale: checkpoint_inputs.preprocessed_channels(
                preprocessing_name, self.dataset.channels, grayscale))
      threads = runtime_tuning.preprocessing_threads(preprocessing.num_preprocessing_threads)
      if eval_crops == 1:
        batches = inputs.make_batches(
            self.dataset, preprocessing_name, self.image_size, batch_size,
            is_training=False, labels_offset=data.labels_offset,
            use_grayscale=use_grayscale, num_preprocessing_threads=threads, num_epochs=1,
            drop_remainder=False)
      else:
        batches = ten_crop_batches(
            self.dataset, preprocessing_name, self.image_size, batch_size,
            labels_offset=data.labels_offset, use_grayscale=use_grayscale,
            num_preprocessing_threads=threads)
      if expand_to_rgb:
        # A grayscale dataset through a preprocessing that keeps one channel, for a
        # network trained on colour: the channel repeated, as an RGB decode of it would be.
        batches = batches.map(lambda images, labels: (tf.image.grayscale_to_rgb(images),
                                                      labels))
      self.num_batches = math.ceil(self.dataset.num_samples / batch_size)
      if eval_config.max_num_batches:
        self.num_batches = min(self.num_batches, eval_config.max_num_batches)
      self.iterator = tf1.data.make_initializable_iterator(batches)
      images, self.labels = self.iterator.get_next()
      if eval_crops == 1:
        logits, _ = network_fn(images)
      else:
        crops = tf.reshape(images, tf.concat([[-1], tf.shape(images)[2:]], 0))
        crops.set_shape([None] + images.shape[2:].as_list())
        crop_logits, _ = network_fn(crops)
        # Normalized log-probabilities: as logits, their softmax is the averaged softmax.
        logits = mean_softmax_log_probabilities(crop_logits, eval_crops)
      self.logits = logits
      self.global_step = tf1.train.get_or_create_global_step()
      self.predictions = tf.argmax(logits, 1)
      self.in_top_5 = tf.math.in_top_k(predictions=logits, targets=self.labels,
                                       k=min(5, self.num_classes))
      self.losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=self.labels,
                                                                   logits=logits)
      self.variables = _variables_to_restore(eval_config.checkpoint.moving_average_decay,
                                             self.global_step)
      self.model_info = nets_factory.model_info(model_name)

  def evaluate(self, checkpoint):
    """Evaluates `checkpoint`; returns a dict of results."""
    eval_config = self.config
    data, model_name = eval_config.data, eval_config.model.model_name
    with self.graph.as_default():
      if eval_config.checkpoint.moving_average_decay:
        names = tf.train.load_checkpoint(checkpoint).get_variable_to_shape_map()
        if not any(name.endswith('/ExponentialMovingAverage') for name in names):
          raise ValueError(f'checkpoint {checkpoint} holds no moving averages; train with '
                           f'--moving_average_decay or evaluate without it')
      checkpoint_inputs.check_image_size(checkpoint, model_name, self.variables,
                                         self.image_size, self.trained, 'eval_image_size')
      saver, _, _ = checkpoints.restore_saver(
          checkpoint, self.variables, model_info=self.model_info,
          num_classes=self.num_classes,
          missing_hint=f'is it a checkpoint of {self.model_info.name}?')
      start = time.time()
      correct = top_5 = count = 0
      loss_sum = 0.0
      per_class_correct = np.zeros(self.num_classes, np.int64)
      per_class_total = np.zeros(self.num_classes, np.int64)
      with tf1.Session(eval_config.master) as session:
        saver.restore(session, checkpoint)
        session.run(self.iterator.initializer)
        step = int(session.run(self.global_step))
        batches = 0
        progress = Progress(self.num_batches)
        while (eval_config.max_num_batches is None or
               batches < eval_config.max_num_batches):
          try:
            labels, predictions, hits, losses = session.run(
                [self.labels, self.predictions, self.in_top_5, self.losses])
          except tf.errors.OutOfRangeError:
            break
          batches += 1
          progress.batch_done(batches)
          count += len(labels)
          correct += int(np.sum(predictions == labels))
          top_5 += int(np.sum(hits))
          loss_sum += float(np.sum(losses))
          np.add.at(per_class_total, labels, 1)
          np.add.at(per_class_correct, labels[predictions == labels], 1)
      if count == 0:
        raise ValueError(f'split {data.dataset_split_name} of {data.dataset_dir} gave no '
                         f'examples')
      seen = per_class_total > 0
      per_class = np.where(seen, per_class_correct / np.maximum(per_class_total, 1), np.nan)
      return {
          'model': model_name, 'dataset': data.dataset_name,
          'split': data.dataset_split_name, 'global_step': step, 'num_examples': count,
          'accuracy': correct / count, 'recall_5': top_5 / count, 'loss': loss_sum / count,
          'mean_per_class_accuracy': float(np.nanmean(per_class)),
          'per_class_accuracy': {
              self.dataset.labels_to_names.get(i + data.labels_offset, str(i)):
              (None if np.isnan(v) else float(v)) for i, v in enumerate(per_class)},
          'seconds': time.time() - start, 'checkpoint': checkpoint,
          'image_size': self.image_size, 'eval_crops': self.eval_crops,
          'preprocessing': self.preprocessing_name,
      }


def format_duration(seconds):
  """1:02:03 for 3723 s, 2:05 for 125 s."""
  minutes, seconds = divmod(int(round(seconds)), 60)
  hours, minutes = divmod(minutes, 60)
  return f'{hours}:{minutes:02d}:{seconds:02d}' if hours else f'{minutes}:{seconds:02d}'


class Progress:
  """Logs `Evaluation [k/N]` with the time taken and left, as TF-Slim's evaluation did.

  A tenth of the batches apart (every batch when there are fewer than 20), and at least
  every LOG_EVERY_SECS seconds, so that a slow evaluation still shows that it moves.
  """

  LOG_EVERY_SECS = 30

  def __init__(self, num_batches, clock=time.monotonic):
    self.num_batches = num_batches
    self.every = 1 if num_batches < 20 else num_batches // 10
    self.clock = clock
    self.start = self.last_log = clock()

  def batch_done(self, done):
    now = self.clock()
    if not (done % self.every == 0 or done == self.num_batches or
            now - self.last_log >= self.LOG_EVERY_SECS):
      return
    self.last_log = now
    elapsed = now - self.start
    left = elapsed / done * max(self.num_batches - done, 0)
    logging.info('Evaluation [%d/%d], %s elapsed, ETA %s', done, self.num_batches,
                 format_duration(elapsed), format_duration(left))


def write_results(eval_dir, results):
  """Writes TensorBoard summaries at the checkpoint's step and the CSV/JSON rows.

  Raises:
    files.UnwritableError: eval_dir cannot be written (read-only, full, or a file).
  """
  try:
    tf.io.gfile.makedirs(eval_dir)
    writer = tf.summary.create_file_writer(eval_dir)
    with writer.as_default():
      for tag, key in SUMMARY_TAGS.items():
        tf.summary.scalar(tag, results[key], step=results['global_step'])
    writer.close()
  except (tf.errors.OpError, OSError) as error:
    raise files.UnwritableError(f'--eval_dir={eval_dir}: cannot write there '
                                f'({files.reason(error)})') from error

  csv_path = os.path.join(eval_dir, RESULTS_CSV)
  rows = []
  if tf.io.gfile.exists(csv_path):
    with tf.io.gfile.GFile(csv_path) as f:
      # One row per checkpoint and way of cropping: a 10-crop evaluation does not hide
      # the single-crop one.
      rows = [row for row in csv.DictReader(f)
              if (row['checkpoint'], row.get('eval_crops') or '1') !=
              (results['checkpoint'], str(results['eval_crops']))]
  rows.append({key: results[key] for key in CSV_COLUMNS})
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
  writer.writeheader()
  writer.writerows(rows)
  files.write_text_atomically(csv_path, buffer.getvalue())
  files.write_json_atomically(os.path.join(eval_dir, RESULTS_JSON), results)


def _log(results):
  logging.info('%s at step %d on %d examples (%dx%d, %s preprocessing, %d crop%s each): '
               'eval/Accuracy = %.4f, eval/Recall_5 = %.4f, loss = %.4f', results['model'],
               results['global_step'], results['num_examples'], results['image_size'],
               results['image_size'], results['preprocessing'], results['eval_crops'],
               's' if results['eval_crops'] > 1 else '', results['accuracy'],
               results['recall_5'], results['loss'])


def evaluate(eval_config):
  """Evaluates as `eval_config` (an `EvalConfig`) says.

  Returns:
    The list of result dicts, one per evaluated checkpoint.

  Raises:
    ValueError: bad settings, data or checkpoint (one clear line naming the flag).
    NoCheckpointError: no checkpoint (once mode) or none within the timeout (continuous).
  """
  _check_config(eval_config)
  data = eval_config.data
  checkpoint_path = eval_config.checkpoint.checkpoint_path
  if not eval_config.wait_for_checkpoints:
    if tf.io.gfile.isdir(checkpoint_path) and not tf.train.latest_checkpoint(
        checkpoint_path):
      raise NoCheckpointError(f'--checkpoint_path={checkpoint_path}: the folder holds no '
                              f'checkpoint')
    checkpoint = checkpoints.resolve_checkpoint(checkpoint_path)
    results = _EvalGraph(eval_config, checkpoint).evaluate(checkpoint)
    write_results(eval_config.eval_dir, results)
    _log(results)
    return [results]

  # Built at the first checkpoint, which says what input the network takes; the dataset
  # is checked now, not after the wait.
  dataset_factory.get_dataset(data.dataset_name, data.dataset_split_name, data.dataset_dir)
  eval_graph = None
  all_results = []
  if not tf.io.gfile.isdir(checkpoint_path):
    logging.info('Waiting for %s to be made and a checkpoint to appear in it',
                 checkpoint_path)
  for checkpoint in tf.train.checkpoints_iterator(
      checkpoint_path, min_interval_secs=eval_config.eval_interval_secs,
      timeout=eval_config.eval_timeout_secs):
    problem = checkpoints.damage(checkpoint)
    if problem:
      logging.warning('Checkpoint %s cannot be read, damaged or already rotated out (%s); '
                      'waiting for the next one', checkpoint, problem)
      continue
    if eval_graph is None:
      eval_graph = _EvalGraph(eval_config, checkpoint)
    results = eval_graph.evaluate(checkpoint)
    write_results(eval_config.eval_dir, results)
    _log(results)
    if eval_config.keep_best_checkpoints:
      metric = eval_config.best_checkpoint_metric
      checkpoints.keep_best(
          os.path.join(checkpoint_path, checkpoints.BEST_DIR), checkpoint,
          results['global_step'], results[SUMMARY_TAGS[metric]], metric=metric,
          higher_is_better=metric not in LOWER_IS_BETTER,
          keep=eval_config.keep_best_checkpoints)
    all_results.append(results)
  if not all_results:
    raise NoCheckpointError(f'no checkpoint appeared in {checkpoint_path} within '
                            f'{eval_config.eval_timeout_secs} s')
  logging.info('No new checkpoint in %s for %s s: stopping', checkpoint_path,
               eval_config.eval_timeout_secs)
  return all_results
