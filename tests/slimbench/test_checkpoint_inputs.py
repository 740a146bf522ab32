"""Evaluation, export and classification take the input the checkpoint was trained on.

The README's commands as a user runs them, on LeNet trained on mnist5k (one channel),
without --use_grayscale; a contradicting --use_grayscale names what differs in one line;
a benchmark-runner checkpoint (mobilenet_v1, 32x32 through LeNet's preprocessing) is
evaluated at another size; `Evaluation [k/N]` progress.
"""

import io
import json
import os
import re
import subprocess
import sys

from absl import flags
import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from nets import nets_factory
from slimbench import checkpoint_inputs
from slimbench import classify
from slimbench import classify_flags
from slimbench import eval_flags
from slimbench import evaluation
from slimbench import export
from slimbench import export_flags

tf1 = tf.compat.v1
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MISMATCH = 'has 1 input channel, the flags ask for 3 (--use_grayscale=false)'


def _run(script, *args):
  env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL='2')
  return subprocess.run([sys.executable, os.path.join(REPO_ROOT, script), *args], env=env,
                        capture_output=True, text=True, timeout=300, check=False)


def _ok(result):
  assert result.returncode == 0, result.stderr[-3000:]
  return result


def _last_line(result):
  assert result.returncode != 0, result.stderr[-3000:]
  assert 'Traceback' not in result.stderr, result.stderr[-3000:]
  return result.stderr.strip().splitlines()[-1]


@pytest.fixture(scope='module')
def lenet_dir(tmp_path_factory, mnist5k_dir):
  """LeNet trained as the README's Train command says (two steps instead of 1000)."""
  train_dir = str(tmp_path_factory.mktemp('lenet'))
  _ok(_run('train_image_classifier.py', f'--train_dir={train_dir}', '--model_name=lenet',
           '--dataset_name=mnist5k', f'--dataset_dir={mnist5k_dir}', '--optimizer=momentum',
           '--learning_rate=0.01', '--weight_decay=0', '--batch_size=32',
           '--max_number_of_steps=2'))
  return train_dir


def _digit_png(path):
  pixels = np.zeros([28, 28], np.uint8)
  pixels[6:22, 12:16] = 255  # a one
  buffer = io.BytesIO()
  Image.fromarray(pixels).save(buffer, 'PNG')
  path.write_bytes(buffer.getvalue())
  return str(path)


def test_readme_export_and_classify_take_one_channel_from_the_checkpoint(
    tmp_path, lenet_dir, mnist5k_dir):
  saved_model = tmp_path / 'lenet_sm'
  graph_file = tmp_path / 'lenet.pb'
  # README, Commands: Export and classify (paths moved under tmp_path).
  _ok(_run('export_inference_graph.py', '--model_name=lenet', '--dataset_name=mnist5k',
           f'--dataset_dir={mnist5k_dir}', f'--checkpoint_path={lenet_dir}',
           f'--saved_model_dir={saved_model}', f'--tflite_file={tmp_path / "lenet.tflite"}',
           f'--output_file={graph_file}'))
  with open(saved_model / 'assets.extra' / 'slimbench.json') as f:
    assert json.load(f)['channels'] == 1
  graph_def = tf1.GraphDef()
  graph_def.ParseFromString(graph_file.read_bytes())
  placeholder = next(node for node in graph_def.node if node.name == 'input')
  assert placeholder.attr['shape'].shape.dim[-1].size == 1

  digit = _digit_png(tmp_path / 'some_digit.png')
  by_saved_model = json.loads(_ok(_run(
      'classify_image.py', f'--saved_model_dir={saved_model}', '--output_format=json',
      digit)).stdout)
  # classify_image.py's docstring example.
  by_checkpoint = json.loads(_ok(_run(
      'classify_image.py', '--model_name=lenet', f'--checkpoint_path={lenet_dir}',
      f'--dataset_dir={mnist5k_dir}', '--output_format=json', digit)).stdout)
  for exported, direct in zip(by_saved_model[0]['predictions'],
                              by_checkpoint[0]['predictions']):
    assert exported['class'] == direct['class'] and exported['label'] == direct['label']
    assert exported['probability'] == pytest.approx(direct['probability'], abs=1e-5)


def test_readme_evaluation_logs_progress_and_its_result(tmp_path, lenet_dir, mnist5k_dir):
  # README, Commands: Evaluate; 500 test examples in batches of 100.
  result = _ok(_run('eval_image_classifier.py', f'--checkpoint_path={lenet_dir}',
                    f'--eval_dir={tmp_path / "eval"}', '--model_name=lenet',
                    '--dataset_name=mnist5k', '--dataset_split_name=test',
                    f'--dataset_dir={mnist5k_dir}'))
  progress = [line.split('] ', 1)[1] for line in result.stderr.splitlines()
              if '] Evaluation [' in line]
  assert [line.split(',')[0] for line in progress] == [
      f'Evaluation [{k}/5]' for k in range(1, 6)], result.stderr[-3000:]
  assert progress[-1].endswith('ETA 0:00')
  assert 'on 500 examples (28x28, lenet preprocessing' in result.stderr
  with open(tmp_path / 'eval' / 'eval_results.json') as f:
    assert json.load(f)['num_examples'] == 500


def test_a_contradicting_use_grayscale_says_what_differs(tmp_path, lenet_dir, mnist5k_dir):
  last = _last_line(_run('export_inference_graph.py', '--model_name=lenet',
                         f'--checkpoint_path={lenet_dir}', '--nouse_grayscale',
                         f'--output_file={tmp_path / "lenet.pb"}'))
  assert last.startswith('export_inference_graph.py: checkpoint ') and last.endswith(
      MISMATCH), last
  assert not (tmp_path / 'lenet.pb').exists()
  _ok(_run('export_inference_graph.py', '--model_name=lenet', f'--checkpoint_path={lenet_dir}',
           '--use_grayscale', f'--output_file={tmp_path / "lenet.pb"}'))  # agreeing: fine
  # The same check in evaluation and classification (in-process: the scripts print the
  # message after their name, as export's does above).
  fv = flags.FlagValues()
  eval_flags.define_eval_flags(fv)
  fv(['eval', f'--checkpoint_path={lenet_dir}', f'--eval_dir={tmp_path / "eval"}',
      '--model_name=lenet', '--dataset_name=mnist5k', f'--dataset_dir={mnist5k_dir}',
      '--preprocessing_name=inception', '--use_grayscale=false'])
  with pytest.raises(ValueError, match=r'^checkpoint .*' + re.escape(MISMATCH) + '$'):
    evaluation.evaluate(eval_flags.read_eval_config(fv))
  fv = flags.FlagValues()
  classify_flags.define_classify_flags(fv)
  fv(['classify', '--model_name=lenet', f'--checkpoint_path={lenet_dir}',
      '--nouse_grayscale'])
  with pytest.raises(ValueError, match=r'^checkpoint .*' + re.escape(MISMATCH) + '$'):
    classify.classify(classify_flags.read_classify_config(fv),
                      [_digit_png(tmp_path / 'digit.png')])


def test_a_benchmark_runner_checkpoint_evaluates_at_another_size(tmp_path, mnist5k_dir):
  """The runner's main job trains 32x32 grayscale through LeNet's preprocessing."""
  train_dir = tmp_path / 'mobilenet_v1'
  _ok(_run('train_image_classifier.py', f'--train_dir={train_dir}',
           '--model_name=mobilenet_v1', '--dataset_name=mnist5k',
           f'--dataset_dir={mnist5k_dir}', '--preprocessing_name=lenet',
           '--train_image_size=32', '--batch_size=2', '--max_number_of_steps=1',
           '--num_readers=1', '--num_preprocessing_threads=1'))
  eval_dir = tmp_path / 'eval'
  result = _ok(_run('eval_image_classifier.py', '--model_name=mobilenet_v1',
                    '--eval_image_size=128', f'--checkpoint_path={train_dir}',
                    f'--eval_dir={eval_dir}', '--dataset_name=mnist5k',
                    f'--dataset_dir={mnist5k_dir}', '--batch_size=8', '--max_num_batches=1'))
  assert '--preprocessing_name=lenet, as' in result.stderr  # said, not silently taken
  with open(eval_dir / 'eval_results.json') as f:
    results = json.load(f)
  assert (results['image_size'], results['preprocessing'], results['num_examples']) == (
      128, 'lenet', 8)


def _lenet_checkpoint(directory, channels, conv1_weights):
  """LeNet with the given first-layer weights, every other variable seeded alike."""
  with tf.Graph().as_default():
    tf1.set_random_seed(3)
    images = tf1.placeholder(tf.float32, [1, 28, 28, channels])
    nets_factory.get_network_fn('lenet', num_classes=10)(images)
    tf1.train.get_or_create_global_step()
    variables = {v.op.name: v for v in tf1.global_variables()}
    with tf1.Session() as session:
      session.run(tf1.global_variables_initializer())
      variables['LeNet/conv1/weights'].load(conv1_weights, session)
      return tf1.train.Saver().save(session, os.path.join(directory, 'model.ckpt'),
                                    global_step=1)


def test_a_colour_checkpoint_sees_grayscale_digits_as_rgb(tmp_path, mnist5k_dir):
  """LeNet's preprocessing keeps MNIST's one channel; a network trained on colour gets it
  repeated: with the first layer's weights split evenly over R, G and B it must score
  exactly as the one-channel network with the whole weights."""
  gray_weights = np.random.RandomState(0).normal(0, 0.1, [5, 5, 1, 32]).astype(np.float32)
  gray = _lenet_checkpoint(str(tmp_path / 'gray'), 1, gray_weights)
  colour = _lenet_checkpoint(str(tmp_path / 'colour'), 3,
                             np.repeat(gray_weights / 3, 3, axis=2))
  results = []
  for checkpoint in (gray, colour):
    fv = flags.FlagValues()
    eval_flags.define_eval_flags(fv)
    fv(['eval', f'--checkpoint_path={checkpoint}', f'--eval_dir={tmp_path / "eval"}',
        '--model_name=lenet', '--dataset_name=mnist5k', f'--dataset_dir={mnist5k_dir}',
        '--batch_size=50', '--max_num_batches=2'])
    results.append(evaluation.evaluate(eval_flags.read_eval_config(fv))[0])
  assert results[0]['num_examples'] == results[1]['num_examples'] == 100
  assert results[0]['accuracy'] == results[1]['accuracy']
  assert results[0]['loss'] == pytest.approx(results[1]['loss'], rel=1e-5)


def test_the_input_convolution_is_found_for_every_registered_network():
  for name in nets_factory.list_models():
    variable = checkpoint_inputs.input_conv_variable(name)
    assert variable and variable.endswith('weights'), (name, variable)


def test_progress_is_logged_a_tenth_apart_and_when_slow(monkeypatch):
  logged = []
  monkeypatch.setattr(evaluation.logging, 'info', lambda fmt, *args: logged.append(
      fmt % args))
  now = [0.0]
  progress = evaluation.Progress(100, clock=lambda: now[0])
  for done in range(1, 101):
    now[0] += 2.0 if done != 55 else 40.0  # batch 55 is slow
    progress.batch_done(done)
  counts = [int(line.split('[')[1].split('/')[0]) for line in logged]
  assert counts == [10, 20, 30, 40, 50, 55, 60, 70, 80, 90, 100]
  assert logged[0] == 'Evaluation [10/100], 0:20 elapsed, ETA 3:00'
  assert logged[-1].endswith('ETA 0:00')
  short = []
  monkeypatch.setattr(evaluation.logging, 'info', lambda fmt, *args: short.append(
      fmt % args))
  progress = evaluation.Progress(3, clock=lambda: 0.0)
  for done in range(1, 4):
    progress.batch_done(done)
  assert [line.split(',')[0] for line in short] == [
      'Evaluation [1/3]', 'Evaluation [2/3]', 'Evaluation [3/3]']


def test_export_without_a_checkpoint_takes_the_channels_of_the_dataset(tmp_path,
                                                                       mnist5k_dir):
  """No checkpoint: LeNet's preprocessing keeps mnist5k's one channel; cifarnet's makes
  three; with neither a checkpoint nor a dataset, TF-Slim's three."""
  for model_name, extra, channels in (('lenet', {'dataset_dir': mnist5k_dir}, 1),
                                      ('cifarnet', {'dataset_dir': mnist5k_dir}, 3),
                                      ('lenet', {}, 3)):
    fv = flags.FlagValues()
    export_flags.define_export_flags(fv)
    output = tmp_path / f'{model_name}-{channels}.pb'
    fv(['export', f'--model_name={model_name}', '--dataset_name=mnist5k',
        f'--output_file={output}'] + [f'--{key}={value}' for key, value in extra.items()])
    export.export(export_flags.read_export_config(fv))
    graph_def = tf1.GraphDef()
    graph_def.ParseFromString(output.read_bytes())
    placeholder = next(node for node in graph_def.node if node.name == 'input')
    assert placeholder.attr['shape'].shape.dim[-1].size == channels, (model_name, extra)


def test_another_image_size_than_training_says_so(tmp_path, lenet_dir, mnist5k_dir):
  """LeNet's fc3 fits only the 28x28 it was trained on (the README trains at the default
  size: flags.txt holds no --train_image_size)."""
  fv = flags.FlagValues()
  eval_flags.define_eval_flags(fv)
  fv(['eval', f'--checkpoint_path={lenet_dir}', f'--eval_dir={tmp_path / "eval"}',
      '--model_name=lenet', '--dataset_name=mnist5k', f'--dataset_dir={mnist5k_dir}',
      '--eval_image_size=32'])
  expected = (r'^checkpoint .* was trained on 28x28 images \(its folder\'s flags\.txt\) '
              r'and its LeNet/fc3/weights fits only that size, the flags ask for 32x32 '
              r'\(--{}=32\)$')
  with pytest.raises(ValueError, match=expected.format('eval_image_size')):
    evaluation.evaluate(eval_flags.read_eval_config(fv))
  fv = flags.FlagValues()
  classify_flags.define_classify_flags(fv)
  fv(['classify', '--model_name=lenet', f'--checkpoint_path={lenet_dir}', '--image_size=32'])
  with pytest.raises(ValueError, match=expected.format('image_size')):
    classify.classify(classify_flags.read_classify_config(fv),
                      [_digit_png(tmp_path / 'digit.png')])
