"""I3D and S3D-G: their TF-Slim contract, their options, a training step on synthetic clips,
and export through export_inference_graph.py's command line.

Full-size builds are in test_nets_factory's contract test; here clips are a few frames
of 32x32, since variables do not depend on the clip's size.
"""

import json
import os
import subprocess
import sys

from absl import flags
import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from datasets import synthetic
from nets import i3d
from nets import i3d_utils
from nets import layers
from nets import nets_factory
from nets import s3dg
from slimbench import export
from slimbench import export_flags
from slimbench import train_flags
from slimbench import training
from tests.conftest import SPEC_DIR

tf1 = tf.compat.v1

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIDEO_MODELS = ['i3d', 's3dg']
SMALL_CLIPS = [2, 8, 32, 32, 3]


def _spec(name):
  with open(os.path.join(SPEC_DIR, f'{name}.json')) as f:
    return json.load(f)


def _variables():
  return {v.op.name: v.shape.as_list() for v in tf1.global_variables()}


@pytest.mark.parametrize('name', VIDEO_MODELS)
def test_registry_knows_a_video_model_and_its_clips(name):
  spec = _spec(name)
  info = nets_factory.model_info(name)
  assert info.is_video_model and info.num_frames == 64
  assert nets_factory.input_shape(name, 1) == spec['input_shape'] == [1, 64, 224, 224, 3]
  assert nets_factory.get_network_fn(name, num_classes=5).num_frames == 64
  assert not nets_factory.model_info('inception_v1').is_video_model
  assert nets_factory.get_network_fn('inception_v1', num_classes=5).num_frames is None
  with pytest.raises(ValueError, match='image model'):
    nets_factory.input_shape('inception_v1', 1, num_frames=8)


@pytest.mark.parametrize('name', VIDEO_MODELS)
def test_variables_in_tf_slim_order_and_train_mode_update_ops(name, graph):
  """TF-Slim's variables in its creation order; in training, one update pair per batch norm."""
  spec = _spec(name)
  clips = tf1.placeholder(tf.float32, [1, 4, 32, 32, 3])
  logits, end_points = nets_factory.get_network_fn(name, num_classes=1000,
                                                   is_training=True)(clips)
  assert [v.op.name for v in tf1.global_variables()] == [
      v['name'] for v in spec['global_variables']]
  assert list(end_points) == [e['key'] for e in spec['end_points']]
  assert logits.name == spec['logits']['tensor']
  assert end_points['Predictions'].name == spec['end_points'][-1]['tensor']
  num_batch_norms = sum(v.op.name.endswith('BatchNorm/moving_mean')
                        for v in tf1.global_variables())
  assert len(tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)) == 2 * num_batch_norms


def _trainable(prefix):
  return [v.op.name for v in tf1.trainable_variables() if v.op.name.startswith(prefix)]


def test_i3d_is_inflated_inception_v1(graph):
  """7x7x7 first kernel, full 3x3x3 convolutions, no gating, Inception-v1's depths."""
  i3d.i3d(tf1.placeholder(tf.float32, SMALL_CLIPS), num_classes=10)
  variables = _variables()
  assert variables['InceptionV1/Conv2d_1a_7x7/weights'] == [7, 7, 7, 3, 64]
  assert variables['InceptionV1/Mixed_4b/Branch_1/Conv2d_0b_3x3/weights'] == [3, 3, 3, 96, 208]
  assert variables['InceptionV1/Mixed_5c/Branch_0/Conv2d_0a_1x1/weights'] == [1, 1, 1, 832, 384]
  assert not [n for n in variables if 'temporal' in n or 'self_gating' in n]


@pytest.mark.parametrize('options, check', [
    # The defaults are test_nets_factory's contract test.
    ({'temporal_conv_startat': None, 'gating_startat': None},
     lambda v: not [n for n in v if 'temporal' in n or 'self_gating' in n]),
    # Bottom-heavy: 2-D below Mixed_4b, separable 3-D from it on; gated from Mixed_5b.
    ({'first_temporal_kernel_size': 7, 'temporal_conv_startat': 'Mixed_4b',
      'gating_startat': 'Mixed_5b'},
     lambda v: (v['InceptionV1/Conv2d_1a_7x7/weights'] == [7, 7, 7, 3, 64] and
                v['InceptionV1/Mixed_3c/Branch_1/Conv2d_0b_3x3/weights'] == [1, 3, 3, 128, 192]
                and 'InceptionV1/Mixed_3c/Branch_1/Conv2d_0b_3x3/temporal/weights' not in v
                and 'InceptionV1/Mixed_4b/Branch_1/Conv2d_0b_3x3/temporal/weights' in v
                and 'InceptionV1/Conv2d_2c_3x3/self_gating/transformer_W/weights' not in v
                and 'InceptionV1/Mixed_4f/Branch_0/Conv2d_0a_1x1/self_gating/transformer_W/'
                    'weights' not in v
                and 'InceptionV1/Mixed_5b/Branch_0/Conv2d_0a_1x1/self_gating/transformer_W/'
                    'weights' in v)),
    ({'depth_multiplier': 0.5, 'min_depth': 16},
     lambda v: (v['InceptionV1/Conv2d_1a_7x7/weights'][-1] == 32 and
                v['InceptionV1/Mixed_3b/Branch_2/Conv2d_0a_1x1/weights'][-1] == 16)),
])
def test_s3dg_options_shape_the_network(options, check, graph):
  with slim.arg_scope(s3dg.s3dg_arg_scope()):
    s3dg.s3dg(tf1.placeholder(tf.float32, SMALL_CLIPS), num_classes=10, **options)
  assert check(_variables())


@pytest.mark.parametrize('options, message', [
    ({'first_temporal_kernel_size': 4}, 'first_temporal_kernel_size'),
    ({'temporal_conv_startat': 'Conv2d_1a_7x7'}, 'temporal_conv_startat'),
    ({'gating_startat': 'Mixed_9z'}, 'gating_startat'),
    ({'depth_multiplier': 0}, 'depth_multiplier'),
    ({'data_format': 'NHWC'}, 'data_format'),
])
def test_s3dg_rejects_bad_options(options, message, graph):
  with pytest.raises(ValueError, match=message):
    s3dg.s3dg_base(tf1.placeholder(tf.float32, SMALL_CLIPS), **options)


@pytest.mark.parametrize('call, argument', [
    # TF-Slim's positional order; a value shifted into a boolean argument.
    (lambda x: i3d.i3d(x, 5, 0.8, False, slim.softmax, 'no'), 'spatial_squeeze'),
    (lambda x: i3d.i3d(x, 5, 0.8, 'train'), 'is_training'),
    (lambda x: s3dg.s3dg(x, 5, 3, 'Conv2d_2c_3x3', 'Conv2d_2c_3x3', 'Mixed_5c', 16, 1.0,
                         0.8, False, slim.softmax, 'InceptionV1'), 'spatial_squeeze'),
    (lambda x: s3dg.s3dg(x, 5, is_training=1), 'is_training'),
])
def test_a_wrong_value_in_a_boolean_argument_is_an_error(call, argument, graph):
  with pytest.raises(TypeError, match=f'{argument} must be True'):
    call(tf1.placeholder(tf.float32, SMALL_CLIPS))
  assert not tf1.global_variables()


@pytest.mark.parametrize('base_fn', [i3d.i3d_base, s3dg.s3dg_base])
def test_final_endpoint_stops_the_base_there(base_fn, graph):
  net, end_points = base_fn(tf1.placeholder(tf.float32, SMALL_CLIPS),
                            final_endpoint='Mixed_4b')
  assert list(end_points) == list(i3d_utils.END_POINTS[:i3d_utils.END_POINTS.index(
      'Mixed_4b') + 1])
  assert net is end_points['Mixed_4b']
  assert net.shape.as_list() == [2, 2, 2, 2, 512]
  assert not [v for v in tf1.global_variables() if 'Mixed_4c' in v.op.name]
  with pytest.raises(ValueError, match='unknown final_endpoint'):
    base_fn(tf1.placeholder(tf.float32, SMALL_CLIPS), final_endpoint='Logits')


@pytest.mark.parametrize('builder, arg_scope', [(i3d.i3d, i3d.i3d_arg_scope),
                                               (s3dg.s3dg, s3dg.s3dg_arg_scope)])
def test_is_training_none_leaves_batch_norm_to_an_outer_scope(builder, arg_scope, graph):
  """TF-Slim's fine-tuning idiom: freeze batch norm in a scope, build with None."""
  with slim.arg_scope(arg_scope()):
    with slim.arg_scope([layers.batch_norm], is_training=False):
      builder(tf1.placeholder(tf.float32, [1, 4, 32, 32, 3]), num_classes=5, is_training=None)
  assert not tf1.get_collection(tf1.GraphKeys.UPDATE_OPS)


def test_ncdhw_builds_the_same_variables_and_transposed_maps(graph):
  """The channels-first layout (for GPUs; TensorFlow's CPU kernels run NDHWC only)."""
  with slim.arg_scope(s3dg.s3dg_arg_scope()):
    s3dg.s3dg(tf1.placeholder(tf.float32, SMALL_CLIPS), num_classes=10, scope='Last')
    channels_last = {k.replace('Last/', ''): s for k, s in _variables().items()}
    logits, end_points = s3dg.s3dg(tf1.placeholder(tf.float32, [2, 3, 8, 32, 32]),
                                   num_classes=10, data_format='NCDHW', scope='First')
  channels_first = {k.replace('First/', ''): s for k, s in _variables().items()
                    if k.startswith('First/')}
  assert channels_first == channels_last
  assert end_points['Mixed_5c'].shape.as_list() == [2, 1024, 1, 1, 1]
  assert logits.shape.as_list() == [2, 10]


def test_a_separable_convolution_starts_as_its_spatial_half(graph):
  """The temporal half starts as the identity (Xie et al.'s initialization)."""
  clips = tf.constant(np.random.RandomState(0).uniform(-1, 1, [1, 5, 6, 6, 4]), tf.float32)
  separable = i3d_utils.conv3d_spatiotemporal(clips, 8, [3, 3, 3], separable=True,
                                              activation_fn=tf.nn.relu, scope='Conv')
  spatial = tf1.get_default_graph().get_tensor_by_name('Conv/Relu:0')
  assert _variables()['Conv/temporal/weights'] == [3, 1, 1, 8, 8]
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    out, expected = sess.run([separable, spatial])
  assert np.abs(expected).max() > 0
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


class _Clips:
  """Synthetic clips for `training.build_train_graph`'s batch_iterator: new ones each step,
  in inception preprocessing's [-1, 1]."""

  def __init__(self, shape, num_classes):
    self.shape, self.num_classes = shape, num_classes

  def get_next(self):
    return (tf.random.uniform(self.shape, -1, 1),
            tf.random.uniform(self.shape[:1], 0, self.num_classes, tf.int64))


@pytest.mark.parametrize('name', VIDEO_MODELS)
def test_a_training_step_on_synthetic_clips(name, graph):
  """training.py's own graph (clones, cross-entropy and weight decay, the flags' optimizer,
  batch-norm updates with the step) on clips: loss finite, every variable moves."""
  num_classes = 5
  fv = flags.FlagValues()
  flag_names = train_flags.define_train_flags(fv)
  fv(['train', f'--model_name={name}', f'--batch_size={SMALL_CLIPS[0]}',
      f'--train_image_size={SMALL_CLIPS[2]}', '--batch_norm_decay=0.9', '--random_seed=0'])
  config = train_flags.read_train_config(fv, flag_names)
  dataset = synthetic.SyntheticDataset('train', image_size=SMALL_CLIPS[2],
                                       num_classes=num_classes)
  built = training.build_train_graph(config, dataset=dataset,
                                     batch_iterator=_Clips(SMALL_CLIPS, num_classes))
  variables = tf1.trainable_variables()
  gradients = tf.gradients(built['total_loss'], variables)
  missing = [v.op.name for v, g in zip(variables, gradients) if g is None]
  assert not missing, f'no gradient for {missing}'

  moving_means = [v for v in tf1.global_variables() if v.op.name.endswith('moving_mean')]
  with tf1.Session() as sess:
    sess.run(tf1.global_variables_initializer())
    before = sess.run(variables + moving_means)
    losses = [sess.run(built['train_op']) for _ in range(2)]
    after = sess.run(variables + moving_means)
    summary = sess.run(built['summary_op'])
  assert np.all(np.isfinite(losses)), losses
  assert summary
  unchanged = [v.op.name for v, b, a in zip(variables + moving_means, before, after)
               if np.array_equal(b, a)]
  assert not unchanged, f'not updated by the training step: {unchanged[:5]}'


def _run_export(*args):
  env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL='2')
  return subprocess.run([sys.executable, os.path.join(REPO_ROOT, 'export_inference_graph.py'),
                         *args], env=env, capture_output=True, text=True, timeout=300,
                        check=False)


def _s3dg_checkpoint(directory, num_classes):
  with tf.Graph().as_default():
    clips = tf1.placeholder(tf.float32, [1, 4, 32, 32, 3])
    logits, _ = nets_factory.get_network_fn('s3dg', num_classes=num_classes)(clips)
    feed = np.random.RandomState(3).uniform(-1, 1, clips.shape.as_list())
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      path = tf1.train.Saver().save(sess, os.path.join(directory, 'model.ckpt'))
      return path, feed, sess.run(logits, {clips: feed})


def test_export_of_a_video_model_through_the_command_line(tmp_path):
  """--is_video_model --num_frames: a frozen graph whose `input` takes clips, and gives the
  logits of the checkpoint."""
  checkpoint, feed, expected = _s3dg_checkpoint(str(tmp_path), num_classes=1000)
  output = tmp_path / 's3dg.pb'
  result = _run_export('--model_name=s3dg', '--is_video_model', '--num_frames=4',
                       '--image_size=32', f'--checkpoint_path={checkpoint}',
                       f'--output_file={output}')
  assert result.returncode == 0, result.stderr
  graph_def = tf1.GraphDef()
  graph_def.ParseFromString(output.read_bytes())
  with tf.Graph().as_default() as graph:
    tf1.import_graph_def(graph_def, name='')
    clips = graph.get_tensor_by_name('input:0')
    assert clips.shape.as_list() == [None, 4, 32, 32, 3]
    with tf1.Session() as sess:
      logits, probabilities = sess.run(['logits:0', 'probabilities:0'], {clips: feed})
  np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_export_refuses_a_video_model_without_is_video_model(tmp_path):
  result = _run_export('--model_name=i3d', f'--output_file={tmp_path / "i3d.pb"}')
  assert result.returncode != 0
  last = result.stderr.strip().splitlines()[-1]
  assert '--model_name=i3d is a video model: add --is_video_model' in last, result.stderr
  assert 'Traceback' not in result.stderr
  assert not os.listdir(tmp_path)


@pytest.mark.parametrize('args, message', [
    (['--model_name=lenet', '--is_video_model'], '--is_video_model: lenet is an image model'),
    (['--model_name=lenet', '--num_frames=8'], '--num_frames applies to video models only'),
])
def test_export_refuses_video_flags_for_an_image_model(args, message, tmp_path):
  fv = flags.FlagValues()
  export_flags.define_export_flags(fv)
  fv(['export', *args, f'--output_file={tmp_path / "model.pb"}'])
  with pytest.raises(ValueError, match=message):
    export.export(export_flags.read_export_config(fv))
  assert not os.listdir(tmp_path)
