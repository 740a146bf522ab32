"""model_deploy: clones share variables, and N clones take the same step as one clone."""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from deployment import model_deploy
from nets import layers

tf1 = tf.compat.v1

RNG = np.random.RandomState(0)
IMAGES = RNG.uniform(-1, 1, [8, 6, 6, 3]).astype(np.float32)
LABELS = RNG.randint(0, 4, [8]).astype(np.int64)
INITIAL = {
    'net/conv/weights': RNG.normal(0, 0.3, [3, 3, 3, 5]).astype(np.float32),
    'net/logits/weights': RNG.normal(0, 0.3, [5, 4]).astype(np.float32),
}


def _model_fn(batches, batch_norm=True):
  images, labels = batches.pop(0)
  # Batch norm normalizes each clone by its own batch, so clones equal one big batch only
  # without it.
  normalizer = dict(normalizer_fn=layers.batch_norm,
                    normalizer_params={'is_training': True}) if batch_norm else {}
  with tf1.variable_scope('net'):
    with slim.arg_scope([slim.conv2d, slim.fully_connected],
                        weights_regularizer=slim.l2_regularizer(0.01)):
      net = slim.conv2d(images, 5, [3, 3], scope='conv', **normalizer)
      net = tf.reduce_mean(net, [1, 2])
      logits = slim.fully_connected(net, 4, activation_fn=None, biases_initializer=None,
                                    scope='logits')
  tf1.losses.sparse_softmax_cross_entropy(labels, logits)
  return logits


def _one_step(num_clones):
  """Runs one SGD step over the 8 examples split between the clones; returns variables."""
  with tf.Graph().as_default():
    config = model_deploy.DeploymentConfig(num_clones=num_clones, clone_on_cpu=True)
    per_clone = len(IMAGES) // num_clones
    batches = [(tf.constant(IMAGES[i * per_clone:(i + 1) * per_clone]),
                tf.constant(LABELS[i * per_clone:(i + 1) * per_clone]))
               for i in range(num_clones)]
    model = model_deploy.deploy(config, _model_fn, args=[batches],
                                kwargs={'batch_norm': False},
                                optimizer=tf1.train.GradientDescentOptimizer(0.5))
    variables = {v.op.name: v for v in tf1.global_variables()}
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      for name, value in INITIAL.items():  # the same start in both graphs
        variables[name].load(value, sess)
      loss = sess.run(model.train_op)
      return loss, {name: sess.run(v) for name, v in variables.items()}, model


def test_two_clones_take_the_same_step_as_one():
  loss_one, after_one, _ = _one_step(1)
  loss_two, after_two, model = _one_step(2)
  assert len(model.clones) == 2
  assert [c.scope for c in model.clones] == ['clone_0/', 'clone_1/']
  np.testing.assert_allclose(after_one['net/conv/weights'], after_two['net/conv/weights'],
                             rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(after_one['net/logits/weights'],
                             after_two['net/logits/weights'], rtol=1e-4, atol=1e-6)
  assert not np.allclose(after_one['net/logits/weights'], INITIAL['net/logits/weights'])
  # The mean loss over the global batch, with the regularization counted once.
  np.testing.assert_allclose(loss_one, loss_two, rtol=1e-5)


def test_clones_share_variables_and_first_clone_owns_updates(graph):
  config = model_deploy.DeploymentConfig(num_clones=3, clone_on_cpu=True)
  batches = [(tf.constant(IMAGES[:2]), tf.constant(LABELS[:2])) for _ in range(3)]
  clones = model_deploy.create_clones(config, _model_fn, [batches])
  names = [v.op.name for v in tf1.global_variables()]
  assert len(names) == len(set(names)) == 5  # conv weights, 3 BatchNorm, logits weights
  model = model_deploy.optimize_clones(clones, tf1.train.GradientDescentOptimizer(0.1))
  total_loss, grads_and_vars = model
  assert len(grads_and_vars) == 3  # one summed gradient per trainable variable
  assert len(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS, clones[0].scope)) == 2
  assert total_loss.op.name == 'total_loss'


def test_regularization_losses_are_added_once(graph):
  config = model_deploy.DeploymentConfig(num_clones=2, clone_on_cpu=True)
  batches = [(tf.constant(IMAGES[:4]), tf.constant(LABELS[:4])) for _ in range(2)]
  model = model_deploy.deploy(config, _model_fn, args=[batches])
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    total, reg, clone_losses = sess.run([
        model.total_loss, tf1.losses.get_regularization_losses(),
        [tf1.losses.get_losses(c.scope)[0] for c in model.clones]])
  np.testing.assert_allclose(total, sum(reg) + sum(clone_losses) / 2, rtol=1e-5)


def test_devices():
  config = model_deploy.DeploymentConfig(num_clones=2, clone_on_cpu=True)
  assert config.clone_device(0) == '/device:CPU:0'
  assert config.clone_scope(1) == 'clone_1'
  assert config.inputs_device() == '/device:CPU:0'
  assert config.variables_device() == '/device:CPU:0'
  single = model_deploy.DeploymentConfig(num_clones=1, clone_on_cpu=True)
  assert single.clone_scope(0) == ''
  with pytest.raises(ValueError, match='clone_index'):
    config.clone_device(2)


def test_more_clones_than_gpus_fall_back_to_cpu():
  config = model_deploy.DeploymentConfig(num_clones=2)  # this machine has no GPU
  assert config.clone_on_cpu
  assert config.clone_device(1) == '/device:CPU:0'


def test_parameter_servers_get_the_variables_round_robin(graph):
  config = model_deploy.DeploymentConfig(num_clones=1, clone_on_cpu=True, replica_id=1,
                                         num_replicas=2, num_ps_tasks=2)
  # This replica's own task: a bare /job:worker would let the placer pick any worker.
  assert config.clone_device(0) == '/job:worker/task:1/device:CPU:0'
  assert config.optimizer_device() == '/job:worker/task:1/device:CPU:0'
  assert config.inputs_device() == '/job:worker/task:1/device:CPU:0'
  with tf1.device(config.variables_device()):
    first = tf1.get_variable('a', [1])
    second = tf1.get_variable('b', [1])
    constant = tf.constant(1.0)
  assert first.device.startswith('/job:ps/task:0')
  assert second.device.startswith('/job:ps/task:1')
  assert constant.device == '/job:ps/device:CPU:0'


@pytest.mark.parametrize('kwargs, message', [
    ({'num_clones': 0}, 'num_clones'),
    ({'replica_id': 2, 'num_replicas': 2, 'num_ps_tasks': 1}, 'replica_id'),
    ({'num_replicas': 2}, 'num_ps_tasks'),
])
def test_rejects_inconsistent_configs(kwargs, message):
  with pytest.raises(ValueError, match=message):
    model_deploy.DeploymentConfig(**kwargs)


def test_clone_variables_go_to_the_ps_under_a_saved_arg_scope(graph):
  # nets_factory re-enters the family's saved arg_scope, which replaces create_clones' own.
  with slim.arg_scope([slim.conv2d], padding='SAME') as saved_scope:
    pass

  def model_fn():
    with slim.arg_scope(saved_scope):
      net = slim.conv2d(tf.zeros([2, 6, 6, 3]), 4, [3, 3], scope='conv')
      return slim.conv2d(net, 4, [3, 3], scope='conv2')

  config = model_deploy.DeploymentConfig(num_clones=2, clone_on_cpu=True, replica_id=1,
                                         num_replicas=2, num_ps_tasks=2)
  with tf1.device(config.variables_device()):
    tf1.train.get_or_create_global_step()
  clones = model_deploy.create_clones(config, model_fn)
  devices = {v.op.name: v.device for v in tf1.global_variables()}
  assert devices == {'global_step': '/job:ps/task:0/device:CPU:0',
                     'conv/weights': '/job:ps/task:1/device:CPU:0',
                     'conv/biases': '/job:ps/task:0/device:CPU:0',
                     'conv2/weights': '/job:ps/task:1/device:CPU:0',
                     'conv2/biases': '/job:ps/task:0/device:CPU:0'}
  assert [c.outputs.device for c in clones] == ['/job:worker/task:1/device:CPU:0'] * 2
