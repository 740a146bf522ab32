"""Chooses among interchangeable kernels of one op by timing them on this machine, once.

A convolution's gradient can be computed in several ways that give the same values up to
float rounding (`nets/gradients.py` builds them: TensorFlow's own ops, two matmuls where
the kernel covers the whole input map or is 1x1 at stride 1, one matmul per kernel tap for
the filter gradient).
Which is fastest depends on the CPU and on TensorFlow's kernels for it: a rule that gained
on one machine lost on another. So `--conv_gradients=auto` times the alternatives of each
distinct convolution (shapes, strides, padding, dtype) in a graph of its own, keeps the
winner in a JSON file keyed by the machine (CPU model, cores, TensorFlow version, oneDNN,
GPU) and the convolution, and builds the training graph with it. The next run on the same
machine reads the file instead of timing.

The file is `$SLIMBENCH_CACHE_DIR/kernel_choices.json`, else under `$XDG_CACHE_HOME` or
`~/.cache` in `slimbench/`. Deleting it makes the next run time again.
"""

import collections
import json
import os
import statistics
import time

from absl import logging
import numpy as np
import tensorflow as tf

from slimbench import files
from slimbench import provenance
from slimbench import runtime_tuning

tf1 = tf.compat.v1

CACHE_DIR_ENV = runtime_tuning.CACHE_DIR_ENV
CACHE_FILE = 'kernel_choices.json'
# Below this many floating-point operations a gradient takes well under a millisecond and
# the alternatives differ by less than the timer's noise: TensorFlow's own kernel is kept
# without timing.
MIN_TIMED_FLOPS = 1e8
# Each alternative runs once untimed, then in interleaved rounds (so that a change of load
# affects all alternatives alike) until this many rounds or the time budget is spent.
TIMED_ROUNDS = 5
SECONDS_PER_CONVOLUTION = 4.0
# Another kernel replaces TensorFlow's own only when it is this much faster alone. Timed
# alone, the filter gradient by taps beat TensorFlow's by 4.6% for vgg_16's conv4 layers on
# an Intel Xeon with AMX, yet whole training steps with and without it were level (3.27 and
# 3.10 against 3.12 and 3.26 images/s): its slices and extra matmuls compete with the ops
# running beside it in a real step, which a lone timing does not show.
MARGIN = 0.05


def cache_path():
  return os.path.join(runtime_tuning.cache_folder(), CACHE_FILE)


def machine():
  """What a timing depends on besides the op: the key's machine part."""
  return {'cpu': provenance.cpu_model(), 'cores': os.cpu_count(),
          'tensorflow': tf.__version__, 'onednn': provenance.onednn(),
          'gpu': bool(tf.config.list_physical_devices('GPU'))}


class KernelChooser:
  """Picks, for each op it is asked about, the fastest of the kernels offered.

  Called as `chooser(op_name, signature, names, build, input_specs, flops)`:
    signature: JSON-able description of the op (shapes, attributes, dtype); with the
      machine, the key of the cache.
    names: the kernels that apply to this op, TensorFlow's own first (kept below
      MIN_TIMED_FLOPS).
    build, input_specs: how to time them, as `time_kernels` takes them.
    flops: the op's floating-point operations.
  The choices made are kept in `choices` (op name -> kernel) for the run's records.
  """

  def __init__(self, cache_file=None, seconds_per_op=SECONDS_PER_CONVOLUTION):
    self.cache_file = cache_file or cache_path()
    self.seconds_per_op = seconds_per_op
    self.choices = {}
    self.from_cache = 0
    self.timed = 0
    self.tuning_seconds = 0.0
    self._machine = machine()
    self._cache = self._load()
    self._unwritable = False

  def _load(self):
    try:
      with open(self.cache_file) as f:
        cache = json.load(f)
      if isinstance(cache, dict):
        return cache
    except FileNotFoundError:
      return {}
    except (OSError, ValueError) as error:
      logging.warning('Ignoring the kernel cache %s, which cannot be read (%s); the '
                      'kernels are timed again and the file rewritten',
                      self.cache_file, files.reason(error))
      return {}
    logging.warning('Ignoring the kernel cache %s: it holds no JSON object', self.cache_file)
    return {}

  def _save(self, key, entry):
    if self._unwritable:
      return
    # Another process (a second training, a test worker) may have added entries since
    # this one read the file: merge into what is there now.
    merged = self._load() if os.path.exists(self.cache_file) else {}
    merged[key] = entry
    try:
      os.makedirs(os.path.dirname(self.cache_file), exist_ok=True)
      files.write_json_atomically(self.cache_file, merged)
    except (OSError, files.UnwritableError) as error:
      self._unwritable = True
      logging.warning('Cannot keep the kernel choices in %s (%s): later runs time them '
                      'again. Set %s to a writable folder.', self.cache_file,
                      files.reason(error), CACHE_DIR_ENV)

  def __call__(self, op_name, signature, names, build, input_specs, flops):
    if len(names) == 1 or flops < MIN_TIMED_FLOPS:
      choice = names[0]
    else:
      key = json.dumps({'machine': self._machine, 'op': signature}, sort_keys=True)
      entry = self._cache.get(key)
      if isinstance(entry, dict) and all(
          isinstance(entry.get('seconds', {}).get(name), (int, float)) for name in names):
        # Chosen again from the timings kept, so that a file written under an earlier
        # rule gets today's.
        choice = fastest(names, entry['seconds'])
        self.from_cache += 1
      else:
        choice = self._measure(op_name, key, names, build, input_specs)
    self.choices[op_name] = choice
    return choice

  def _measure(self, op_name, key, names, build, input_specs):
    """Times `names`, keeps the fastest in the cache and returns it. Kernels that cannot
    be timed here (an op the device refuses, memory) leave TensorFlow's own in place."""
    start = time.perf_counter()
    try:
      seconds = time_kernels(names, build, input_specs, self.seconds_per_op)
    except (tf.errors.OpError, ValueError) as error:
      logging.warning('%s: its gradient kernels could not be timed (%s); using %s',
                      op_name, files.reason(error), names[0])
      return names[0]
    finally:
      self.tuning_seconds += time.perf_counter() - start
    self.timed += 1
    choice = fastest(names, seconds)
    entry = {'choice': choice, 'seconds': seconds,
             'measured': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}
    self._cache[key] = entry
    self._save(key, entry)
    logging.info('%s: %s', op_name, ', '.join(
        f'{name} {seconds[name] * 1000:.2f} ms' for name in names) + f' -> {choice}')
    return choice

  def summary(self):
    """One line for the log: what was chosen, how, and at what cost."""
    return (f'conv gradients by measurement: {len(self.choices)} convolutions '
            f'({count_kernels(self.choices)}); {self.timed} timed in '
            f'{self.tuning_seconds:.1f} s, {self.from_cache} from {self.cache_file}')


def fastest(names, seconds):
  """The kernel to use given each one's `seconds`: TensorFlow's own (`names[0]`) unless
  another is more than MARGIN faster."""
  best = min(names, key=seconds.get)
  return best if seconds[best] < (1 - MARGIN) * seconds[names[0]] else names[0]


def count_kernels(choices):
  """`9 taps, 3 tensorflow` from {op name: kernel}."""
  counts = collections.Counter(choices.values())
  return ', '.join(f'{count} {kernel}' for kernel, count in sorted(counts.items()))


def time_kernels(names, build, input_specs, budget_seconds):
  """{name: median seconds} of running each kernel's ops, interleaved, in a fresh graph.

  `input_specs` lists the op's inputs as (name, shape, dtype); they hold random values of
  unit scale in variables, so that feeding costs nothing. `build(name, inputs)` creates
  kernel `name`'s ops from them and returns its output tensors.
  """
  with tf.Graph().as_default():
    inputs = [_random_variable(shape, dtype, name) for name, shape, dtype in input_specs]
    # One element of each output is fetched: a grouped op whose outputs nobody reads
    # would be pruned, and fetching whole gradients would time their copy too.
    runs = {name: [tf.reshape(output, [-1])[:1] for output in build(name, inputs)]
            for name in names}
    with tf1.Session() as session:
      session.run(tf1.global_variables_initializer())
      for run in runs.values():
        session.run(run)  # first run: allocation and oneDNN's primitive creation
      seconds = {name: [] for name in names}
      deadline = time.perf_counter() + budget_seconds
      for _ in range(TIMED_ROUNDS):
        for name, run in runs.items():
          start = time.perf_counter()
          session.run(run)
          seconds[name].append(time.perf_counter() - start)
        if time.perf_counter() > deadline:
          break
  return {name: statistics.median(values) for name, values in seconds.items()}


def _random_variable(shape, dtype, name):
  values = np.random.default_rng(0).standard_normal(shape).astype(dtype.as_numpy_dtype)
  return tf1.Variable(values, name=name, trainable=False)
