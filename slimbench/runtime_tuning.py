r"""TensorFlow's runtime settings chosen by measurement on this machine, once.

Whether TensorFlow's oneDNN kernels or its Eigen kernels train faster, how many
threads one op and the executor should use, and how many threads should decode and
preprocess real images beside them, depend on the CPU: oneDNN trained twice as fast on an
Intel Xeon with AMX and on an AMD EPYC with AVX2, where TensorFlow leaves it off by
default, and on two cores a second preprocessing thread cost resnet_v1_50 23% of its
real-data rate (docs/performance.md). So the first training or benchmark on a machine
measures, in two phases:
1. short training steps on synthetic images under each oneDNN and thread setting, each
   in a process of its own (both settings are fixed for the life of a process), in
   interleaved rounds;
2. under the setting chosen, short training steps on real JPEGs (made on the spot, photo
   sized) through the training input pipeline with each candidate count of
   preprocessing threads.
The winners are kept in `runtime_settings.json` beside the kernel choices
(`$SLIMBENCH_CACHE_DIR`, else `$XDG_CACHE_HOME/slimbench` or `~/.cache/slimbench`), keyed
by CPU model, usable cores and TensorFlow version. Later runs read the file.

What the user says wins: TF_ENABLE_ONEDNN_OPTS in the environment, and
--num_intra_threads / --num_inter_threads / --num_preprocessing_threads other than 0.
Deleting the file, or running `python -m slimbench.tune_runtime`, measures again.

This module does not import TensorFlow at its top: `import slimbench` reads it before
TensorFlow loads, which is the only time the oneDNN setting can take effect.
"""

import datetime
import fcntl
import importlib.metadata
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

CACHE_DIR_ENV = 'SLIMBENCH_CACHE_DIR'
SETTINGS_FILE = 'runtime_settings.json'
ONEDNN_ENV = 'TF_ENABLE_ONEDNN_OPTS'
# Set beside TF_ENABLE_ONEDNN_OPTS when slimbench (not the user) chose its value: the value
# and why ('1 default', '0 measurement'). The processes it starts inherit both and still
# follow the measured choice; a value that differs from the marker is the user's.
CHOSEN_BY_ENV = 'SLIMBENCH_ONEDNN_CHOSEN_BY'
# The reason of a float16 run's choice: the processes it starts keep it (they compute in
# float16 too), where a float32 choice inherited is applied again from the file.
FLOAT16_REASON = 'float16-measurement'
# The oneDNN choice for --use_fp16, measured apart: on an Intel Xeon with AMX oneDNN
# trained float32 twice as fast and float16 25 times slower (docs/performance.md).
FLOAT16_KEY = 'onednn_float16'
# A float16 candidate can be that slow: its probe times fewer steps past this many seconds.
FLOAT16_BUDGET_SECONDS = 20
# TensorFlow's own defaults with oneDNN on: what is used until a measurement says otherwise.
# (Preprocessing threads have no TensorFlow default; default_settings() adds one.)
DEFAULT_SETTINGS = {'onednn': '1', 'intra': 0, 'inter': 0}
# A candidate replaces the default only when it is this much faster: the step times of a
# shared machine move by a few percent between processes.
MARGIN = 0.05
PROBE_NETS = ('resnet_v1_50', 'mobilenet_v1')
PROBE_IMAGE_SIZE = 96
PROBE_BATCH_SIZE = 8
PROBE_TIMED_STEPS = 5
PROBE_ROUNDS = 2
PROBE_TIMEOUT_SECONDS = 300
# Phase 2 trains each probe net at its own default size (None), on photo-sized JPEGs: the
# share of a step that decoding takes is then about what real training sees.
REAL_DATA_IMAGE_SIZE = None


def cache_folder():
  return os.environ.get(CACHE_DIR_ENV) or os.path.join(
      os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'slimbench')


def settings_path():
  return os.path.join(cache_folder(), SETTINGS_FILE)


def usable_cores():
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:
    return os.cpu_count() or 1


# Widest vector instruction set first: the kernels TensorFlow and oneDNN run, and so the
# fastest settings, change between these.
_VECTOR_ISAS = (('amx_tile', 'AMX'), ('avx512f', 'AVX-512'), ('avx2', 'AVX2'), ('avx', 'AVX'),
                ('asimd', 'NEON'))


def describe_cpu(cpuinfo):
  """'<model name> (family F model M, <widest vector ISA>)' from /proc/cpuinfo's text.

  The name alone does not tell CPUs apart in a virtual machine, which often shows just
  'AMD EPYC' for an AVX2 generation and an AVX-512 one alike; the family and model
  numbers and the instruction set do, and results and cached choices are keyed by them.
  """
  fields = {}
  for line in cpuinfo.splitlines():
    key, _, value = line.partition(':')
    fields.setdefault(key.strip(), value.strip())  # the first processor's
  name = fields.get('model name') or fields.get('Hardware') or fields.get('cpu model')
  if not name:
    return None
  flags = set((fields.get('flags') or fields.get('Features') or '').split())
  details = []
  if fields.get('cpu family') and fields.get('model'):
    details.append(f'family {fields["cpu family"]} model {fields["model"]}')
  details += [label for flag, label in _VECTOR_ISAS if flag in flags][:1]
  return f'{name} ({", ".join(details)})' if details else name


def cpu_model():
  """The CPU, as describe_cpu() names it from /proc/cpuinfo, else as Python's platform
  module does."""
  try:
    with open('/proc/cpuinfo') as f:
      described = describe_cpu(f.read())
    if described:
      return described
  except OSError:
    pass
  import platform  # pylint: disable=g-import-not-at-top
  return platform.processor() or platform.machine() or 'unknown'


def _tensorflow_version():
  for distribution in ('tensorflow', 'tensorflow-cpu', 'tensorflow-intel'):
    try:
      return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
      continue
  return 'unknown'


def machine_key():
  """What the best settings depend on: the key of this machine's entry in the file."""
  return json.dumps({'cpu': cpu_model(), 'cores': usable_cores(),
                     'tensorflow': _tensorflow_version()}, sort_keys=True)


def _read_file(path):
  try:
    with open(path) as f:
      content = json.load(f)
  except (OSError, ValueError):
    return {}
  return content if isinstance(content, dict) else {}


def default_preprocessing_threads(cores):
  """One fewer than the cores, which measured best on two cores (docs/performance.md)."""
  return max(1, cores - 1)


def default_settings():
  """What runs use before (or without) a measurement: TensorFlow's defaults with oneDNN
  on, and default_preprocessing_threads()."""
  return dict(DEFAULT_SETTINGS, preprocessing=default_preprocessing_threads(usable_cores()))


def measured_settings(path=None):
  """This machine's entry in the settings file, or None when it has not been measured.

  An entry written before the preprocessing threads were measured counts as not measured.
  """
  entry = _read_file(path or settings_path()).get(machine_key())
  if (isinstance(entry, dict) and entry.get('onednn') in ('0', '1') and
      all(isinstance(entry.get(name), int) and entry[name] >= 0
          for name in ('intra', 'inter')) and
      isinstance(entry.get('preprocessing'), int) and entry['preprocessing'] >= 1):
    return entry
  return None


def apply_onednn_setting():
  """Sets TF_ENABLE_ONEDNN_OPTS, before TensorFlow loads, unless the user set it.

  The measured choice when there is one, else on (DEFAULT_SETTINGS).
  """
  if ONEDNN_ENV in os.environ and _onednn_chosen_by() in (None, FLOAT16_REASON):
    return  # the user's setting, a probe's, or a float16 run's
  entry = measured_settings()
  _set_onednn((entry or DEFAULT_SETTINGS)['onednn'], 'measurement' if entry else 'default')


def _set_onednn(value, reason):
  os.environ[ONEDNN_ENV] = value
  os.environ[CHOSEN_BY_ENV] = f'{value} {reason}'


def _onednn_chosen_by():
  """'default', 'measurement' or FLOAT16_REASON when slimbench set TF_ENABLE_ONEDNN_OPTS as
  it is now; None when the user did (or nobody)."""
  value, _, reason = os.environ.get(CHOSEN_BY_ENV, '').partition(' ')
  if (os.environ.get(ONEDNN_ENV) == value and
      reason in ('default', 'measurement', FLOAT16_REASON)):
    return reason
  return None


def session_threads(num_intra_threads, num_inter_threads):
  """The intra- and inter-op threads to run with: the flags, else the measured ones.

  0 in a flag means "not set by the user"; 0 in the result is TensorFlow's default (one
  per core).
  """
  entry = measured_settings() or DEFAULT_SETTINGS
  return (num_intra_threads or entry['intra'], num_inter_threads or entry['inter'])


def preprocessing_threads(num_preprocessing_threads):
  """Examples the input pipeline decodes and preprocesses at once: the flag, else (0) the
  count measured fastest on this machine, else default_settings()' count."""
  return num_preprocessing_threads or (measured_settings() or default_settings())[
      'preprocessing']


def candidates(cores):
  """The settings timed: oneDNN on and off, each with TensorFlow's thread default and with
  one executor thread (the ops themselves then use every core); on four cores or more also
  half the cores per op with two ops at once."""
  threads = [(0, 0), (cores, 1)]
  if cores >= 4:
    threads.append((cores // 2, 2))
  return [{'onednn': onednn, 'intra': intra, 'inter': inter}
          for onednn in ('1', '0') for intra, inter in threads]


def preprocessing_candidates(cores):
  """The preprocessing thread counts timed: one (every other core trains), the default
  (one fewer than the cores), all of them, and twice as many (TF-Slim's 4 on two cores)."""
  return sorted({1, default_preprocessing_threads(cores), cores, 2 * cores})


def describe(setting):
  threads = ('default threads' if not setting['intra'] and not setting['inter'] else
             f'{setting["intra"]} intra / {setting["inter"]} inter threads')
  described = f'oneDNN {"on" if setting["onednn"] == "1" else "off"}, {threads}'
  if 'preprocessing' in setting:
    described += f', {_threads_phrase(setting["preprocessing"])} preprocessing real data'
  if FLOAT16_KEY in setting:
    described += f'; float16: oneDNN {"on" if setting[FLOAT16_KEY] == "1" else "off"}'
  return described


def _threads_phrase(count):
  return f'{count} thread{"" if count == 1 else "s"}'


def _probe_once(setting, probe):
  """Seconds per training step of each probe net under `setting`, in a fresh process."""
  env = dict(os.environ, **{ONEDNN_ENV: setting['onednn'], 'TF_CPP_MIN_LOG_LEVEL': '2'})
  env.pop(CHOSEN_BY_ENV, None)  # the candidate's setting is fixed, as if the user set it
  spec = json.dumps(dict(probe, intra=setting['intra'], inter=setting['inter']))
  done = subprocess.run([sys.executable, '-m', 'slimbench.tune_runtime', '--worker', spec],
                        env=env, capture_output=True, text=True,
                        timeout=PROBE_TIMEOUT_SECONDS, check=False,
                        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  lines = done.stdout.strip().splitlines()
  if done.returncode or not lines:
    raise RuntimeError(f'the runtime probe ({describe(setting)}) failed: '
                       f'{(done.stderr.strip().splitlines() or ["no output"])[-1]}')
  return json.loads(lines[-1])


def _steps_text(median):
  """'resnet_v1_50 249 ms, mobilenet_v1 63 ms' from {net: median seconds}."""
  return ', '.join(f'{net} {seconds * 1e3:.0f} ms' for net, seconds in median.items())


def _median_scores(runs, nets, reference):
  """Median seconds per (candidate, net) over `runs`, and each candidate's geometric mean
  over the nets of its median divided by the reference candidate's."""
  medians = {key: {net: statistics.median(run[key][net] for run in runs) for net in nets}
             for key in runs[0]}
  scores = {key: statistics.geometric_mean(median[net] / medians[reference][net]
                                           for net in nets)
            for key, median in medians.items()}
  return medians, scores


def measure(nets=PROBE_NETS, image_size=PROBE_IMAGE_SIZE, batch_size=PROBE_BATCH_SIZE,
            rounds=PROBE_ROUNDS, real_image_size=REAL_DATA_IMAGE_SIZE, log=print):
  """Times every candidate, interleaved, and returns the entry to keep.

  Phase 1 (oneDNN, threads): each candidate's score is the geometric mean over the probe
  nets of its median step time divided by the default's; the fastest replaces the default
  only when it is more than MARGIN faster. Phase 2 (preprocessing threads, under phase
  1's choice): likewise, with the default count as the reference.
  """
  probe = {'nets': list(nets), 'image_size': image_size, 'batch_size': batch_size,
           'timed_steps': PROBE_TIMED_STEPS}
  cores = usable_cores()
  settings = candidates(cores)
  runs = [{} for _ in range(rounds)]
  start = time.monotonic()
  for run in runs:
    for index, setting in enumerate(settings):
      run[index] = _probe_once(setting, probe)
  medians, scores = _median_scores(runs, nets, 0)
  best = min(scores, key=scores.get)
  chosen = best if scores[best] < 1 - MARGIN else 0
  for index, setting in enumerate(settings):
    log(f'  {describe(setting)}: {_steps_text(medians[index])} '
        f'(x{scores[index]:.2f} of the default)'
        f'{"  <- chosen" if index == chosen else ""}')

  # Phase 2: one process per round times every count, in alternating order.
  counts = preprocessing_candidates(cores)
  real_probe = dict(probe, image_size=real_image_size)
  real_runs = []
  for round_index in range(rounds):
    order = counts if round_index % 2 == 0 else counts[::-1]
    timed = _probe_once(settings[chosen], dict(real_probe, preprocessing_threads=order))
    real_runs.append({int(count): seconds for count, seconds in timed.items()})
  default = default_preprocessing_threads(cores)
  real_medians, real_scores = _median_scores(real_runs, nets, default)
  fastest = min(counts, key=real_scores.get)
  # As in phase 1: counts within a few percent of each other swap places between runs.
  threads = fastest if real_scores[fastest] < 1 - MARGIN else default
  for count in counts:
    log(f'  real JPEGs, {_threads_phrase(count)} preprocessing: '
        f'{_steps_text(real_medians[count])} '
        f'(x{real_scores[count]:.2f} of the default, {_threads_phrase(default)})'
        f'{"  <- chosen" if count == threads else ""}')
  return dict(settings[chosen], preprocessing=threads,
              measured={describe(s): {net: round(medians[i][net], 5) for net in nets}
                        for i, s in enumerate(settings)},
              measured_preprocessing={str(count): {net: round(real_medians[count][net], 5)
                                                   for net in nets} for count in counts},
              probe=dict(probe, rounds=rounds, real_image_size=real_image_size),
              seconds=round(time.monotonic() - start, 1),
              date=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))


def measure_float16(entry, nets=PROBE_NETS, image_size=PROBE_IMAGE_SIZE,
                    batch_size=PROBE_BATCH_SIZE, rounds=PROBE_ROUNDS, log=print):
  """Times float16 training steps (--use_fp16) with oneDNN as float32 chose it and the
  other way, interleaved, threads as chosen; returns the fields to add to `entry`.

  The other way is taken only when it is more than MARGIN faster (geometric mean over the
  nets, as for float32).
  """
  chosen = {name: entry[name] for name in ('onednn', 'intra', 'inter')}
  settings = [chosen, dict(chosen, onednn='0' if chosen['onednn'] == '1' else '1')]
  probe = {'nets': list(nets), 'image_size': image_size, 'batch_size': batch_size,
           'timed_steps': PROBE_TIMED_STEPS, 'use_fp16': True,
           'budget_seconds': FLOAT16_BUDGET_SECONDS}
  start = time.monotonic()
  runs = [{index: _probe_once(setting, probe) for index, setting in enumerate(settings)}
          for _ in range(rounds)]
  medians, scores = _median_scores(runs, nets, 0)
  best = 1 if scores[1] < 1 - MARGIN else 0
  for index, setting in enumerate(settings):
    log(f'  float16, {describe(setting)}: {_steps_text(medians[index])} '
        f'(x{scores[index]:.2f} of float32\'s '
        f'choice){"  <- chosen" if index == best else ""}')
  return {FLOAT16_KEY: settings[best]['onednn'],
          'measured_float16': {describe(s): {net: round(medians[i][net], 5) for net in nets}
                               for i, s in enumerate(settings)},
          'float16_seconds': round(time.monotonic() - start, 1)}


def save(entry, path=None):
  """Adds this machine's entry to the file, keeping other machines' entries."""
  path = path or settings_path()
  content = _read_file(path)
  content[machine_key()] = entry
  os.makedirs(os.path.dirname(path), exist_ok=True)
  # Written beside, then renamed: a reader never sees half a file. (slimbench.files does
  # the same but loads TensorFlow, which this module must not.)
  with tempfile.NamedTemporaryFile('w', dir=os.path.dirname(path), prefix='.' + SETTINGS_FILE,
                                   delete=False) as f:
    try:
      json.dump(content, f, indent=1)
      f.close()
      os.replace(f.name, path)
    except BaseException:
      os.unlink(f.name)
      raise


def _open_lock():
  os.makedirs(cache_folder(), exist_ok=True)
  return open(os.path.join(cache_folder(), SETTINGS_FILE + '.lock'), 'a')


def _measured(is_done, measure_entry, what, fallback, summary, log):
  """This machine's entry once `is_done(entry)`: read from the file, or else measured by
  `measure_entry(entry)` under a file lock and kept. None, with one line logged that says
  the run goes on with `fallback`, when it could not be measured or kept."""
  entry = measured_settings()
  if is_done(entry):
    return entry
  try:
    lock = _open_lock()
  except OSError as error:
    # A measurement that cannot be kept would be repeated by every run.
    log(f'Not measuring {what}: {settings_path()} cannot be written ({error}); using '
        f'{fallback}. Set {CACHE_DIR_ENV} to a writable folder.')
    return None
  with lock:
    # One measurement at a time: processes started together (the tasks of a local
    # cluster) would otherwise time each other. Closing the file releases the lock.
    fcntl.flock(lock, fcntl.LOCK_EX)
    entry = measured_settings()
    if is_done(entry):
      return entry
    log(f'Measuring {what} on this machine (once; kept in {settings_path()}):')
    try:
      entry = measure_entry(entry)
    except (OSError, RuntimeError, subprocess.SubprocessError, ValueError) as error:
      log(f'The measurement failed ({error}); using {fallback}, and measuring again '
          f'next time.')
      return None
    try:
      save(entry)
    except OSError as error:
      log(f'Cannot keep the runtime settings in {settings_path()} ({error}); using '
          f'{fallback}. Set {CACHE_DIR_ENV} to a writable folder.')
      return None
    log(summary(entry))
    return entry


def ensure_measured(log=print, use_fp16=False):
  """Measures this machine's settings if no run has yet, and makes this process use them.

  Called at the start of a training or benchmark command; `use_fp16` for one computing in
  float16, whose oneDNN choice is measured apart (first float16 run). When the oneDNN
  choice for the run differs from the one this process started with (which only a new
  process can change), the command starts again in place, once, with the same arguments.
  """
  entry = _measured(lambda found: found is not None, lambda unused: measure(log=log),
                    'which TensorFlow runtime settings train fastest',
                    'TensorFlow\'s defaults with oneDNN on',
                    lambda found: f'Measured in {found["seconds"]:.0f} s: {describe(found)}.',
                    log)
  if entry is not None and use_fp16:
    entry = _measured(
        lambda found: found is not None and found.get(FLOAT16_KEY) in ('0', '1'),
        lambda found: dict(found, **measure_float16(found, log=log)),
        'whether oneDNN trains faster in float16 (--use_fp16)',
        'the oneDNN setting float32 measured fastest',
        lambda found: (f'Measured in {found["float16_seconds"]:.0f} s: oneDNN '
                       f'{"on" if found[FLOAT16_KEY] == "1" else "off"} for float16.'),
        log)
  if entry is None or _onednn_chosen_by() is None:
    return  # nothing measured, or the user's TF_ENABLE_ONEDNN_OPTS
  value, reason = ((entry[FLOAT16_KEY], FLOAT16_REASON) if use_fp16
                   else (entry['onednn'], 'measurement'))
  if os.environ.get(ONEDNN_ENV) == value:
    # Already in force; the marker now tells the processes this one starts which it is.
    _set_onednn(value, reason)
    return
  log(f'Starting again with {ONEDNN_ENV}={value}, as measured'
      f'{" for float16" if use_fp16 else ""}.')
  _set_onednn(value, reason)
  sys.stdout.flush()
  sys.stderr.flush()
  os.execv(sys.executable, [sys.executable] + sys.orig_argv[1:])
