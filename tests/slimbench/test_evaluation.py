"""eval_image_classifier.py, export_inference_graph.py and classify_image.py."""

import csv
import json
import os
import subprocess
import sys
import threading
import time

from absl import flags
import numpy as np
import pytest
import tensorflow as tf

from nets import nets_factory
from slimbench import classify
from slimbench import classify_flags
from slimbench import eval_flags
from slimbench import evaluation
from slimbench import export
from slimbench import export_flags

tf1 = tf.compat.v1
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Logits that ignore the image: class 0 first, then 1, 2, 3, 4; the rest far behind.
CONSTANT_LOGITS = np.array([10, 9, 8, 7, 6, 0, 0, 0, 0, 0], np.float32)


def _constant_lenet_checkpoint(directory, step=42, averages=False):
  """A LeNet checkpoint whose prediction is known without running it."""
  with tf.Graph().as_default():
    images = tf1.placeholder(tf.float32, [1, 28, 28, 1])
    nets_factory.get_network_fn('lenet', num_classes=10)(images)
    global_step = tf1.train.get_or_create_global_step()
    variables = {v.op.name: v for v in tf1.global_variables()}
    ema = tf1.train.ExponentialMovingAverage(0.9, global_step)
    if averages:
      ema.apply(tf1.trainable_variables())
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      for name, value in (('LeNet/fc4/weights', np.zeros([1024, 10], np.float32)),
                          ('LeNet/fc4/biases', CONSTANT_LOGITS)):
        variables[name].load(value, sess)
        if averages:
          ema.average(variables[name]).load(value, sess)
      global_step.load(step, sess)
      return tf1.train.Saver().save(sess, os.path.join(directory, 'model.ckpt'),
                                    global_step=step)


def _eval_config(**values):
  fv = flags.FlagValues()
  eval_flags.define_eval_flags(fv)
  fv(['eval'] + [f'--{key}={value}' for key, value in values.items()])
  return eval_flags.read_eval_config(fv)


def _lenet_eval_config(tmp_path, dataset_dir, checkpoint_path, **values):
  settings = dict(checkpoint_path=checkpoint_path, eval_dir=str(tmp_path / 'eval'),
                  model_name='lenet', dataset_name='mnist5k', dataset_dir=dataset_dir,
                  dataset_split_name='test', batch_size=64)
  settings.update(values)
  return _eval_config(**settings)


def test_exact_accuracy_over_every_example(tmp_path, mnist5k_dir):
  """500 test images, 50 per class, in batches of 64: the last batch has 52."""
  checkpoint = _constant_lenet_checkpoint(str(tmp_path))
  config = _lenet_eval_config(tmp_path, mnist5k_dir, checkpoint)
  results = evaluation.evaluate(config)[0]
  assert results['num_examples'] == 500
  assert results['accuracy'] == pytest.approx(0.1)  # class 0 only
  assert results['recall_5'] == pytest.approx(0.5)  # classes 0-4
  assert results['global_step'] == 42
  assert results['per_class_accuracy']['0'] == 1.0
  assert results['per_class_accuracy']['5'] == 0.0
  assert results['mean_per_class_accuracy'] == pytest.approx(0.1)

  with open(tmp_path / 'eval' / evaluation.RESULTS_CSV) as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 1 and float(rows[0]['accuracy']) == pytest.approx(0.1)
  with open(tmp_path / 'eval' / evaluation.RESULTS_JSON) as f:
    assert json.load(f)['num_examples'] == 500
  tags = {}
  for event_file in tf.io.gfile.glob(str(tmp_path / 'eval' / 'events.*')):
    for event in tf1.train.summary_iterator(event_file):
      for value in event.summary.value:
        tags[value.tag] = (event.step, float(tf.make_ndarray(value.tensor)))
  assert tags['eval/Accuracy'][0] == 42
  assert tags['eval/Accuracy'][1] == pytest.approx(0.1)
  assert tags['eval/Recall_5'][1] == pytest.approx(0.5)


def test_max_num_batches_limits_the_examples(tmp_path, mnist5k_dir):
  checkpoint = _constant_lenet_checkpoint(str(tmp_path))
  config = _lenet_eval_config(tmp_path, mnist5k_dir, checkpoint, max_num_batches=2)
  assert evaluation.evaluate(config)[0]['num_examples'] == 128


def test_continuous_mode_picks_up_a_new_checkpoint_and_stops_at_its_timeout(
    tmp_path, mnist5k_dir):
  train_dir = tmp_path / 'train'
  train_dir.mkdir()
  config = _lenet_eval_config(tmp_path, mnist5k_dir, str(train_dir), wait_for_checkpoints=True,
                              eval_interval_secs=0, eval_timeout_secs=10)
  found = []
  evaluator = threading.Thread(target=lambda: found.extend(evaluation.evaluate(config)))
  start = time.time()
  evaluator.start()
  time.sleep(2)
  _constant_lenet_checkpoint(str(train_dir), step=7)
  evaluator.join(timeout=120)
  assert not evaluator.is_alive()
  assert [r['global_step'] for r in found] == [7]
  assert time.time() - start < 120


def test_continuous_mode_without_checkpoints_stops_with_an_error(tmp_path, mnist5k_dir):
  empty = tmp_path / 'empty'
  empty.mkdir()
  config = _lenet_eval_config(tmp_path, mnist5k_dir, str(empty), wait_for_checkpoints=True,
                              eval_timeout_secs=1)
  with pytest.raises(evaluation.NoCheckpointError, match='no checkpoint appeared'):
    evaluation.evaluate(config)


def test_empty_folder_fails_clearly(tmp_path, mnist5k_dir):
  empty = tmp_path / 'empty'
  empty.mkdir()
  with pytest.raises(evaluation.NoCheckpointError, match='holds no checkpoint'):
    evaluation.evaluate(_lenet_eval_config(tmp_path, mnist5k_dir, str(empty)))


def test_checkpoint_of_another_model_fails_clearly(tmp_path, mnist5k_dir):
  checkpoint = _constant_lenet_checkpoint(str(tmp_path))
  config = _lenet_eval_config(tmp_path, mnist5k_dir, checkpoint, model_name='cifarnet',
                              eval_image_size=28)
  with pytest.raises(ValueError, match='is it a checkpoint of cifarnet'):
    evaluation.evaluate(config)


def test_moving_averages(tmp_path, mnist5k_dir):
  plain = _constant_lenet_checkpoint(str(tmp_path / 'plain'))
  config = _lenet_eval_config(tmp_path, mnist5k_dir, plain, moving_average_decay=0.9)
  with pytest.raises(ValueError, match='holds no moving averages'):
    evaluation.evaluate(config)
  averaged = _constant_lenet_checkpoint(str(tmp_path / 'averaged'), averages=True)
  config = _lenet_eval_config(tmp_path, mnist5k_dir, averaged, moving_average_decay=0.9)
  # The averages hold the same constant classifier.
  assert evaluation.evaluate(config)[0]['accuracy'] == pytest.approx(0.1)


def _export_config(**values):
  fv = flags.FlagValues()
  export_flags.define_export_flags(fv)
  fv(['export'] + [f'--{key}={value}' for key, value in values.items()])
  return export_flags.read_export_config(fv)


def _random_lenet_checkpoint(directory):
  with tf.Graph().as_default():
    images = tf1.placeholder(tf.float32, [None, 28, 28, 1])
    nets_factory.get_network_fn('lenet', num_classes=10)(images)
    tf1.train.get_or_create_global_step()
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      return tf1.train.Saver().save(sess, os.path.join(directory, 'model.ckpt'))


def test_graphdef_savedmodel_and_tflite_agree_with_the_checkpoint(tmp_path, mnist5k_dir):
  checkpoint = _random_lenet_checkpoint(str(tmp_path))
  batch = np.random.RandomState(0).uniform(-1, 1, [3, 28, 28, 1]).astype(np.float32)
  with tf.Graph().as_default():
    images = tf1.placeholder(tf.float32, [None, 28, 28, 1])
    logits, _ = nets_factory.get_network_fn('lenet', num_classes=10)(images)
    with tf1.Session() as sess:
      tf1.train.Saver().restore(sess, checkpoint)
      expected = sess.run(tf.nn.softmax(logits), {images: batch})

  config = _export_config(model_name='lenet', dataset_name='mnist5k', dataset_dir=mnist5k_dir,
                          checkpoint_path=checkpoint, use_grayscale=True,
                          output_file=str(tmp_path / 'lenet.pb'),
                          saved_model_dir=str(tmp_path / 'saved'),
                          tflite_file=str(tmp_path / 'lenet.tflite'))
  export.export(config)

  graph_def = tf1.GraphDef()
  graph_def.ParseFromString((tmp_path / 'lenet.pb').read_bytes())
  with tf.Graph().as_default():
    tf1.import_graph_def(graph_def, name='')
    with tf1.Session() as sess:
      frozen = sess.run('probabilities:0', {'input:0': batch})
  np.testing.assert_allclose(frozen, expected, rtol=1e-5, atol=1e-6)

  loaded = tf.saved_model.load(str(tmp_path / 'saved'))
  outputs = loaded.signatures['serving_default'](images=tf.constant(batch))
  np.testing.assert_allclose(outputs['probabilities'].numpy(), expected, rtol=1e-5, atol=1e-6)
  np.testing.assert_array_equal(outputs['top_k_classes'].numpy()[:, 0],
                                expected.argmax(axis=1))
  assert export.read_metadata(str(tmp_path / 'saved'))['labels']['3'] == '3'

  interpreter = tf.lite.Interpreter(model_path=str(tmp_path / 'lenet.tflite'))
  input_index = interpreter.get_input_details()[0]['index']
  interpreter.resize_tensor_input(input_index, batch.shape)
  interpreter.allocate_tensors()
  interpreter.set_tensor(input_index, batch)
  interpreter.invoke()
  by_name = {d['name']: d['index'] for d in interpreter.get_output_details()}
  probabilities = interpreter.get_tensor(
      next(index for name, index in by_name.items() if 'probabilities' in name))
  np.testing.assert_allclose(probabilities, expected, rtol=1e-4, atol=1e-5)


def test_export_needs_a_checkpoint_for_a_saved_model(tmp_path):
  config = _export_config(model_name='lenet', saved_model_dir=str(tmp_path / 'saved'))
  with pytest.raises(ValueError, match='need --checkpoint_path'):
    export.export(config)


def _classify_config(**values):
  fv = flags.FlagValues()
  classify_flags.define_classify_flags(fv)
  fv(['classify'] + [f'--{key}={value}' for key, value in values.items()])
  return classify_flags.read_classify_config(fv)


def _png(path, size=(40, 30), channels=1):
  image = np.random.RandomState(3).randint(0, 255, size + (channels,), dtype=np.uint8)
  tf.io.write_file(str(path), tf.io.encode_png(image))
  return str(path)


def test_classify_with_checkpoint_and_saved_model(tmp_path, mnist5k_dir):
  checkpoint = _constant_lenet_checkpoint(str(tmp_path))
  images = [_png(tmp_path / 'a.png'), _png(tmp_path / 'b.png', (10, 90), 3)]
  config = _classify_config(model_name='lenet', checkpoint_path=checkpoint,
                            dataset_dir=mnist5k_dir, top_k=3, use_grayscale=True)
  results = classify.classify(config, images)
  assert [p['label'] for p in results[0]['predictions']] == ['0', '1', '2']
  assert results[1]['predictions'][0]['probability'] > 0.5
  assert '0.' in classify.format_text(results)

  export.export(_export_config(model_name='lenet', dataset_name='mnist5k',
                               dataset_dir=mnist5k_dir, checkpoint_path=checkpoint,
                               use_grayscale=True, saved_model_dir=str(tmp_path / 'sm')))
  config = _classify_config(saved_model_dir=str(tmp_path / 'sm'), top_k=2)
  results = classify.classify(config, images[:1])
  assert [p['label'] for p in results[0]['predictions']] == ['0', '1']


def test_classify_rejects_an_unreadable_image(tmp_path, mnist5k_dir):
  checkpoint = _constant_lenet_checkpoint(str(tmp_path))
  bad = tmp_path / 'bad.png'
  bad.write_bytes(b'not an image')
  config = _classify_config(model_name='lenet', checkpoint_path=checkpoint,
                            dataset_dir=mnist5k_dir, use_grayscale=True)
  with pytest.raises(ValueError, match='bad.png: not a readable'):
    classify.classify(config, [str(bad)])


# Gray images of several sizes for LeNet's 28x28 crops: larger ones (corners differ from
# the centre), one narrower than 28 (padded), 2 per class of 3.
TEN_CROP_SIZES = ((32, 36), (30, 30), (28, 40), (34, 29), (26, 31), (40, 33))


def _ten_crop_dataset(tmp_path):
  """A 3-class image_folder dataset; returns (dataset_dir, [(uint8 image, label)])."""
  from datasets import convert_image_folder  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(5)
  examples = []
  for index, size in enumerate(TEN_CROP_SIZES):
    label = index % 3
    image = rng.randint(0, 256, size + (1,)).astype(np.uint8)
    for split in ('train', 'test'):
      folder = tmp_path / 'source' / split / f'class{label}'
      folder.mkdir(parents=True, exist_ok=True)
      (folder / f'{index}.png').write_bytes(tf.io.encode_png(image).numpy())
    examples.append((image, label))
  dataset_dir = str(tmp_path / 'dataset')
  convert_image_folder.convert(dataset_dir, source_dir=str(tmp_path / 'source'))
  return dataset_dir, examples


def _numpy_ten_crops(image, side=28):
  """LeNet's crops by hand: zero-pad (centred) to the crop side, centre, corners, mirrors."""
  height, width = image.shape[:2]
  top, left = max(side - height, 0) // 2, max(side - width, 0) // 2
  canvas = np.zeros([max(height, side), max(width, side), 1], np.float32)
  canvas[top:top + height, left:left + width] = image
  bottom, right = canvas.shape[0] - side, canvas.shape[1] - side
  five = [canvas[y:y + side, x:x + side] for y, x in
          ((bottom // 2, right // 2), (0, 0), (0, right), (bottom, 0), (bottom, right))]
  return (np.stack(five + [crop[:, ::-1] for crop in five]) - 128) / 128


def _reference_metrics(checkpoint, examples, num_crops):
  """Accuracy and loss of the softmax averaged over single-crop runs of the network."""
  with tf.Graph().as_default():
    images = tf1.placeholder(tf.float32, [None, 28, 28, 1])
    logits, _ = nets_factory.get_network_fn('lenet', num_classes=3)(images)
    with tf1.Session() as sess:
      tf1.train.Saver().restore(sess, checkpoint)
      correct, losses = 0, []
      for image, label in examples:
        crops = _numpy_ten_crops(image)[:num_crops]
        crop_logits = np.concatenate([sess.run(logits, {images: crop[np.newaxis]})
                                      for crop in crops])
        probabilities = np.exp(crop_logits - crop_logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        mean = probabilities.mean(axis=0)
        correct += int(np.argmax(mean) == label)
        losses.append(-np.log(mean[label]))
  return correct / len(examples), float(np.mean(losses))


def test_ten_crops_average_ten_single_crop_softmaxes(tmp_path):
  dataset_dir, examples = _ten_crop_dataset(tmp_path)
  with tf.Graph().as_default():
    tf1.set_random_seed(0)
    images = tf1.placeholder(tf.float32, [None, 28, 28, 1])
    nets_factory.get_network_fn('lenet', num_classes=3)(images)
    tf1.train.get_or_create_global_step()
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      checkpoint = tf1.train.Saver().save(sess, str(tmp_path / 'model.ckpt'))
  common = ['--model_name=lenet', '--dataset_name=image_folder',
            f'--dataset_dir={dataset_dir}', '--dataset_split_name=test', '--batch_size=4',
            f'--checkpoint_path={checkpoint}']

  # Through the script, as a user runs it.
  eval_dir = tmp_path / 'ten'
  done = subprocess.run(
      [sys.executable, os.path.join(REPO_ROOT, 'eval_image_classifier.py'), *common,
       f'--eval_dir={eval_dir}', '--eval_crops=10'],
      cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  ten = json.loads((eval_dir / evaluation.RESULTS_JSON).read_text())
  accuracy, loss = _reference_metrics(checkpoint, examples, 10)
  assert ten['eval_crops'] == 10 and ten['num_examples'] == 6
  assert ten['accuracy'] == pytest.approx(accuracy)
  assert ten['loss'] == pytest.approx(loss, rel=1e-5)

  # The single-crop evaluation is the centre crop alone, and measurably different.
  one = evaluation.evaluate(_eval_config(eval_dir=str(tmp_path / 'one'), **dict(
      arg[2:].split('=', 1) for arg in common)))[0]
  centre_accuracy, centre_loss = _reference_metrics(checkpoint, examples, 1)
  assert one['eval_crops'] == 1
  assert one['accuracy'] == pytest.approx(centre_accuracy)
  assert one['loss'] == pytest.approx(centre_loss, rel=1e-5)
  assert abs(centre_loss - loss) > 1e-3


@pytest.mark.parametrize('value', ['0', '3', '5'])
def test_eval_crops_other_than_1_or_10_is_refused(value):
  with pytest.raises(flags.IllegalFlagValueError, match='--eval_crops must be 1 or 10'):
    _eval_config(eval_crops=value)
  with pytest.raises(ValueError, match='--eval_crops must be 1 or 10'):
    evaluation.check_eval_crops(int(value))


def test_a_video_model_is_refused_in_one_line_before_any_work(tmp_path):
  config = _eval_config(model_name='s3dg', dataset_name='synthetic',
                        checkpoint_path=str(tmp_path), eval_dir=str(tmp_path / 'eval'))
  with pytest.raises(ValueError, match='s3dg is a video model: evaluation reads images'):
    evaluation.evaluate(config)


@pytest.mark.parametrize('define, read, config_class', [
    (eval_flags.define_eval_flags, eval_flags.read_eval_config, evaluation.EvalConfig),
    (export_flags.define_export_flags, export_flags.read_export_config, export.ExportConfig),
    (classify_flags.define_classify_flags, classify_flags.read_classify_config,
     classify.ClassifyConfig),
])
def test_a_config_without_flags_is_the_scripts_defaults(define, read, config_class):
  fv = flags.FlagValues()
  define(fv)
  fv(['script'])
  assert read(fv) == config_class()
  fv(['script', '--use_grayscale=false'])
  assert read(fv).use_grayscale_given  # then it binds, though it is the default value
