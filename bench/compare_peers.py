"""Training or inference images/sec of our nets beside TF-Slim's own graphs and Keras.

Each measurement runs in its own process, and the implementations take turns (ours,
TF-Slim, Keras, ours, ...) for --repeats rounds, so that a slow spell of the machine hits
all of them alike. Prints a Markdown table of medians with the ratio of ours to each peer.

TF-Slim's own graphs are the `tf_slim.nets` modules inside the tf-slim wheel (alexnet_v2,
vgg, overfeat, inception v1-v3, resnet v1/v2); their `slim.batch_norm` fails on TF 2.21, so
it is replaced by our `nets.layers.batch_norm` for the measurement. They are a yardstick
here, nothing more.

Usage (from the repository root, on an otherwise idle machine):
  .venv/bin/python bench/compare_peers.py --nets=alexnet_v2,inception_v1,resnet_v1_50 \
      --batch_size=32 --mode=train --timed_steps=10 --repeats=3
"""

import json
import os
import statistics
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# Sets TensorFlow's runtime defaults (oneDNN) before TensorFlow loads, for every peer alike.
import slimbench  # pylint: disable=g-import-not-at-top,unused-import

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags  # pylint: disable=g-import-not-at-top

flags.DEFINE_list('nets', ['alexnet_v2', 'inception_v1', 'resnet_v1_50', 'vgg_16'],
                  'Registered names to measure.')
flags.DEFINE_list('peers', ['tf_slim', 'keras'], 'Peers to measure beside ours.')
flags.DEFINE_integer('batch_size', 32, 'Images per step.', lower_bound=1)
flags.DEFINE_enum('mode', 'train', ['train', 'inference'], 'What a step does.')
flags.DEFINE_integer('warmup_steps', 2, 'Untimed steps after the first.', lower_bound=0)
flags.DEFINE_integer('timed_steps', 10, 'Timed steps per measurement.', lower_bound=1)
flags.DEFINE_integer('repeats', 3, 'Rounds of interleaved measurements.', lower_bound=1)
flags.DEFINE_string('worker', None, 'Internal: measure one JSON spec and print its result.')

# Keras applications for the nets that have one (Keras 3 on the TensorFlow backend).
KERAS_MODELS = {'vgg_16': 'VGG16', 'vgg_19': 'VGG19', 'resnet_v1_50': 'ResNet50',
                'resnet_v1_101': 'ResNet101', 'resnet_v1_152': 'ResNet152',
                'resnet_v2_50': 'ResNet50V2', 'inception_v3': 'InceptionV3',
                'inception_resnet_v2': 'InceptionResNetV2', 'mobilenet_v1': 'MobileNet',
                'mobilenet_v2': 'MobileNetV2'}
TF_SLIM_MODELS = {'alexnet_v2': ('alexnet', 'alexnet_v2'), 'vgg_a': ('vgg', 'vgg_a'),
                  'vgg_16': ('vgg', 'vgg_16'), 'vgg_19': ('vgg', 'vgg_19'),
                  'overfeat': ('overfeat', 'overfeat'),
                  'inception_v1': ('inception', 'inception_v1'),
                  'inception_v2': ('inception', 'inception_v2'),
                  'inception_v3': ('inception', 'inception_v3'),
                  'resnet_v1_50': ('resnet_v1', 'resnet_v1_50'),
                  'resnet_v1_101': ('resnet_v1', 'resnet_v1_101'),
                  'resnet_v2_50': ('resnet_v2', 'resnet_v2_50')}


def _time_steps(run_step, warmup, timed):
  """Times `timed` calls of `run_step()` after the first and `warmup` more."""
  from slimbench import benchmark_worker  # pylint: disable=g-import-not-at-top
  for _ in range(1 + warmup):
    run_step()
  return benchmark_worker.time_steps(run_step, timed)


def _time_session_steps(step_op, warmup, timed):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf1 = tf.compat.v1
  with tf1.Session() as session:
    session.run([tf1.global_variables_initializer(), tf1.local_variables_initializer()])
    return _time_steps(lambda: session.run(step_op), warmup, timed)


def _graph_step(build, spec, num_classes):
  """A train or inference step of `build(images) -> logits` on variable-held inputs."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  tf1 = tf.compat.v1
  size, batch = spec['image_size'], spec['batch_size']
  images = tf1.get_local_variable('images', initializer=tf1.random_uniform(
      [batch, size, size, 3], -1, 1), trainable=False)
  labels = tf1.get_local_variable('labels', initializer=tf1.random_uniform(
      [batch], 0, num_classes, tf.int64), trainable=False)
  logits, end_points = build(images)
  if spec['mode'] == 'inference':
    return tf.reduce_sum(logits)
  logits = tf.reshape(logits, [batch, -1])
  loss = tf1.losses.sparse_softmax_cross_entropy(labels, logits)
  if 'AuxLogits' in end_points:
    loss += 0.4 * tf1.losses.sparse_softmax_cross_entropy(
        labels, tf.reshape(end_points['AuxLogits'], [batch, -1]))
  with tf.control_dependencies(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)):
    return tf1.train.MomentumOptimizer(0.01, 0.9).minimize(
        loss, tf1.train.get_or_create_global_step())


def measure_ours(spec):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from nets import nets_factory  # pylint: disable=g-import-not-at-top
  info = nets_factory.model_info(spec['net'])
  with tf.Graph().as_default():
    network_fn = nets_factory.get_network_fn(spec['net'], info.num_classes,
                                             weight_decay=4e-5,
                                             is_training=spec['mode'] == 'train')
    step = _graph_step(network_fn, spec, info.num_classes)
    return _time_session_steps(step, spec['warmup_steps'], spec['timed_steps'])


def measure_tf_slim(spec):
  import importlib  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tf_slim  # pylint: disable=g-import-not-at-top
  from nets import layers  # pylint: disable=g-import-not-at-top
  from nets import nets_factory  # pylint: disable=g-import-not-at-top
  # The shim: tf_slim's batch_norm imports a Keras module TF 2.21 no longer has. Ours is
  # always fused, so TF-Slim's `fused` argument has nothing left to choose.
  @tf_slim.add_arg_scope
  def batch_norm(inputs, fused=None, **kwargs):
    del fused
    return layers.batch_norm(inputs, **kwargs)
  tf_slim.batch_norm = batch_norm
  tf_slim.layers.batch_norm = batch_norm
  module_name, function_name = TF_SLIM_MODELS[spec['net']]
  module = importlib.import_module(f'tf_slim.nets.{module_name}')
  builder = getattr(module, function_name)
  scope_name = {'alexnet': 'alexnet_v2_arg_scope', 'vgg': 'vgg_arg_scope',
                'overfeat': 'overfeat_arg_scope', 'resnet_v1': 'resnet_arg_scope',
                'resnet_v2': 'resnet_arg_scope'}.get(module_name)
  arg_scope = getattr(module, scope_name) if scope_name else getattr(
      module, f'{function_name}_arg_scope')
  num_classes = nets_factory.model_info(spec['net']).num_classes
  with tf.Graph().as_default():
    def build(images):
      with tf_slim.arg_scope(arg_scope(weight_decay=4e-5)):
        return builder(images, num_classes=num_classes,
                       is_training=spec['mode'] == 'train')
    step = _graph_step(build, spec, num_classes)
    return _time_session_steps(step, spec['warmup_steps'], spec['timed_steps'])


def measure_keras(spec):
  import numpy as np  # pylint: disable=g-import-not-at-top
  import keras  # pylint: disable=g-import-not-at-top
  size, batch = spec['image_size'], spec['batch_size']
  constructor = getattr(keras.applications, KERAS_MODELS[spec['net']])
  model = constructor(weights=None, input_shape=(size, size, 3), classes=1000)
  images = np.random.uniform(-1, 1, (batch, size, size, 3)).astype(np.float32)
  labels = np.random.randint(0, 1000, (batch,))
  if spec['mode'] == 'train':
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss='sparse_categorical_crossentropy')
    step = lambda: model.train_on_batch(images, labels)
  else:
    step = lambda: model.predict_on_batch(images)
  return _time_steps(step, spec['warmup_steps'], spec['timed_steps'])


MEASURES = {'ours': measure_ours, 'tf_slim': measure_tf_slim, 'keras': measure_keras}


def _available(peer, net):
  return (peer == 'ours' or (peer == 'tf_slim' and net in TF_SLIM_MODELS) or
          (peer == 'keras' and net in KERAS_MODELS))


def _run_worker(spec):
  command = [sys.executable, os.path.abspath(__file__), f'--worker={json.dumps(spec)}']
  done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
  lines = [l for l in done.stdout.splitlines() if l.startswith('RESULT ')]
  if done.returncode or not lines:
    tail = (done.stderr.strip().splitlines() or ['no output'])[-1]
    return {'error': tail}
  return json.loads(lines[-1][len('RESULT '):])


def main(argv):
  del argv
  fv = flags.FLAGS
  if fv.worker:
    spec = json.loads(fv.worker)
    times = MEASURES[spec['peer']](spec)
    rates = [spec['batch_size'] / t for t in times]
    print('RESULT ' + json.dumps({'images_per_sec': statistics.median(rates)}))
    return
  sys.path.insert(0, REPO_ROOT)
  from nets import nets_factory  # pylint: disable=g-import-not-at-top
  peers = ['ours'] + [p for p in fv.peers if p != 'ours']
  measured = {}
  for round_index in range(fv.repeats):
    for net in fv.nets:
      size = nets_factory.model_info(net).default_image_size
      for peer in peers:
        if not _available(peer, net):
          continue
        spec = {'peer': peer, 'net': net, 'image_size': size, 'batch_size': fv.batch_size,
                'mode': fv.mode, 'warmup_steps': fv.warmup_steps,
                'timed_steps': fv.timed_steps}
        result = _run_worker(spec)
        value = result.get('images_per_sec')
        print(f'round {round_index + 1}/{fv.repeats} {net} {peer}: '
              f'{value if value is not None else result["error"]}', flush=True)
        if value is not None:
          measured.setdefault((net, peer), []).append(value)
  header = ['net', 'size'] + [f'{p} img/s' for p in peers] + [
      f'ours / {p}' for p in peers if p != 'ours']
  print(f'\n{fv.mode}, batch {fv.batch_size}, median of {fv.repeats} rounds of '
        f'{fv.timed_steps} steps\n')
  print('| ' + ' | '.join(header) + ' |')
  print('|' + '---|' * len(header))
  for net in fv.nets:
    medians = {p: statistics.median(measured[(net, p)]) for p in peers
               if (net, p) in measured}
    cells = [net, str(nets_factory.model_info(net).default_image_size)]
    cells += [f'{medians[p]:.2f}' if p in medians else '—' for p in peers]
    cells += [f'{medians["ours"] / medians[p]:.2f}' if p in medians and 'ours' in medians
              else '—' for p in peers if p != 'ours']
    print('| ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
  app.run(main)
