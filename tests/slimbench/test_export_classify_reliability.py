"""export_inference_graph.py keeps what it did not write; classify_image.py takes every
model and every image that the dataset converters take."""

import io
import os
import resource
import subprocess
import sys

from absl import flags
import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from nets import nets_factory
from slimbench import classify
from slimbench import classify_flags
from slimbench import export
from slimbench import export_flags

tf1 = tf.compat.v1

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run_script(script, *args):
  env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL='2')
  return subprocess.run([sys.executable, os.path.join(REPO_ROOT, script), *args], env=env,
                        capture_output=True, text=True, timeout=300, check=False)


def _random_checkpoint(directory, model_name, image_size, channels=3, num_classes=3):
  with tf.Graph().as_default():
    images = tf1.placeholder(tf.float32, [1, image_size, image_size, channels])
    nets_factory.get_network_fn(model_name, num_classes=num_classes)(images)
    tf1.train.get_or_create_global_step()
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      return tf1.train.Saver().save(sess, os.path.join(directory, 'model.ckpt'),
                                    global_step=1)


def _export_config(**values):
  fv = flags.FlagValues()
  export_flags.define_export_flags(fv)
  fv(['export'] + [f'--{key}={value}' for key, value in values.items()])
  return export_flags.read_export_config(fv)


def _tree(directory):
  """{relative path: bytes} of every file under `directory`."""
  found = {}
  for root, _, names in os.walk(directory):
    for name in names:
      path = os.path.join(root, name)
      with open(path, 'rb') as f:
        found[os.path.relpath(path, directory)] = f.read()
  return found


# ----- Export never replaces what it did not write -----

def test_export_into_a_training_folder_refuses_and_keeps_every_checkpoint(tmp_path):
  train_dir = tmp_path / 'train'
  checkpoint = _random_checkpoint(str(train_dir), 'lenet', 28, channels=1, num_classes=10)
  before = _tree(train_dir)
  result = _run_script('export_inference_graph.py', '--model_name=lenet', '--use_grayscale',
                       f'--checkpoint_path={checkpoint}', f'--saved_model_dir={train_dir}')
  assert result.returncode != 0, result.stderr
  last = result.stderr.strip().splitlines()[-1]
  assert (f'--saved_model_dir={train_dir} exists and is not a SavedModel' in last and
          '--overwrite' in last and 'model.ckpt-1' in last), result.stderr
  assert 'Traceback' not in result.stderr, result.stderr
  assert _tree(train_dir) == before
  assert sorted(os.listdir(tmp_path)) == ['train']  # no temporary folder left behind


def test_an_earlier_export_is_replaced_and_anything_else_needs_overwrite(tmp_path):
  checkpoint = _random_checkpoint(str(tmp_path / 'train'), 'lenet', 28, channels=1,
                                  num_classes=10)
  saved, graph_file, tflite = (tmp_path / 'sm', tmp_path / 'lenet.pb',
                               tmp_path / 'lenet.tflite')

  def run(**extra):
    export.export(_export_config(model_name='lenet', use_grayscale=True,
                                 checkpoint_path=checkpoint, saved_model_dir=saved,
                                 output_file=graph_file, tflite_file=tflite, **extra))

  saved.mkdir()  # an empty folder holds nothing to lose
  run()
  first = _tree(saved)
  run()  # the earlier export, recognised by its slimbench.json, is replaced
  assert _tree(saved).keys() == first.keys()
  assert sorted(os.listdir(tmp_path)) == ['lenet.pb', 'lenet.tflite', 'sm', 'train']

  (saved / 'notes.txt').write_text('mine')
  with pytest.raises(ValueError, match=r'--saved_model_dir=.*holds notes\.txt.*--overwrite'):
    run()
  assert (saved / 'notes.txt').read_text() == 'mine'

  (saved / 'notes.txt').unlink()
  graph_file.write_text('my own file')
  with pytest.raises(ValueError, match='--output_file=.* not a GraphDef it exported'):
    run()
  assert graph_file.read_text() == 'my own file'
  graph_file.unlink()
  tflite.write_bytes(b'not a model')
  with pytest.raises(ValueError, match='--tflite_file=.* not a TFLite model it exported'):
    run()

  (saved / 'notes.txt').write_text('mine')
  run(overwrite=True)
  assert not (saved / 'notes.txt').exists() and tflite.read_bytes()[4:8] == b'TFL3'
  assert 'notes.txt' not in ''.join(os.listdir(tmp_path))


def _limit_file_size():
  # Writes past 5 MB fail with EFBIG, as on a full disk (LeNet's weights take 13 MB).
  resource.setrlimit(resource.RLIMIT_FSIZE, (5 << 20, 5 << 20))


def test_a_full_disk_or_an_unwritable_path_is_named_in_one_line(tmp_path):
  checkpoint = _random_checkpoint(str(tmp_path / 'train'), 'lenet', 28, channels=1,
                                  num_classes=10)
  saved = tmp_path / 'sm'
  env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL='2')
  result = subprocess.run(
      [sys.executable, os.path.join(REPO_ROOT, 'export_inference_graph.py'),
       '--model_name=lenet', f'--checkpoint_path={checkpoint}', f'--saved_model_dir={saved}'],
      env=env, capture_output=True, text=True, timeout=300, check=False,
      preexec_fn=_limit_file_size)
  assert result.returncode == 1
  assert 'Traceback' not in result.stderr, result.stderr[-3000:]
  last = result.stderr.strip().splitlines()[-1]
  assert f'cannot write {saved}: ' in last and 'File too large' in last, result.stderr
  assert sorted(os.listdir(tmp_path)) == ['train']  # no temporary folder left behind

  not_a_folder = tmp_path / 'train' / 'checkpoint' / 'lenet.pb'
  result = _run_script('export_inference_graph.py', '--model_name=lenet',
                       f'--checkpoint_path={checkpoint}', f'--output_file={not_a_folder}')
  assert result.returncode == 1
  assert 'Traceback' not in result.stderr, result.stderr[-3000:]
  assert f'cannot write {not_a_folder}: ' in result.stderr.strip().splitlines()[-1]


# ----- Classification with every preprocessing, on every kind of image -----

def _image_file(path, pixels, image_format, mode):
  image = Image.fromarray(pixels).convert(mode)
  buffer = io.BytesIO()
  image.save(buffer, image_format)
  path.write_bytes(buffer.getvalue())
  return str(path)


def _unusual_images(directory):
  """Images the converter accepts but TensorFlow's decoder alone does not handle alike."""
  rng = np.random.RandomState(0)
  pixels = rng.randint(0, 256, (37, 45, 3), dtype=np.uint8)
  return [_image_file(directory / 'cmyk.jpg', pixels, 'JPEG', 'CMYK'),
          _image_file(directory / 'gray.png', pixels, 'PNG', 'L'),
          _image_file(directory / 'rgba.png', pixels, 'PNG', 'RGBA')]


def _classify_config(**values):
  fv = flags.FlagValues()
  classify_flags.define_classify_flags(fv)
  fv(['classify'] + [f'--{key}={value}' for key, value in values.items()])
  return classify_flags.read_classify_config(fv)


# One model per preprocessing, the smallest registered with it; image summaries are
# written by the cifarnet and inception preprocessing. The smallest model with the alexnet
# preprocessing has 58 M parameters, so that preprocessing runs before cifarnet here.
@pytest.mark.parametrize('model_name, preprocessing_name', [
    ('lenet', None),
    ('cifarnet', None),
    ('mobilenet_v1_025', None),  # inception preprocessing
    ('resnet_v1_50', None),  # vgg preprocessing
    ('cifarnet', 'alexnet'),
])
def test_classify_with_every_preprocessing_and_unusual_images(tmp_path, model_name,
                                                              preprocessing_name):
  checkpoint = _random_checkpoint(str(tmp_path), model_name, 32)
  paths = _unusual_images(tmp_path)
  settings = dict(model_name=model_name, checkpoint_path=checkpoint, image_size=32, top_k=3)
  if preprocessing_name:
    settings['preprocessing_name'] = preprocessing_name
  results = classify.classify(_classify_config(**settings), paths)
  assert [result['image'] for result in results] == paths
  for result in results:
    probabilities = [p['probability'] for p in result['predictions']]
    assert sorted(p['class'] for p in result['predictions']) == [0, 1, 2]
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-4)


def test_a_video_model_is_refused_in_one_line(tmp_path):
  video = [name for name in nets_factory.list_models()
           if getattr(nets_factory.model_info(name), 'is_video_model', False)]
  if not video:
    pytest.skip('no video model registered')
  for name in video:
    with pytest.raises(ValueError, match=f'{name} is a video model'):
      classify.classify(_classify_config(model_name=name, checkpoint_path=str(tmp_path)),
                        [str(tmp_path / 'a.png')])


def test_classify_image_script_with_an_exported_cifarnet(tmp_path):
  """The issue's case: a SavedModel of a model whose preprocessing writes summaries."""
  checkpoint = _random_checkpoint(str(tmp_path / 'train'), 'cifarnet', 32, num_classes=10)
  export.export(_export_config(model_name='cifarnet', checkpoint_path=checkpoint,
                               saved_model_dir=tmp_path / 'sm'))
  paths = _unusual_images(tmp_path)
  result = _run_script('classify_image.py', f'--saved_model_dir={tmp_path / "sm"}',
                       '--top_k=2', *paths)
  assert result.returncode == 0, result.stderr
  assert all(f'{path}:' in result.stdout for path in paths), result.stdout

  bad = tmp_path / 'truncated.jpg'
  bad.write_bytes((tmp_path / 'cmyk.jpg').read_bytes()[:300])
  result = _run_script('classify_image.py', f'--saved_model_dir={tmp_path / "sm"}', str(bad))
  assert result.returncode != 0
  assert result.stderr.strip().splitlines()[-1].startswith(
      f'classify_image.py: {bad}: not a readable image'), result.stderr
