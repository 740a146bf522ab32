r"""TensorFlow's runtime settings chosen by measurement on this machine, once.

Whether TensorFlow's oneDNN kernels or its Eigen kernels train faster, and how many
threads one op and the executor should use, depend on the CPU: oneDNN trained twice as
fast on an Intel Xeon with AMX and on an AMD EPYC with AVX2, where TensorFlow leaves it
off by default (docs/performance.md). So the first training or benchmark on a machine
times a few short training steps under each candidate setting, each in a process of its
own (both settings are fixed for the life of a process), in interleaved rounds, and keeps
the fastest in `runtime_settings.json` beside the kernel choices (`$SLIMBENCH_CACHE_DIR`,
else `$XDG_CACHE_HOME/slimbench` or `~/.cache/slimbench`), keyed by CPU model, usable
cores and TensorFlow version. Later runs read the file.

What the user says wins: TF_ENABLE_ONEDNN_OPTS in the environment, and
--num_intra_threads / --num_inter_threads other than 0. Deleting the file, or running
`python -m slimbench.tune_runtime`, measures again.

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
# TensorFlow's own defaults with oneDNN on: what is used until a measurement says otherwise.
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


def cpu_model():
  """The CPU's model name, as /proc/cpuinfo gives it."""
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name'):
          return line.split(':', 1)[1].strip()
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


def measured_settings(path=None):
  """This machine's entry in the settings file, or None when it has not been measured."""
  entry = _read_file(path or settings_path()).get(machine_key())
  if (isinstance(entry, dict) and entry.get('onednn') in ('0', '1') and
      all(isinstance(entry.get(name), int) and entry[name] >= 0
          for name in ('intra', 'inter'))):
    return entry
  return None


def apply_onednn_setting():
  """Sets TF_ENABLE_ONEDNN_OPTS, before TensorFlow loads, unless the user set it.

  The measured choice when there is one, else on (DEFAULT_SETTINGS).
  """
  if ONEDNN_ENV in os.environ and _onednn_chosen_by() is None:
    return  # the user's setting, or a probe's
  entry = measured_settings()
  _set_onednn((entry or DEFAULT_SETTINGS)['onednn'], 'measurement' if entry else 'default')


def _set_onednn(value, reason):
  os.environ[ONEDNN_ENV] = value
  os.environ[CHOSEN_BY_ENV] = f'{value} {reason}'


def _onednn_chosen_by():
  """'default' or 'measurement' when slimbench set TF_ENABLE_ONEDNN_OPTS as it is now; None
  when the user did (or nobody)."""
  value, _, reason = os.environ.get(CHOSEN_BY_ENV, '').partition(' ')
  if os.environ.get(ONEDNN_ENV) == value and reason in ('default', 'measurement'):
    return reason
  return None


def session_threads(num_intra_threads, num_inter_threads):
  """The intra- and inter-op threads to run with: the flags, else the measured ones.

  0 in a flag means "not set by the user"; 0 in the result is TensorFlow's default (one
  per core).
  """
  entry = measured_settings() or DEFAULT_SETTINGS
  return (num_intra_threads or entry['intra'], num_inter_threads or entry['inter'])


def candidates(cores):
  """The settings timed: oneDNN on and off, each with TensorFlow's thread default and with
  one executor thread (the ops themselves then use every core); on four cores or more also
  half the cores per op with two ops at once."""
  threads = [(0, 0), (cores, 1)]
  if cores >= 4:
    threads.append((cores // 2, 2))
  return [{'onednn': onednn, 'intra': intra, 'inter': inter}
          for onednn in ('1', '0') for intra, inter in threads]


def describe(setting):
  threads = ('default threads' if not setting['intra'] and not setting['inter'] else
             f'{setting["intra"]} intra / {setting["inter"]} inter threads')
  return f'oneDNN {"on" if setting["onednn"] == "1" else "off"}, {threads}'


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


def measure(nets=PROBE_NETS, image_size=PROBE_IMAGE_SIZE, batch_size=PROBE_BATCH_SIZE,
            rounds=PROBE_ROUNDS, log=print):
  """Times every candidate setting, interleaved, and returns the entry to keep.

  Each candidate's score is the geometric mean over the probe nets of its median step
  time divided by the default's; the fastest replaces the default only when it is more
  than MARGIN faster.
  """
  probe = {'nets': list(nets), 'image_size': image_size, 'batch_size': batch_size,
           'timed_steps': PROBE_TIMED_STEPS}
  settings = candidates(usable_cores())
  seconds = [[] for _ in settings]
  start = time.monotonic()
  for _ in range(rounds):
    for index, setting in enumerate(settings):
      seconds[index].append(_probe_once(setting, probe))
  medians = [{net: statistics.median(run[net] for run in runs) for net in nets}
             for runs in seconds]
  default = medians[0]
  scores = [statistics.geometric_mean(median[net] / default[net] for net in nets)
            for median in medians]
  best = min(range(len(settings)), key=scores.__getitem__)
  chosen = best if scores[best] < 1 - MARGIN else 0
  for index, setting in enumerate(settings):
    steps = ', '.join(f'{net} {medians[index][net] * 1e3:.0f} ms' for net in nets)
    log(f'  {describe(setting)}: {steps} (x{scores[index]:.2f} of the default)'
        f'{"  <- chosen" if index == chosen else ""}')
  return dict(settings[chosen],
              measured={describe(s): {net: round(medians[i][net], 5) for net in nets}
                        for i, s in enumerate(settings)},
              probe=dict(probe, rounds=rounds),
              seconds=round(time.monotonic() - start, 1),
              date=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))


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


def ensure_measured(log=print):
  """Measures this machine's settings if no run has yet, and makes this process use them.

  Called at the start of a training or benchmark command. When the measured oneDNN choice
  differs from the one this process started with (which only a new process can change),
  the command starts again in place, once, with the same arguments.
  """
  if measured_settings() is None:
    try:
      lock = _open_lock()
    except OSError as error:
      # A measurement that cannot be kept would be repeated by every run.
      log(f'Not measuring the runtime settings: {settings_path()} cannot be written '
          f'({error}); using TensorFlow\'s defaults with oneDNN on. Set {CACHE_DIR_ENV} to '
          f'a writable folder.')
      return
    with lock:
      # One measurement at a time: processes started together (the tasks of a local
      # cluster) would otherwise time each other. Closing the file releases the lock.
      fcntl.flock(lock, fcntl.LOCK_EX)
      if measured_settings() is None:
        log(f'Measuring which TensorFlow runtime settings train fastest on this machine '
            f'(once; kept in {settings_path()}):')
        try:
          entry = measure(log=log)
        except (OSError, RuntimeError, subprocess.SubprocessError, ValueError) as error:
          log(f'The runtime measurement failed ({error}); using TensorFlow\'s defaults '
              f'with oneDNN on, and measuring again next time.')
          return
        try:
          save(entry)
        except OSError as error:
          log(f'Cannot keep the runtime settings in {settings_path()} ({error}); set '
              f'{CACHE_DIR_ENV} to a writable folder.')
          return
        log(f'Measured in {entry["seconds"]:.0f} s: {describe(entry)}.')
  entry = measured_settings()
  if (entry and _onednn_chosen_by() == 'default' and
      os.environ.get(ONEDNN_ENV) != entry['onednn']):
    log(f'Starting again with {ONEDNN_ENV}={entry["onednn"]}, as measured.')
    _set_onednn(entry['onednn'], 'measurement')
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable] + sys.orig_argv[1:])
