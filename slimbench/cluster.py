"""Multi-machine training on TensorFlow's own runtime: which task this process is, its
server, and when the parameter servers stop.

Between-graph replication, as TF-Slim and TensorFlow's classic distributed examples do it:
every worker builds the whole training graph, `model_deploy` places the variables
round-robin on the parameter servers and the clones on the worker's own task, and the
worker runs the graph through its own `tf.distribute.Server`. Worker 0 is the chief: it
initializes (or restores) the variables and writes checkpoints and summaries; the other
workers wait until it has.

A process learns its task from TensorFlow's classic flags (`--job_name`, `--task`,
`--ps_hosts`, `--worker_hosts`) or from the `TF_CONFIG` environment variable:

  {"cluster": {"ps": ["h0:2222"], "worker": ["h1:2222", "h2:2222"]},
   "task": {"type": "worker", "index": 0}}

A `chief` (or older `master`) job in TF_CONFIG becomes worker 0, the `worker` job follows.

A parameter server has no end of its own: it serves until every worker has said that its
training finished. Each worker, when it reaches the end, puts its task index into a small
queue kept on every parameter server, and a parameter server exits once it has seen every
worker. A worker stopped by a signal or an error says nothing, so that the parameter
servers keep the state for its restart; except the chief of synchronous training, whose
stop ends every worker's sync steps and so the whole run. Ctrl-C or SIGTERM stop a
parameter server at once.

No wait is endless (`--cluster_wait_secs`, 300 s by default): a worker waits that long for
the parameter servers to answer at its start, and stops within 30 s of losing one (its
variables are gone with it); a worker of synchronous training stops once the chief, whose
tokens its steps wait for, has been unreachable that long; a parameter server whose
unfinished workers have all been unreachable that long stops with an error naming them.
Each wait names the task it waits for, and Ctrl-C ends it (exit status 130; a step stuck
waiting for another task ends at a second Ctrl-C, without a final checkpoint).

Usage:
  cluster_config, task = cluster.resolve(cluster_config)  # task None on one machine
  if task and task.job_name == 'ps':
    cluster.serve(task)
  server = cluster.start_server(task)
  if not task.is_chief:
    cluster.wait_for_chief(server.target, task.task_index)
  with tf.compat.v1.train.MonitoredTrainingSession(
      master=server.target, is_chief=task.is_chief,
      config=cluster.session_config(task.task_index)) as session: ...
  cluster.report_done(task, server)
"""

import collections
import dataclasses
import json
import os
import socket
import threading
import time

from absl import logging
import tensorflow as tf

from slimbench import config

tf1 = tf.compat.v1

PS_JOB = 'ps'
WORKER_JOB = 'worker'
# How long a worker waits for the chief to initialize the variables, as
# MonitoredTrainingSession's max_wait_secs does for workers.
CHIEF_WAIT_SECS = 2 * 60 * 60
# How long a finished worker tries to reach the parameter servers to say so.
REPORT_DONE_SECS = 30
# --cluster_wait_secs by default: how long a task waits for another that has not answered.
CLUSTER_WAIT_SECS = 300
# The longest a worker goes on without a parameter server it had reached: its variables,
# and so the run, are gone with it.
PS_LOST_SECS = 30
# Seconds between the checks that a needed task still listens.
_PROBE_SECS = 1.0
_DONE_QUEUE = 'slimbench_workers_done'
_DONE_QUEUE_CAPACITY = 1024
_TF_CONFIG_CHIEF_JOBS = ('chief', 'master')


@dataclasses.dataclass(frozen=True)
class Task:
  """This process's place in the cluster (chief and workers merged into one worker job)."""
  ps_hosts: tuple
  worker_hosts: tuple
  job_name: str
  task_index: int
  source: str  # where the cluster came from, for messages
  wait_secs: float = CLUSTER_WAIT_SECS  # --cluster_wait_secs

  @property
  def is_chief(self):
    return self.job_name == WORKER_JOB and self.task_index == 0

  @property
  def num_ps_tasks(self):
    return len(self.ps_hosts)

  @property
  def num_workers(self):
    return len(self.worker_hosts)

  @property
  def device(self):
    return f'/job:{self.job_name}/task:{self.task_index}'

  @property
  def address(self):
    hosts = self.ps_hosts if self.job_name == PS_JOB else self.worker_hosts
    return hosts[self.task_index]

  def cluster_spec(self):
    jobs = {WORKER_JOB: list(self.worker_hosts)}
    if self.ps_hosts:
      jobs[PS_JOB] = list(self.ps_hosts)
    return tf.train.ClusterSpec(jobs)


def session_config(worker_index):
  """The session config of worker `worker_index`.

  The device filters let the worker see only the parameter servers and its own task, so
  that its session neither waits for the other workers (one may be down and restarting)
  nor places anything on them.
  """
  return tf1.ConfigProto(device_filters=[f'/job:{PS_JOB}',
                                         f'/job:{WORKER_JOB}/task:{worker_index}'])


def _split_hosts(value, what):
  hosts = [host.strip() for host in value.split(',')] if value else []
  for host in hosts:
    name, _, port = host.rpartition(':')
    if not name or not port.isdigit() or not 0 < int(port) < 65536:
      raise ValueError(f'{what}: {host!r} is not host:port (e.g. 10.0.0.1:2222), in {value!r}')
  return tuple(hosts)


def _from_flags(cluster_config):
  if not cluster_config.job_name:
    raise ValueError('--ps_hosts/--worker_hosts need --job_name=ps or --job_name=worker '
                     '(and --task, this process\'s index in its job)')
  if not cluster_config.worker_hosts:
    raise ValueError('--job_name needs --worker_hosts, the comma-separated host:port of the '
                     'workers (chief first), and --ps_hosts, those of the parameter servers')
  return Task(ps_hosts=_split_hosts(cluster_config.ps_hosts, '--ps_hosts'),
              worker_hosts=_split_hosts(cluster_config.worker_hosts, '--worker_hosts'),
              job_name=cluster_config.job_name, task_index=cluster_config.task,
              source='--ps_hosts/--worker_hosts')


def _from_tf_config(tf_config):
  cluster, task = tf_config.get('cluster') or {}, tf_config.get('task') or {}
  if not isinstance(cluster, dict) or not isinstance(task, dict):
    raise ValueError('TF_CONFIG: "cluster" and "task" must be JSON objects')
  known = {PS_JOB, WORKER_JOB, *_TF_CONFIG_CHIEF_JOBS}
  unknown = sorted(set(cluster) - known)
  if unknown:
    raise ValueError(f'TF_CONFIG: job(s) {", ".join(unknown)} in "cluster" are not one of '
                     f'{", ".join(sorted(known))} (evaluation runs apart, as '
                     'eval_image_classifier.py --wait_for_checkpoints)')

  def hosts(job):
    value = cluster.get(job) or []
    if not isinstance(value, list):
      raise ValueError(f'TF_CONFIG: cluster "{job}" must be a list of host:port')
    return _split_hosts(','.join(value), f'TF_CONFIG cluster "{job}"')

  chiefs = hosts('chief') + hosts('master')
  if len(chiefs) > 1:
    raise ValueError(f'TF_CONFIG: one chief at most, got {", ".join(chiefs)}')
  task_type, index = task.get('type'), task.get('index', 0)
  if not isinstance(index, int) or index < 0:
    raise ValueError(f'TF_CONFIG: task "index" must be a non-negative integer, got {index!r}')
  if task_type in _TF_CONFIG_CHIEF_JOBS:
    if index != 0:
      raise ValueError(f'TF_CONFIG: the {task_type} has index 0, got {index}')
    job_name = WORKER_JOB
  elif task_type == WORKER_JOB:
    job_name, index = WORKER_JOB, index + len(chiefs)
  elif task_type == PS_JOB:
    job_name = PS_JOB
  elif task_type == 'evaluator':
    raise ValueError('TF_CONFIG: task type "evaluator" is not a training task: run '
                     'eval_image_classifier.py --wait_for_checkpoints beside the training')
  else:
    raise ValueError(f'TF_CONFIG: task "type" must be one of ps, worker, chief, got '
                     f'{task_type!r}')
  return Task(ps_hosts=hosts(PS_JOB), worker_hosts=chiefs + hosts(WORKER_JOB),
              job_name=job_name, task_index=index, source='TF_CONFIG')


def _read_tf_config(environ):
  text = environ.get('TF_CONFIG', '').strip()
  if not text:
    return {}
  try:
    tf_config = json.loads(text)
  except json.JSONDecodeError as error:
    raise ValueError(f'TF_CONFIG is not valid JSON ({error})') from None
  if not isinstance(tf_config, dict):
    raise ValueError('TF_CONFIG must be a JSON object with "cluster" and "task"')
  return tf_config


# The ClusterConfig fields that a cluster description determines.
RESOLVED_FIELDS = ('task', 'num_ps_tasks', 'worker_replicas')


def _check_agrees(cluster_config, name, value, source):
  """A value given by hand must be the one the cluster gives."""
  given = getattr(cluster_config, name)
  if name in cluster_config.given and given != value:
    raise ValueError(f'--{name}={given} disagrees with {source}, which gives '
                     f'{value}; leave --{name} out')


def resolve(cluster_config, environ=None):
  """This process's task, from the flags or TF_CONFIG; None when there is no cluster.

  The returned config has `task`, `num_ps_tasks` and `worker_replicas` of the cluster, so
  that the rest of training (device placement, input shards, the learning-rate schedule)
  reads them as on one machine.

  Args:
    cluster_config: a `config.ClusterConfig` as the flags give it.
    environ: the environment holding TF_CONFIG; os.environ by default.

  Returns:
    (the resolved `config.ClusterConfig`, a `Task`), or (`cluster_config`, None) for one
    machine or `--master` of a server started elsewhere.

  Raises:
    ValueError: the cluster description is incomplete or inconsistent.
  """
  environ = os.environ if environ is None else environ
  tf_config = _read_tf_config(environ)
  by_flags = bool(cluster_config.job_name or cluster_config.ps_hosts or
                  cluster_config.worker_hosts)
  if by_flags and tf_config.get('cluster'):
    raise ValueError('the cluster is given twice, by --job_name/--ps_hosts/--worker_hosts and '
                     'by TF_CONFIG: keep one (unset TF_CONFIG or leave the flags out)')
  if by_flags:
    task = _from_flags(cluster_config)
  elif tf_config.get('cluster'):
    task = _from_tf_config(tf_config)
  elif tf_config.get('task'):
    raise ValueError('TF_CONFIG has a "task" but no "cluster" of ps and worker addresses')
  else:
    return cluster_config, None

  if cluster_config.master:
    raise ValueError(f'--master is for a server started elsewhere; with {task.source} this '
                     'process starts its own server: leave --master out')
  hosts = task.ps_hosts if task.job_name == PS_JOB else task.worker_hosts
  if not 0 <= task.task_index < len(hosts):
    raise ValueError(f'task {task.task_index} of job {task.job_name} does not exist: '
                     f'{task.source} lists {len(hosts)} {task.job_name} task(s)')
  if task.num_workers > 1 and not task.ps_hosts:
    raise ValueError(f'{task.num_workers} workers share their variables through parameter '
                     f'servers: {task.source} lists none')
  if len(set(task.ps_hosts + task.worker_hosts)) < len(task.ps_hosts + task.worker_hosts):
    raise ValueError(f'{task.source}: every task needs its own host:port')
  task = dataclasses.replace(task, wait_secs=cluster_config.cluster_wait_secs)
  resolved = {'task': task.task_index, 'num_ps_tasks': task.num_ps_tasks,
              'worker_replicas': task.num_workers}
  for name in RESOLVED_FIELDS:
    _check_agrees(cluster_config, name, resolved[name], task.source)
  return dataclasses.replace(cluster_config, **resolved), task


def start_server(task):
  """Starts this task's `tf.distribute.Server` (it listens on all interfaces at its port).

  Raises:
    ValueError: the server cannot start (the port is taken, most often).
  """
  try:
    server = tf.distribute.Server(task.cluster_spec(), job_name=task.job_name,
                                  task_index=task.task_index, start=True)
  except tf.errors.OpError as error:
    raise ValueError(f'cannot start the server of {task.device} at {task.address} '
                     f'({error.message}); is the port in use?') from None
  logging.info('%s serving at %s (cluster from %s: %d parameter server(s), %d worker(s))',
               task.device, task.address, task.source, task.num_ps_tasks, task.num_workers)
  if task.job_name == WORKER_JOB and task.ps_hosts:
    # TensorFlow's session would wait for them without a limit, deaf to Ctrl-C.
    wait_for_parameter_servers(task)
    global _watch
    _watch = _ClusterWatch(task)
    _watch.start()
  return server


def _listening(address, timeout_secs=1.0):
  """Whether a server accepts connections at host:port."""
  host, _, port = address.rpartition(':')
  try:
    with socket.create_connection((host.strip('[]'), int(port)), timeout=timeout_secs):
      return True
  except OSError:
    return False


def _interrupted(what):
  """Ends the process as Ctrl-C asks, with one line instead of a traceback."""
  logging.error('interrupted while %s', what)
  raise SystemExit(130)


def wait_for_parameter_servers(task):
  """Waits until every parameter server listens; at most `task.wait_secs`.

  Raises:
    TimeoutError: naming the parameter servers that did not answer.
  """
  deadline = time.monotonic() + task.wait_secs
  next_notice = time.monotonic()
  try:
    while True:
      missing = [f'/job:{PS_JOB}/task:{i} at {host}' for i, host in enumerate(task.ps_hosts)
                 if not _listening(host)]
      if not missing:
        return
      now = time.monotonic()
      if now > deadline:
        raise TimeoutError(f'{task.device}: the parameter server {", ".join(missing)} did '
                           f'not answer within {task.wait_secs:g} s (--cluster_wait_secs); '
                           'is it running?')
      if now >= next_notice:
        logging.info('%s: waiting for the parameter server %s', task.device,
                     ', '.join(missing))
        next_notice = now + 10
      time.sleep(_PROBE_SECS)
  except KeyboardInterrupt:
    _interrupted(f'waiting for the parameter servers of {task.device}')


class _ClusterWatch(threading.Thread):
  """Ends a worker that has lost a parameter server, or (`watch_chief`) the chief of
  synchronous training.

  TensorFlow takes a lost parameter server for a passing failure and waits, without a
  limit, to build the session again; the variables it held are gone, so this worker can
  only stop. A synchronous step waits, without a limit either, for a token that only the
  chief hands out: a chief gone for `task.wait_secs` (time for a restart) ends the worker.
  The process exits at once with status 1 (no Python code of the main thread runs while
  TensorFlow waits); the chief's checkpoints on disk are what a restart resumes.
  """

  def __init__(self, task):
    super().__init__(name='cluster_watch', daemon=True)
    self.task = task
    self.lost_secs = min(PS_LOST_SECS, task.wait_secs)
    self.finished = threading.Event()
    self.chief_watched = False

  def run(self):
    last_seen = {host: time.monotonic() for host in self.task.ps_hosts}
    chief_host, chief_seen = self.task.worker_hosts[0], time.monotonic()
    while not self.finished.wait(_PROBE_SECS):
      for index, host in enumerate(self.task.ps_hosts):
        now = time.monotonic()
        if _listening(host):
          last_seen[host] = now
        elif now - last_seen[host] > self.lost_secs and not self.finished.is_set():
          logging.error('%s: lost the parameter server /job:%s/task:%d at %s (no answer for '
                        '%.0f s); stopping. Restart it, then the chief (it restores the '
                        'latest checkpoint) and the workers', self.task.device, PS_JOB, index,
                        host, now - last_seen[host])
          logging.flush()
          os._exit(1)  # pylint: disable=protected-access
      if not self.chief_watched:
        continue
      now = time.monotonic()
      if _listening(chief_host):
        chief_seen = now
      elif now - chief_seen > self.task.wait_secs and not self.finished.is_set():
        logging.error('%s: the chief /job:%s/task:0 at %s, whose tokens every synchronous '
                      'step waits for, has not answered for %.0f s (--cluster_wait_secs); '
                      'stopping. Restart the chief (it restores the latest checkpoint), then '
                      'this worker', self.task.device, WORKER_JOB, chief_host,
                      now - chief_seen)
        logging.flush()
        os._exit(1)  # pylint: disable=protected-access


def watch_chief():
  """Makes this (non-chief) worker's watch end it once the chief has been gone for
  --cluster_wait_secs: its synchronous steps cannot end without the chief."""
  if _watch is not None:
    _watch.chief_watched = True


_watch = None  # this worker's _ClusterWatch, once started


class SyncReplicasHook(tf1.train.SessionRunHook):
  """`SyncReplicasOptimizer.make_session_run_hook`, with a chief thread that ends quietly.

  At the end of training the chief's aggregation thread waits for gradients that no worker
  will send, until closing the session cancels it. The optimizer's own queue runner takes
  that cancellation for a failure and dies with a traceback; this one takes it, like a
  closed queue, for the end. The thread still closes the token queue when the session
  stops, which frees any worker waiting for a token.

  Args:
    optimizer: a `tf.compat.v1.train.SyncReplicasOptimizer` whose apply_gradients ran.
    is_chief: whether this worker aggregates and applies the gradients.
  """

  def __init__(self, optimizer, is_chief):
    self._optimizer = optimizer
    self._is_chief = is_chief

  def begin(self):
    if self._is_chief:
      self._local_init_op = self._optimizer.chief_init_op
      runner = self._optimizer.get_chief_queue_runner()
      self._queue_runner = tf1.train.QueueRunner(
          runner.queue, runner.enqueue_ops, close_op=runner.close_op,
          cancel_op=runner.cancel_op,
          queue_closed_exception_types=(tf.errors.OutOfRangeError, tf.errors.CancelledError))
      self._init_tokens_op = self._optimizer.get_init_tokens_op()
    else:
      self._local_init_op = self._optimizer.local_step_init_op
      self._queue_runner = self._init_tokens_op = None

  def after_create_session(self, session, coord):
    uninitialized = session.run(self._optimizer.ready_for_local_init_op)
    if len(uninitialized):
      raise RuntimeError('synchronous training cannot start: variables not initialized: '
                         + ', '.join(name.decode() for name in uninitialized[:5]))
    session.run(self._local_init_op)
    if self._init_tokens_op is not None:
      session.run(self._init_tokens_op)
    if self._queue_runner is not None:
      self._queue_runner.create_threads(session, coord=coord, daemon=True, start=True)


def _done_queue(ps_index):
  """The queue on parameter server `ps_index` that finished workers write their index to.

  Workers and the parameter server each build it; the shared name makes them one queue.
  """
  with tf1.device(f'/job:{PS_JOB}/task:{ps_index}/device:CPU:0'):
    return tf1.FIFOQueue(_DONE_QUEUE_CAPACITY, [tf.int32], shapes=[()],
                         shared_name=_DONE_QUEUE, name=_DONE_QUEUE)


def serve(task, poll_secs=1.0):
  """Runs a parameter server until every worker has reported that it finished.

  A worker that is gone (not listening) keeps its place for `task.wait_secs`, so that it
  can be restarted; once every unfinished worker has been gone that long, the parameter
  server stops.

  Returns:
    A dict: job_name, task, seconds, workers_done.

  Raises:
    TimeoutError: naming the workers that went away without finishing.
  """
  start = time.time()
  server = start_server(task)
  done = set()
  last_seen = {index: time.monotonic() for index in range(task.num_workers)}
  next_probe = 0.0
  with tf.Graph().as_default():
    dequeue = _done_queue(task.task_index).dequeue()
    # A short timeout per wait keeps Ctrl-C working.
    options = tf1.RunOptions(timeout_in_ms=max(1, int(poll_secs * 1000)))
    config = tf1.ConfigProto(device_filters=[task.device])
    with tf1.Session(server.target, config=config) as session:
      try:
        while len(done) < task.num_workers:
          try:
            worker = int(session.run(dequeue, options=options))
          except tf.errors.DeadlineExceededError:
            worker = None
          if worker is not None and worker not in done:
            done.add(worker)
            logging.info('%s: worker %d finished (%d of %d)', task.device, worker, len(done),
                         task.num_workers)
          if time.monotonic() >= next_probe:
            _check_workers_alive(task, done, last_seen)
            next_probe = time.monotonic() + _PROBE_SECS
      except KeyboardInterrupt:
        _interrupted(f'{task.device} served, with {len(done)} of {task.num_workers} '
                     'workers finished')
  seconds = time.time() - start
  if len(done) == task.num_workers:
    logging.info('%s: every worker finished; stopping after %.1f s', task.device, seconds)
  return {'job_name': task.job_name, 'task': task.task_index, 'seconds': seconds,
          'workers_done': sorted(done)}


def _check_workers_alive(task, done, last_seen):
  """Raises TimeoutError when every unfinished worker has been gone for task.wait_secs."""
  now = time.monotonic()
  for index, host in enumerate(task.worker_hosts):
    if index not in done and _listening(host):
      last_seen[index] = now
  unfinished = [index for index in range(task.num_workers) if index not in done]
  if unfinished and all(now - last_seen[index] > task.wait_secs for index in unfinished):
    gone = ', '.join(f'/job:{WORKER_JOB}/task:{index} at {task.worker_hosts[index]}'
                     for index in unfinished)
    raise TimeoutError(f'{task.device}: stopping: the worker(s) {gone} went away (or never '
                       f'came) without finishing, and no restarted one answered within '
                       f'{task.wait_secs:g} s (--cluster_wait_secs); {len(done)} of '
                       f'{task.num_workers} workers finished')


def log_variable_placement(worker_index):
  """Logs, and returns, how many global variables of the graph each task holds."""
  placement = collections.Counter()
  for variable in tf1.global_variables():
    device = tf.DeviceSpec.from_string(variable.device)
    placement[f'/job:{device.job}/task:{device.task}' if device.job else 'local'] += 1
  logging.info('/job:%s/task:%d: variables on %s', WORKER_JOB, worker_index,
               ', '.join(f'{task}: {count}' for task, count in sorted(placement.items())))
  return dict(placement)


def wait_for_chief(master, worker_index, poll_secs=1.0, timeout_secs=CHIEF_WAIT_SECS):
  """Waits until the chief has initialized (or restored) every global variable.

  MonitoredTrainingSession makes a worker wait as well, but rechecks only every 30 s; this
  checks every `poll_secs`, so that a worker starts as soon as the chief is ready. Call it
  with the training graph as the default graph, before the session finalizes it.

  Args:
    master: the target of this worker's server.
    worker_index: this worker's task index.

  Raises:
    TimeoutError: the chief was not ready within `timeout_secs`.
  """
  device = f'/job:{WORKER_JOB}/task:{worker_index}'
  uninitialized = tf1.report_uninitialized_variables(tf1.global_variables())
  deadline = time.monotonic() + timeout_secs
  next_notice = time.monotonic()
  try:
    with tf1.Session(master, config=session_config(worker_index)) as session:
      while True:
        names = session.run(uninitialized)
        if not len(names):
          return
        now = time.monotonic()
        if now > deadline:
          raise TimeoutError(f'{device}: the chief (worker 0) did not initialize the '
                             f'variables within {timeout_secs} s; is it running?')
        if now >= next_notice:
          logging.info('%s: waiting for the chief (worker 0) to initialize %d variable(s)',
                       device, len(names))
          next_notice = now + 10
        time.sleep(poll_secs)
  except KeyboardInterrupt:
    _interrupted(f'{device} waited for the chief (worker 0)')


def report_done(task, server, timeout_secs=REPORT_DONE_SECS):
  """Tells every parameter server that this worker finished; gives up after `timeout_secs`.

  Returns:
    True if every parameter server heard it.
  """
  if not task.ps_hosts:
    return True
  if _watch is not None:
    # The parameter servers may stop as soon as they have heard every worker.
    _watch.finished.set()
  outcome = {}

  def enqueue():
    try:
      with tf.Graph().as_default():
        enqueues = [_done_queue(i).enqueue(task.task_index)
                    for i in range(task.num_ps_tasks)]
        config = session_config(task.task_index)
        config.operation_timeout_in_ms = timeout_secs * 1000
        with tf1.Session(server.target, config=config) as session:
          session.run(enqueues)
      outcome['ok'] = True
    except tf.errors.OpError as error:
      outcome['error'] = error.message

  # Creating a session waits for every parameter server without a time limit, hence the
  # thread: a parameter server that is gone must not keep this worker from exiting.
  thread = threading.Thread(target=enqueue, name='report_done', daemon=True)
  thread.start()
  thread.join(timeout_secs)
  if outcome.get('ok'):
    logging.info('%s: told the parameter server(s) that this worker finished', task.device)
    return True
  logging.warning('%s: could not tell the parameter servers that this worker finished '
                  '(%s); they keep serving until stopped by hand', task.device,
                  outcome.get('error', f'no answer within {timeout_secs} s'))
  return False
