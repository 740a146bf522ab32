"""Deploys a model as several clones (data parallelism) on one or many machines.

TF-Slim's `model_deploy` API and semantics:
- the clones share one set of variables, created by the first clone;
- each clone's loss is scaled by 1/num_clones, so the summed gradient is the gradient of
  the mean loss over the global batch;
- the regularization losses are added once (to the first clone's loss);
- the clones' gradients are summed on the variables' device;
- the batch-norm update ops are those of the first clone.

Unlike TF-Slim, asking for more GPU clones than the machine has puts the clones on the
CPU with a logged notice, instead of failing at placement; and with parameter servers the
clones, inputs and optimizer name this replica's task (`/job:worker/task:N`), where
TF-Slim's bare `/job:worker` let them land on any worker of the cluster.

Usage:
  config = model_deploy.DeploymentConfig(num_clones=2)
  with tf1.device(config.variables_device()):
    global_step = tf.compat.v1.train.get_or_create_global_step()
  with tf1.device(config.inputs_device()):
    images, labels = ...
  with tf1.device(config.optimizer_device()):
    optimizer = tf.compat.v1.train.MomentumOptimizer(0.01, 0.9)
  model = model_deploy.deploy(config, model_fn, args=[images, labels], optimizer=optimizer)
"""

import collections
import contextlib

from absl import logging
import tensorflow as tf
import tf_slim as slim

tf1 = tf.compat.v1

__all__ = ['create_clones', 'deploy', 'optimize_clones', 'DeployedModel',
           'DeploymentConfig', 'Clone']

# outputs: whatever model_fn returned; scope: the clone's name scope; device: its device.
Clone = collections.namedtuple('Clone', ['outputs', 'scope', 'device'])

DeployedModel = collections.namedtuple(
    'DeployedModel', ['train_op', 'summary_op', 'total_loss', 'clones'])

# Ops that hold a variable's state and so belong on a parameter server.
_VARIABLE_OPS = ('Variable', 'VariableV2', 'VarHandleOp')


def _num_gpus():
  return len(tf.config.list_physical_devices('GPU'))


class DeploymentConfig:
  """Where the clones, inputs, optimizer and variables of a deployment go.

  Args:
    num_clones: clones per replica (machine).
    clone_on_cpu: put the clones on the CPU even where there are GPUs.
    replica_id: index of this replica (worker task).
    num_replicas: number of replicas (worker tasks).
    num_ps_tasks: number of parameter-server tasks; 0 keeps variables on this machine.
    worker_job_name: job name of the workers in the cluster spec.
    ps_job_name: job name of the parameter servers in the cluster spec.

  Raises:
    ValueError: the arguments are inconsistent.
  """

  def __init__(self, num_clones=1, clone_on_cpu=False, replica_id=0, num_replicas=1,
               num_ps_tasks=0, worker_job_name='worker', ps_job_name='ps'):
    if num_clones < 1:
      raise ValueError(f'num_clones must be at least 1, got {num_clones}')
    if num_replicas < 1:
      raise ValueError(f'num_replicas must be at least 1, got {num_replicas}')
    if not 0 <= replica_id < num_replicas:
      raise ValueError(f'replica_id must be in [0, {num_replicas}), got {replica_id}')
    if num_ps_tasks < 0:
      raise ValueError(f'num_ps_tasks must not be negative, got {num_ps_tasks}')
    if num_replicas > 1 and num_ps_tasks < 1:
      raise ValueError('num_replicas > 1 needs num_ps_tasks > 0 to hold the shared variables')
    if num_ps_tasks > 0 and (not worker_job_name or not ps_job_name):
      raise ValueError('worker_job_name and ps_job_name are needed with num_ps_tasks > 0')
    if not clone_on_cpu and _num_gpus() < num_clones:
      logging.info('%d clone(s) asked for but %d GPU(s) visible: the clones run on the CPU',
                   num_clones, _num_gpus())
      clone_on_cpu = True
    self._num_clones = num_clones
    self._clone_on_cpu = clone_on_cpu
    self._replica_id = replica_id
    self._num_replicas = num_replicas
    self._num_ps_tasks = num_ps_tasks
    self._ps_device = f'/job:{ps_job_name}' if num_ps_tasks > 0 else ''
    self._worker_device = (f'/job:{worker_job_name}/task:{replica_id}' if num_ps_tasks > 0
                           else '')
    # One round-robin counter for every variable of the graph, whichever device scope
    # places it: all workers build the same graph, so each variable gets the same task.
    self._ps_strategy = tf1.train.replica_device_setter(
        ps_tasks=num_ps_tasks, ps_device=self._ps_device + '/device:CPU:0') if (
            num_ps_tasks > 0) else None

  @property
  def num_clones(self):
    return self._num_clones

  @property
  def clone_on_cpu(self):
    return self._clone_on_cpu

  @property
  def replica_id(self):
    return self._replica_id

  @property
  def num_replicas(self):
    return self._num_replicas

  @property
  def num_ps_tasks(self):
    return self._num_ps_tasks

  @property
  def ps_device(self):
    return self._ps_device

  @property
  def worker_device(self):
    return self._worker_device

  def caching_device(self):
    """Device to cache variables on: the CPU of this worker when they live on PS tasks."""
    if self._num_ps_tasks > 0:
      return lambda op: op.device
    return None

  def clone_device(self, clone_index):
    """Device of clone `clone_index`: a GPU each, or the CPU."""
    if not 0 <= clone_index < self._num_clones:
      raise ValueError(f'clone_index must be in [0, {self._num_clones}), got {clone_index}')
    device = self._worker_device
    if self._clone_on_cpu:
      device += '/device:CPU:0'
    else:
      device += f'/device:GPU:{clone_index}'
    return device

  def clone_scope(self, clone_index):
    """Name scope of clone `clone_index`: '' for a single clone, else 'clone_N'."""
    if not 0 <= clone_index < self._num_clones:
      raise ValueError(f'clone_index must be in [0, {self._num_clones}), got {clone_index}')
    return f'clone_{clone_index}' if self._num_clones > 1 else ''

  def optimizer_device(self):
    """Device of the optimizer's own ops: this worker's CPU."""
    return self._worker_device + '/device:CPU:0'

  def inputs_device(self):
    """Device of the input pipeline: this worker's CPU."""
    return self._worker_device + '/device:CPU:0'

  def variables_device(self):
    """Device (or device function) for variables: round-robin over the PS tasks, if any."""
    device = self._ps_device + '/device:CPU:0'
    if self._num_ps_tasks == 0:
      return device

    def place(op):
      return self._place_variable(op) or device
    return place

  def _place_variable(self, op):
    """A variable op not yet placed goes to the next PS task; any other op stays as is."""
    if not op.device and op.node_def.op in _VARIABLE_OPS:
      return self._ps_strategy(op)
    return op.device

  def clone_variables_scope(self):
    """A device scope, inside a clone's, that sends the clone's new variables to the PS.

    The arg_scope of `create_clones` alone does not: a network re-enters its family's saved
    arg_scope (as nets_factory does), which replaces the arg_scope around it.
    """
    if self._num_ps_tasks == 0:
      return contextlib.nullcontext()
    return tf1.device(self._place_variable)


def create_clones(config, model_fn, args=None, kwargs=None):
  """Calls `model_fn(*args, **kwargs)` once per clone, sharing the variables.

  `model_fn` adds its losses with `tf.compat.v1.losses` so that each clone's losses can be
  found in its scope.

  Returns:
    A list of `Clone`.
  """
  args = args or []
  kwargs = kwargs or {}
  clones = []
  with slim.arg_scope([slim.model_variable, slim.variable],
                      device=config.variables_device()):
    for index in range(config.num_clones):
      with tf1.name_scope(config.clone_scope(index)) as clone_scope:
        with tf1.device(config.clone_device(index)), config.clone_variables_scope():
          with tf1.variable_scope(tf1.get_variable_scope(), reuse=index > 0):
            outputs = model_fn(*args, **kwargs)
          clones.append(Clone(outputs, clone_scope, config.clone_device(index)))
  return clones


def _gather_clone_loss(clone, num_clones, regularization_losses):
  """The clone's loss (scaled by 1/num_clones) plus `regularization_losses`, with summaries."""
  with tf1.device(clone.device):
    all_losses = []
    clone_losses = tf1.losses.get_losses(clone.scope)
    clone_loss = None
    if clone_losses:
      clone_loss = tf.add_n(clone_losses, name='clone_loss')
      if num_clones > 1:
        clone_loss = tf.math.divide(clone_loss, 1.0 * num_clones, name='scaled_clone_loss')
      all_losses.append(clone_loss)
    regularization_loss = None
    if regularization_losses:
      regularization_loss = tf.add_n(regularization_losses, name='regularization_loss')
      all_losses.append(regularization_loss)
    sum_loss = tf.add_n(all_losses) if all_losses else None
  if clone_loss is not None:
    tf1.summary.scalar('/'.join(filter(None, ['Losses', clone.scope, 'clone_loss'])),
                       clone_loss)
  if regularization_loss is not None:
    tf1.summary.scalar('Losses/regularization_loss', regularization_loss)
  return sum_loss


def _optimize_clone(optimizer, clone, num_clones, regularization_losses, **kwargs):
  sum_loss = _gather_clone_loss(clone, num_clones, regularization_losses)
  clone_grad = None
  if sum_loss is not None:
    with tf1.device(clone.device):
      clone_grad = optimizer.compute_gradients(sum_loss, **kwargs)
  return sum_loss, clone_grad


def _sum_clones_gradients(clone_grads):
  """Sums each variable's gradients over the clones, on the variable's device."""
  sum_grads = []
  for grad_and_vars in zip(*clone_grads):
    grads = [g for g, _ in grad_and_vars if g is not None]
    var = grad_and_vars[0][1]
    if not grads:
      continue
    with tf1.device(var.device):
      if len(grads) > 1:
        summed = tf.add_n(grads, name=var.op.name + '/sum_grads')
      else:
        summed = grads[0]
    sum_grads.append((summed, var))
  return sum_grads


def optimize_clones(clones, optimizer, regularization_losses=None, **kwargs):
  """Computes the clones' summed gradients and the total loss.

  Args:
    clones: from `create_clones`.
    optimizer: a `tf.compat.v1.train.Optimizer`.
    regularization_losses: added once; None collects them from the graph.
    **kwargs: passed to `optimizer.compute_gradients` (e.g. var_list).

  Returns:
    (total_loss, grads_and_vars).
  """
  grads_and_vars = []
  clones_losses = []
  num_clones = len(clones)
  if regularization_losses is None:
    regularization_losses = tf1.get_collection(tf1.GraphKeys.REGULARIZATION_LOSSES)
  for clone in clones:
    with tf1.name_scope(clone.scope):
      clone_loss, clone_grad = _optimize_clone(optimizer, clone, num_clones,
                                               regularization_losses, **kwargs)
      if clone_loss is not None:
        clones_losses.append(clone_loss)
        grads_and_vars.append(clone_grad)
      # Only the first clone carries the regularization losses.
      regularization_losses = None
  total_loss = tf.add_n(clones_losses, name='total_loss')
  return total_loss, _sum_clones_gradients(grads_and_vars)


def deploy(config, model_fn, args=None, kwargs=None, optimizer=None,
           summarize_gradients=False):
  """Creates the clones and, given an optimizer, the train op.

  Returns:
    A `DeployedModel`; without an optimizer, train_op is None and total_loss is the sum of
    the clones' losses.
  """
  summaries = set(tf1.get_collection(tf1.GraphKeys.SUMMARIES))
  with tf1.device(config.variables_device()):
    global_step = tf1.train.get_or_create_global_step()
  clones = create_clones(config, model_fn, args, kwargs)
  first_clone = clones[0]
  update_ops = tf1.get_collection(tf1.GraphKeys.UPDATE_OPS, first_clone.scope)
  train_op = None
  total_loss = None
  with tf1.device(config.optimizer_device()):
    if optimizer:
      total_loss, grads_and_vars = optimize_clones(clones, optimizer)
      if grads_and_vars:
        if summarize_gradients:
          summaries |= set(_add_gradients_summaries(grads_and_vars))
        grad_updates = optimizer.apply_gradients(grads_and_vars, global_step=global_step)
        update_ops.append(grad_updates)
        update_op = tf.group(*update_ops)
        with tf.control_dependencies([update_op]):
          train_op = tf.identity(total_loss, name='train_op')
    else:
      clones_losses = []
      regularization_losses = tf1.get_collection(tf1.GraphKeys.REGULARIZATION_LOSSES)
      for clone in clones:
        with tf1.name_scope(clone.scope):
          clone_loss = _gather_clone_loss(clone, len(clones), regularization_losses)
          if clone_loss is not None:
            clones_losses.append(clone_loss)
          regularization_losses = None
      if clones_losses:
        total_loss = tf.add_n(clones_losses, name='total_loss')
  summaries |= set(tf1.get_collection(tf1.GraphKeys.SUMMARIES, first_clone.scope))
  if total_loss is not None:
    summaries.add(tf1.summary.scalar('total_loss', total_loss))
  summary_op = tf1.summary.merge(list(summaries), name='summary_op') if summaries else None
  return DeployedModel(train_op, summary_op, total_loss, clones)


def _add_gradients_summaries(grads_and_vars):
  summaries = []
  for grad, var in grads_and_vars:
    if grad is None:
      continue
    values = grad.values if isinstance(grad, tf.IndexedSlices) else grad
    summaries.append(tf1.summary.histogram(var.op.name + '/gradient', values))
    summaries.append(tf1.summary.scalar(var.op.name + '/gradient_norm',
                                        tf.linalg.global_norm([values])))
  return summaries
