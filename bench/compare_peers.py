"""Training or inference images/sec of our nets beside TF-Slim's graphs, Keras and PyTorch.

Each measurement runs in its own process, and the implementations take turns (ours,
TF-Slim, Keras, PyTorch, ours, ...) for --repeats rounds, so that a slow spell of the
machine hits all of them alike. Prints the CPU model and a Markdown table of medians, every
peer side by side, with the ratio of ours to each peer.

TF-Slim's own graphs are the `tf_slim.nets` modules inside the tf-slim wheel (alexnet_v2,
vgg, overfeat, inception v1-v3, resnet v1/v2); their `slim.batch_norm` fails on TF 2.21, so
it is replaced by our `nets.layers.batch_norm` for the measurement. They are a yardstick
here, nothing more.

PyTorch is optional: `bench/setup_peers.sh` installs torch and torchvision (CPU builds
from PyTorch's index where it is reachable) and timm into .venv; without them the table
lists it as not installed. Its models are the nearest torchvision or timm ones
(PYTORCH_MODELS), eager, in channels_last memory format; a training step is forward,
cross-entropy, backward and an SGD momentum step, an inference step a forward pass under
`torch.inference_mode()`. Its intra-op threads are, unless --pytorch_threads says, the
fastest of a short probe per net (one process per setting); the table records the setting
used.

Usage (from the repository root, on an otherwise idle machine):
  bench/setup_peers.sh  # once, for the PyTorch peer
  .venv/bin/python bench/compare_peers.py --nets=alexnet_v2,inception_v1,resnet_v1_50 \
      --peers=tf_slim,keras,pytorch --batch_size=32 --mode=train --timed_steps=10 --repeats=3
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
from slimbench.runtime_tuning import usable_cores  # pylint: disable=g-import-not-at-top

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags  # pylint: disable=g-import-not-at-top

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
# The nearest torchvision or timm model: (library, name, constructor arguments). timm's
# resnets stride in the 3x3 convolution ("v1.5"), ours and Keras' in the first 1x1; the
# auxiliary heads are off (ours train inception_v3 with its own).
PYTORCH_MODELS = {'alexnet_v2': ('torchvision', 'alexnet', {}),
                  'vgg_a': ('torchvision', 'vgg11', {}),
                  'vgg_16': ('torchvision', 'vgg16', {}),
                  'vgg_19': ('torchvision', 'vgg19', {}),
                  'inception_v1': ('torchvision', 'googlenet',
                                   {'aux_logits': False, 'init_weights': True}),
                  'inception_v3': ('timm', 'inception_v3', {}),
                  'inception_resnet_v2': ('timm', 'inception_resnet_v2', {}),
                  'resnet_v1_50': ('timm', 'resnet50', {}),
                  'resnet_v1_101': ('timm', 'resnet101', {}),
                  'resnet_v1_152': ('timm', 'resnet152', {}),
                  'resnet_v2_50': ('timm', 'resnetv2_50', {}),
                  'mobilenet_v1': ('timm', 'mobilenetv1_100', {}),
                  'mobilenet_v2': ('timm', 'mobilenetv2_100', {})}
PEER_MODELS = {'tf_slim': TF_SLIM_MODELS, 'keras': KERAS_MODELS, 'pytorch': PYTORCH_MODELS}
# What each peer imports, and what installs it.
PEER_MODULES = {'tf_slim': ('tf_slim',), 'keras': ('keras',),
                'pytorch': ('torch', 'torchvision', 'timm')}
PEER_SETUP = {'tf_slim': 'scripts/setup_env.sh', 'keras': 'scripts/setup_env.sh',
              'pytorch': 'bench/setup_peers.sh'}


def define_flags():
  """The command's flags; defined only when it runs, so that importing the module for its
  functions leaves absl's global flags alone."""
  flags.DEFINE_list('nets', ['alexnet_v2', 'inception_v1', 'resnet_v1_50', 'vgg_16'],
                    'Registered names to measure.')
  flags.DEFINE_list('peers', ['tf_slim', 'keras', 'pytorch'], 'Peers to measure beside ours.')
  flags.DEFINE_integer('batch_size', 32, 'Images per step.', lower_bound=1)
  flags.DEFINE_enum('mode', 'train', ['train', 'inference'], 'What a step does.')
  flags.DEFINE_integer('warmup_steps', 2, 'Untimed steps after the first.', lower_bound=0)
  flags.DEFINE_integer('timed_steps', 10, 'Timed steps per measurement.', lower_bound=1)
  flags.DEFINE_integer('repeats', 3, 'Rounds of interleaved measurements.', lower_bound=1)
  flags.DEFINE_integer('pytorch_threads', 0,
                       'PyTorch intra-op threads; 0 takes the fastest of a short probe per net.',
                       lower_bound=0)
  flags.DEFINE_string('worker', None, 'Internal: measure one JSON spec and print its result.')
  flags.register_validator('peers', lambda peers: set(peers) <= {'ours'} | set(PEER_MODELS),
                           f'expected peers among {", ".join(PEER_MODELS)}')


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
  from slimbench import kernel_tuning  # pylint: disable=g-import-not-at-top
  info = nets_factory.model_info(spec['net'])
  with tf.Graph().as_default():
    # As training builds it by default (--conv_gradients=auto): the gradient kernels
    # measured fastest on this machine.
    network_fn = nets_factory.get_network_fn(spec['net'], info.num_classes,
                                             weight_decay=4e-5,
                                             is_training=spec['mode'] == 'train',
                                             conv_gradients=kernel_tuning.KernelChooser())
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


def measure_pytorch(spec):
  import torch  # pylint: disable=g-import-not-at-top
  torch.set_num_threads(spec['threads'])
  # Eager mode runs one op after another: a pool of inter-op threads would only compete.
  torch.set_num_interop_threads(1)
  library, name, arguments = PYTORCH_MODELS[spec['net']]
  if library == 'timm':
    import timm  # pylint: disable=g-import-not-at-top
    model = timm.create_model(name, pretrained=False, num_classes=1000, **arguments)
  else:
    import torchvision  # pylint: disable=g-import-not-at-top
    model = torchvision.models.get_model(name, weights=None, num_classes=1000, **arguments)
  model = model.to(memory_format=torch.channels_last)
  size, batch = spec['image_size'], spec['batch_size']
  images = torch.empty(batch, 3, size, size).uniform_(-1, 1).contiguous(
      memory_format=torch.channels_last)
  labels = torch.randint(0, 1000, (batch,))
  if spec['mode'] == 'train':
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    def step():
      optimizer.zero_grad(set_to_none=True)
      torch.nn.functional.cross_entropy(model(images), labels).backward()
      optimizer.step()
  else:
    model.eval()
    def step():
      with torch.inference_mode():
        model(images)
  return _time_steps(step, spec['warmup_steps'], spec['timed_steps'])


MEASURES = {'ours': measure_ours, 'tf_slim': measure_tf_slim, 'keras': measure_keras,
            'pytorch': measure_pytorch}


def missing_peers(peers):
  """The peers whose packages are not installed, each with what installs it."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  return {peer: PEER_SETUP[peer] for peer in peers
          if any(importlib.util.find_spec(module) is None for module in PEER_MODULES[peer])}


def thread_candidates(cores):
  """The thread counts a probe tries: powers of two below `cores`, `cores - 1` and `cores`."""
  counts = {cores, max(cores - 1, 1)}
  counts.update(2 ** k for k in range(cores.bit_length()) if 2 ** k < cores)
  return sorted(counts)


def ratio(ours, peer):
  """'ours / peer' to two decimals, or '—' when either is missing."""
  return f'{ours / peer:.2f}' if ours is not None and peer else '—'


def table_lines(peers, rows):
  """The Markdown table: a row per net with each implementation's images/sec, then ours
  over each peer, and the PyTorch thread setting when PyTorch is among `peers`.

  Args:
    peers: implementations in column order, 'ours' first.
    rows: dicts with 'net', 'size', 'medians' ({peer: images/sec}, measured ones only)
      and, for PyTorch, 'pytorch_threads' (None when it was not measured).

  Returns:
    The table's lines.
  """
  others = [p for p in peers if p != 'ours']
  header = (['net', 'size'] + [f'{p} img/s' for p in peers] + [f'ours / {p}' for p in others]
            + (['pytorch threads'] if 'pytorch' in peers else []))
  lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  for row in rows:
    medians = row['medians']
    cells = [row['net'], str(row['size'])]
    cells += [f'{medians[p]:.2f}' if p in medians else '—' for p in peers]
    cells += [ratio(medians.get('ours'), medians.get(p)) for p in others]
    if 'pytorch' in peers:
      threads = row.get('pytorch_threads')
      cells.append(f'{threads} (interop 1)' if threads else '—')
    lines.append('| ' + ' | '.join(cells) + ' |')
  return lines


def _run_worker(spec):
  command = [sys.executable, os.path.abspath(__file__), f'--worker={json.dumps(spec)}']
  done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
  lines = [l for l in done.stdout.splitlines() if l.startswith('RESULT ')]
  if done.returncode or not lines:
    tail = (done.stderr.strip().splitlines() or ['no output'])[-1]
    return {'error': tail}
  return json.loads(lines[-1][len('RESULT '):])


def _probe_pytorch_threads(spec):
  """The intra-op thread count that runs `spec` fastest, from two timed steps per setting."""
  rates = {}
  for threads in thread_candidates(usable_cores()):
    result = _run_worker(dict(spec, threads=threads, warmup_steps=0,
                              timed_steps=min(2, spec['timed_steps'])))
    value = result.get('images_per_sec')
    print(f'probe {spec["net"]} pytorch threads {threads}: '
          f'{value if value is not None else result["error"]}', flush=True)
    if value is not None:
      rates[threads] = value
  return max(rates, key=rates.get) if rates else usable_cores()


def main(argv):
  del argv
  fv = flags.FLAGS
  if fv.worker:
    spec = json.loads(fv.worker)
    times = MEASURES[spec['peer']](spec)
    rates = [spec['batch_size'] / t for t in times]
    print('RESULT ' + json.dumps({'images_per_sec': statistics.median(rates)}))
    return
  from nets import nets_factory  # pylint: disable=g-import-not-at-top
  from slimbench import provenance  # pylint: disable=g-import-not-at-top
  requested = [p for p in fv.peers if p != 'ours']
  missing = missing_peers(requested)
  peers = ['ours'] + [p for p in requested if p not in missing]
  specs = {}
  for net in fv.nets:
    size = nets_factory.model_info(net).default_image_size
    for peer in peers:
      if peer == 'ours' or net in PEER_MODELS[peer]:
        specs[(net, peer)] = {'peer': peer, 'net': net, 'image_size': size,
                              'batch_size': fv.batch_size, 'mode': fv.mode,
                              'warmup_steps': fv.warmup_steps, 'timed_steps': fv.timed_steps}
  for (net, peer), spec in specs.items():
    if peer == 'pytorch':
      spec['threads'] = fv.pytorch_threads or _probe_pytorch_threads(spec)
  measured = {}
  for round_index in range(fv.repeats):
    for (net, peer), spec in specs.items():
      result = _run_worker(spec)
      value = result.get('images_per_sec')
      print(f'round {round_index + 1}/{fv.repeats} {net} {peer}: '
            f'{value if value is not None else result["error"]}', flush=True)
      if value is not None:
        measured.setdefault((net, peer), []).append(value)
  print(f'\nCPU: {provenance.cpu_model()} ({usable_cores()} cores usable)')
  print(f'{fv.mode}, batch {fv.batch_size}, median of {fv.repeats} rounds of '
        f'{fv.timed_steps} steps')
  for peer, setup in missing.items():
    print(f'{peer}: not installed ({setup})')
  rows = [{'net': net, 'size': nets_factory.model_info(net).default_image_size,
           'medians': {p: statistics.median(measured[(net, p)]) for p in peers
                       if (net, p) in measured},
           'pytorch_threads': specs.get((net, 'pytorch'), {}).get('threads')}
          for net in fv.nets]
  print()
  print('\n'.join(table_lines(peers, rows)))


if __name__ == '__main__':
  define_flags()
  app.run(main)
