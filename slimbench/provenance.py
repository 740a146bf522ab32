"""Where and with what a measurement was made: commit, TensorFlow, CPU, threads, oneDNN, date."""

import datetime
import importlib.metadata
import os
import subprocess

import slimbench
from slimbench import runtime_tuning

FIELDS = ('commit', 'tf_version', 'cpu', 'cores', 'threads', 'onednn', 'date')


def commit():
  """The project's commit, with '+changes' when tracked files differ from it.

  An installed copy has no repository: its distribution's version stands in.
  """
  if slimbench.SOURCE_ROOT is None:
    try:
      return 'slimbench ' + importlib.metadata.version('slimbench')
    except importlib.metadata.PackageNotFoundError:
      return 'unknown'
  try:
    head = subprocess.run(['git', '-C', slimbench.SOURCE_ROOT, 'rev-parse', '--short=10', 'HEAD'],
                          capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    changed = subprocess.run(['git', '-C', slimbench.SOURCE_ROOT, 'status', '--porcelain',
                              '--untracked-files=no'], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return 'unknown'
  return head + ('+changes' if changed else '')


# The one definition sits with the runtime settings, which need it before TensorFlow loads.
cpu_model = runtime_tuning.cpu_model


def threads(num_intra_threads, num_inter_threads):
  """'intra/inter' as the session runs them: flags of 0 take the counts measured fastest
  on this machine, and a count of 0 is TensorFlow's default of one per core."""
  cores = os.cpu_count() or 1
  intra, inter = runtime_tuning.session_threads(num_intra_threads, num_inter_threads)
  return f'{intra or cores}/{inter or cores}'


def onednn():
  """'on' or 'off': TF_ENABLE_ONEDNN_OPTS, which `import slimbench` sets to 1 by default."""
  value = os.environ.get('TF_ENABLE_ONEDNN_OPTS', '')
  return 'on' if value.lower() in ('1', 'true') else 'off'


def collect(num_intra_threads=0, num_inter_threads=0):
  """The provenance fields of a measurement made now, in this process."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return {
      'commit': commit(),
      'tf_version': tf.__version__,
      'cpu': cpu_model(),
      'cores': os.cpu_count(),
      'threads': threads(num_intra_threads, num_inter_threads),
      'onednn': onednn(),
      'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
  }
