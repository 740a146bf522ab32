"""Runs a multi-machine training on this machine: parameter servers and workers as
processes of train_image_classifier.py on free 127.0.0.1 ports.

Each process gets its task from --job_name/--task/--ps_hosts/--worker_hosts (or, with
--use_tf_config, from TF_CONFIG), as it would on a real cluster; every line it prints is
echoed with a prefix such as `[worker1]` (and kept in --task_logs_dir if given). The launcher
waits for the workers, then for the parameter servers, which stop by themselves once every
worker reported its end. A failed worker, Ctrl-C or --timeout_secs stop every process.

Usage:
  python scripts/launch_local_cluster.py --num_ps=1 --num_workers=2 -- \
      --train_dir=/tmp/lenet_cluster --dataset_name=mnist5k --dataset_dir=/tmp/mnist5k \
      --model_name=lenet --optimizer=momentum --batch_size=32 --max_number_of_steps=200
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from absl import app
from absl import flags

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN_SCRIPT = os.path.join(REPO_ROOT, 'train_image_classifier.py')
HOST = '127.0.0.1'


def free_ports(count, host=HOST):
  """`count` distinct ports free on `host` now (another program may take one before use)."""
  sockets = []
  try:
    for _ in range(count):
      sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
      sock.bind((host, 0))
      sockets.append(sock)
    return [sock.getsockname()[1] for sock in sockets]
  finally:
    for sock in sockets:
      sock.close()


class LocalCluster:
  """Parameter servers and workers of train_image_classifier.py as local processes.

  Each process runs in its own process group, so that stopping it stops its children too.
  Use it as a context manager: leaving the block stops whatever still runs.

  Args:
    train_args: flags for train_image_classifier.py, shared by every task.
    num_ps: parameter servers.
    num_workers: workers; worker 0 is the chief.
    use_tf_config: give each process its task by TF_CONFIG instead of flags.
    log_dir: if set, each process's output also goes to <log_dir>/<job><index>.log.
    echo: print each process's lines, prefixed, on stdout.
  """

  def __init__(self, train_args, num_ps=1, num_workers=2, use_tf_config=False, log_dir=None,
               echo=True):
    if num_ps < 0 or num_workers < 1:
      raise ValueError(f'need num_ps >= 0 and num_workers >= 1, got {num_ps} and '
                       f'{num_workers}')
    if num_workers > 1 and num_ps < 1:
      raise ValueError('several workers share their variables through parameter servers: '
                       'num_ps must be at least 1')
    ports = free_ports(num_ps + num_workers)
    self.hosts = {'ps': [f'{HOST}:{port}' for port in ports[:num_ps]],
                  'worker': [f'{HOST}:{port}' for port in ports[num_ps:]]}
    self.train_args = list(train_args)
    self.use_tf_config = use_tf_config
    self.log_dir = log_dir
    self.echo = echo
    self.processes = {}  # (job, index) -> Popen
    self.logs = {}  # (job, index) -> every line, across restarts
    self._readers = {}  # (job, index) -> the thread reading its current process
    self._lock = threading.Lock()
    if log_dir:
      os.makedirs(log_dir, exist_ok=True)

  @property
  def tasks(self):
    return [(job, index) for job in ('ps', 'worker') for index in range(len(self.hosts[job]))]

  def command(self, job, index):
    """The command line and environment of task (job, index)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [REPO_ROOT, os.environ.get('PYTHONPATH')])), PYTHONUNBUFFERED='1')
    command = [sys.executable, TRAIN_SCRIPT] + self.train_args
    if self.use_tf_config:
      env['TF_CONFIG'] = json.dumps({'cluster': self.hosts,
                                     'task': {'type': job, 'index': index}})
    else:
      env.pop('TF_CONFIG', None)
      command += [f'--job_name={job}', f'--task={index}',
                  f'--ps_hosts={",".join(self.hosts["ps"])}',
                  f'--worker_hosts={",".join(self.hosts["worker"])}']
    return command, env

  def start_task(self, job, index):
    """Starts (or restarts) one task."""
    old = self.processes.get((job, index))
    if old is not None and old.poll() is None:
      raise RuntimeError(f'{job}{index} is still running')
    command, env = self.command(job, index)
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               errors='replace', start_new_session=True)
    self.processes[(job, index)] = process
    self.logs.setdefault((job, index), [])
    reader = threading.Thread(target=self._read, args=(job, index, process), daemon=True)
    reader.start()
    self._readers[(job, index)] = reader
    return process

  def _read(self, job, index, process):
    name = f'{job}{index}'
    log_file = (open(os.path.join(self.log_dir, name + '.log'), 'a', encoding='utf-8')
                if self.log_dir else None)
    try:
      for line in process.stdout:
        line = line.rstrip('\n')
        with self._lock:
          self.logs[(job, index)].append(line)
          if self.echo:
            print(f'[{name}] {line}', flush=True)
        if log_file:
          log_file.write(line + '\n')
          log_file.flush()
    finally:
      if log_file:
        log_file.close()

  def start(self):
    """Starts every parameter server, then every worker."""
    for job, index in self.tasks:
      self.start_task(job, index)
    return self

  def signal_task(self, job, index, sig):
    """Sends `sig` to the process group of task (job, index), if it still runs."""
    process = self.processes[(job, index)]
    if process.poll() is None:
      try:
        os.killpg(process.pid, sig)
      except ProcessLookupError:
        pass

  def kill_task(self, job, index, timeout_secs=30):
    """Kills one task at once (SIGKILL), as a crash would, and waits for it."""
    self.signal_task(job, index, signal.SIGKILL)
    return self.processes[(job, index)].wait(timeout_secs)

  def wait_for_line(self, job, index, predicate, timeout_secs):
    """The first line of task (job, index) from now on that satisfies `predicate`.

    Raises:
      TimeoutError: no such line within `timeout_secs`, or the task ended first.
    """
    lines = self.logs[(job, index)]
    seen = len(lines)
    deadline = time.monotonic() + timeout_secs
    while time.monotonic() < deadline:
      # Read before looking, so that no line comes after the last look.
      ended = not self._readers[(job, index)].is_alive()
      for line in lines[seen:]:
        if predicate(line):
          return line
        seen += 1
      if ended:
        raise TimeoutError(f'{job}{index} ended without the line looked for')
      time.sleep(0.1)
    raise TimeoutError(f'{job}{index}: no such line within {timeout_secs} s')

  def wait(self, timeout_secs, ps_grace_secs=60):
    """Waits for the workers to end, then for the parameter servers to stop by themselves.

    A worker that fails stops the cluster at once, as do Ctrl-C and the timeout.

    Returns:
      {task name: return code}; a parameter server that did not stop by itself within
      `ps_grace_secs` of the last worker is killed and reported as None.

    Raises:
      TimeoutError: the workers did not end within `timeout_secs` (every process is then
        stopped).
    """
    deadline = time.monotonic() + timeout_secs
    workers = [(job, index) for job, index in self.tasks if job == 'worker']
    while True:
      codes = [self.processes[task].poll() for task in workers]
      if any(code not in (None, 0) for code in codes) or all(c is not None for c in codes):
        break
      if time.monotonic() > deadline:
        self.stop()
        raise TimeoutError(f'the workers did not finish within {timeout_secs} s')
      time.sleep(0.2)
    failed = any(code not in (None, 0) for code in codes)
    ps_deadline = time.monotonic() + (0 if failed else ps_grace_secs)
    results = {}
    for task in self.tasks:
      process = self.processes[task]
      try:
        process.wait(max(0.0, ps_deadline - time.monotonic()))
        results[f'{task[0]}{task[1]}'] = process.returncode
      except subprocess.TimeoutExpired:
        results[f'{task[0]}{task[1]}'] = None
    self.stop()
    for reader in self._readers.values():
      reader.join(10)
    return results

  def stop(self, grace_secs=5):
    """Stops every process still running: SIGTERM, then SIGKILL after `grace_secs`."""
    running = [task for task, process in self.processes.items() if process.poll() is None]
    for job, index in running:
      self.signal_task(job, index, signal.SIGTERM)
    deadline = time.monotonic() + grace_secs
    for task in running:
      try:
        self.processes[task].wait(max(0.0, deadline - time.monotonic()))
      except subprocess.TimeoutExpired:
        self.signal_task(*task, signal.SIGKILL)
        self.processes[task].wait(10)

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    self.stop()


FLAGS = flags.FLAGS


def define_flags(fv):
  """The launcher's own flags; the training flags follow `--`."""
  flags.DEFINE_integer('num_ps', 1, 'Parameter servers.', lower_bound=0, flag_values=fv)
  flags.DEFINE_integer('num_workers', 2, 'Workers; worker 0 is the chief.', lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_boolean('use_tf_config', False, 'Give each process its task by the TF_CONFIG '
                       'environment variable instead of --job_name/--task/--ps_hosts/'
                       '--worker_hosts.', flag_values=fv)
  flags.DEFINE_string('task_logs_dir', None, 'Also write each process\'s output to '
                      '<task_logs_dir>/<job><index>.log.', flag_values=fv)
  flags.DEFINE_integer('timeout_secs', 24 * 3600, 'Stop every process if the workers have '
                       'not finished by then.', lower_bound=1, flag_values=fv)


def main(argv):
  train_args = argv[1:]
  if not train_args:
    sys.exit('launch_local_cluster.py: give the training flags after --, e.g. '
             '-- --train_dir=/tmp/run --model_name=lenet ...')
  start = time.time()
  with LocalCluster(train_args, num_ps=FLAGS.num_ps, num_workers=FLAGS.num_workers,
                    use_tf_config=FLAGS.use_tf_config, log_dir=FLAGS.task_logs_dir) as cluster:
    print(f'[launcher] ps: {",".join(cluster.hosts["ps"]) or "none"}; '
          f'workers: {",".join(cluster.hosts["worker"])}', flush=True)
    cluster.start()
    try:
      codes = cluster.wait(FLAGS.timeout_secs)
    except KeyboardInterrupt:
      print('[launcher] interrupted: stopping every process', flush=True)
      cluster.stop()
      sys.exit(130)
    except TimeoutError as error:
      sys.exit(f'[launcher] {error}; every process was stopped')
  summary = ', '.join(f'{name}: {"stopped by the launcher" if code is None else code}'
                      for name, code in codes.items())
  print(f'[launcher] done in {time.time() - start:.1f} s ({summary})', flush=True)
  if any(code != 0 for code in codes.values()):
    sys.exit(1)


if __name__ == '__main__':
  define_flags(FLAGS)
  # A SIGTERM to the launcher stops the cluster as Ctrl-C does.
  signal.signal(signal.SIGTERM, signal.default_int_handler)
  app.run(main)
