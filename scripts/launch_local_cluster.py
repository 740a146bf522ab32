"""Runs a multi-machine training on this machine: parameter servers and workers as
processes of train_image_classifier.py on free 127.0.0.1 ports.

Each process gets its task from --job_name/--task/--ps_hosts/--worker_hosts (or, with
--use_tf_config, from TF_CONFIG), as it would on a real cluster; every line it prints is
echoed with a prefix such as `[worker1]` (and kept in --task_logs_dir if given). Every
process runs in the caller's folder, so relative paths in the training flags mean what they
mean to the caller. The launcher waits for the workers, then for the parameter servers,
which stop by themselves once every worker reported its end.

A non-chief worker that dies does not stop the others: the launcher restarts it (up to
--max_worker_restarts times) and it rejoins the run; without a restart left the run goes on
without it. A failed chief, Ctrl-C, SIGTERM or --timeout_secs stop the cluster in order: the
workers first (the chief first under --sync_replicas, whose stop ends every worker's step),
then the chief, which saves its final checkpoint, and only then the parameter servers that
hold the variables. A second Ctrl-C kills what still runs.

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
    cwd: the processes' folder, against which relative paths in `train_args` resolve;
      by default the caller's.
  """

  def __init__(self, train_args, num_ps=1, num_workers=2, use_tf_config=False, log_dir=None,
               echo=True, cwd=None):
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
    self.cwd = os.path.abspath(cwd or os.getcwd())
    self.sync_replicas = any(arg in ('--sync_replicas', '--sync_replicas=true',
                                     '--sync_replicas=True', '--sync_replicas=1')
                             for arg in self.train_args)
    self.restarts = {}  # (job, index) -> restarts so far
    self.events = []  # the launcher's own lines
    self._stopped = set()  # processes the launcher stopped
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
    process = subprocess.Popen(command, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               errors='replace', start_new_session=True)
    self.processes[(job, index)] = process
    self.say(f'started {job}{index} (pid {process.pid})')
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

  def say(self, message):
    """Prints a line of the launcher's own, `[launcher] message`."""
    with self._lock:
      self.events.append(message)
      if self.echo:
        print(f'[launcher] {message}', flush=True)

  def wait(self, timeout_secs, ps_grace_secs=60, max_worker_restarts=0):
    """Waits for the workers to end, then for the parameter servers to stop by themselves.

    A non-chief worker that fails is restarted, up to `max_worker_restarts` times, and
    rejoins; after that the others go on without it. A failed chief stops the cluster in
    order (see `stop`).

    Returns:
      {task name: return code}; None for a process that the launcher stopped (a
      parameter server that did not stop by itself within `ps_grace_secs` of the last
      worker, or one that waited for a worker given up).

    Raises:
      TimeoutError: the workers did not end within `timeout_secs` (the cluster is then
        stopped in order).
    """
    deadline = time.monotonic() + timeout_secs
    workers = [task for task in self.tasks if task[0] == 'worker']
    given_up = set()
    while True:
      for task in workers:
        process = self.processes[task]
        code = process.poll()
        if code in (None, 0) or process in given_up:
          continue
        name = f'{task[0]}{task[1]}'
        if task[1] == 0:
          if self.sync_replicas:
            # Its end closed the token queue: the others end by themselves.
            self.say(f'the chief ({name}) exited with status {code}; the others end with '
                     'its synchronous run')
            self._wait_all(ps_grace_secs)
          else:
            self.say(f'the chief ({name}) exited with status {code}: stopping the cluster')
          self.stop()
          return self._codes()
        used = self.restarts.get(task, 0)
        if used < max_worker_restarts:
          self.restarts[task] = used + 1
          self.say(f'{name} exited with status {code}; restarting it ({used + 1} of '
                   f'--max_worker_restarts={max_worker_restarts})')
          self.start_task(*task)
        else:
          given_up.add(process)
          self.say(f'{name} exited with status {code}; the others go on without it (no '
                   f'restart left of --max_worker_restarts={max_worker_restarts})')
      if all(self.processes[task].poll() is not None for task in workers):
        break
      if time.monotonic() > deadline:
        self.say(f'the workers did not finish within {timeout_secs} s: stopping the cluster')
        self.stop()
        raise TimeoutError(f'the workers did not finish within {timeout_secs} s')
      time.sleep(0.2)
    # A parameter server would wait for a worker given up: no use.
    self._wait_all(0 if given_up else ps_grace_secs)
    self.stop()
    for reader in self._readers.values():
      reader.join(10)
    return self._codes()

  def _wait_all(self, timeout_secs):
    deadline = time.monotonic() + timeout_secs
    for process in self.processes.values():
      try:
        process.wait(max(0.0, deadline - time.monotonic()))
      except subprocess.TimeoutExpired:
        pass

  def _codes(self):
    return {f'{job}{index}': (None if self.processes[(job, index)] in self._stopped
                              else self.processes[(job, index)].returncode)
            for job, index in self.tasks}

  def stop(self, worker_grace_secs=30, chief_grace_secs=120, ps_grace_secs=10):
    """Stops every process still running, in an order that keeps the run's work.

    The workers go first, then the chief, which saves its final checkpoint, then the
    parameter servers, which hold the variables it saves. Under --sync_replicas the chief
    goes first: its stop ends every worker's step, while a worker stopped first would
    leave it waiting for that worker's gradients. Each gets SIGTERM, and SIGKILL if it has
    not exited within its grace.
    """
    chief, others = [('worker', 0)], [t for t in self.tasks if t[0] == 'worker' and t[1]]
    workers = [(chief, chief_grace_secs), (others, worker_grace_secs)]
    if not self.sync_replicas:
      workers.reverse()
    stages = workers + [([t for t in self.tasks if t[0] == 'ps'], ps_grace_secs)]
    for tasks, grace_secs in stages:
      running = [task for task in tasks
                 if task in self.processes and self.processes[task].poll() is None]
      if not running:
        continue
      names = ', '.join(f'{job}{index}' for job, index in running)
      self.say(f'stopping {names}' + (' (the chief saves its final checkpoint)'
                                      if ('worker', 0) in running else ''))
      for task in running:
        self._stopped.add(self.processes[task])
        self.signal_task(*task, signal.SIGTERM)
      deadline = time.monotonic() + grace_secs
      for task in running:
        try:
          self.processes[task].wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
          self.say(f'{task[0]}{task[1]} did not stop within {grace_secs} s: killing it')
          self.signal_task(*task, signal.SIGKILL)
          self.processes[task].wait(10)

  def kill(self):
    """Kills every process still running at once (SIGKILL)."""
    for task, process in self.processes.items():
      if process.poll() is None:
        self._stopped.add(process)
        self.signal_task(*task, signal.SIGKILL)
        process.wait(10)

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
  flags.DEFINE_integer('max_worker_restarts', 0, 'Times a non-chief worker that died is '
                       'restarted (it rejoins the run); past them the others go on without '
                       'it.', lower_bound=0, flag_values=fv)


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
    try:
      cluster.start()
      codes = cluster.wait(FLAGS.timeout_secs, max_worker_restarts=FLAGS.max_worker_restarts)
    except KeyboardInterrupt:
      cluster.say('interrupted: stopping the cluster in order (Ctrl-C again kills it)')
      try:
        cluster.stop()
      except KeyboardInterrupt:
        cluster.say('interrupted again: killing every process')
        cluster.kill()
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
