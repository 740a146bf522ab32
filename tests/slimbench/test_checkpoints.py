"""--keep_best_checkpoints: copies of the best checkpoints that the trainer's rotation
cannot remove, ranked by the evaluator's metric."""

import csv
import json
import os
import threading
import time

from absl import flags
import numpy as np
import pytest
import tensorflow as tf

from nets import nets_factory
from slimbench import checkpoints
from slimbench import eval_flags
from slimbench import evaluation

tf1 = tf.compat.v1


def _saved_steps(directory, steps):
  """Checkpoints model.ckpt-STEP in `directory` whose variable `w` holds STEP."""
  with tf.Graph().as_default():
    w = tf1.get_variable('w', initializer=0.0)
    saver = tf1.train.Saver(max_to_keep=None)
    with tf1.Session() as sess:
      prefixes = {}
      for step in steps:
        w.load(float(step), sess)
        prefixes[step] = saver.save(sess, os.path.join(directory, 'model.ckpt'),
                                    global_step=step)
  return prefixes


def _kept(best_dir):
  with open(os.path.join(best_dir, checkpoints.BEST_JSON)) as f:
    return [(e['step'], e['value']) for e in json.load(f)['checkpoints']]


def test_keeps_the_best_n_higher_or_lower_is_better_and_removes_only_its_copies(tmp_path):
  prefixes = _saved_steps(str(tmp_path / 'train'), [1, 2, 3, 4])
  best = str(tmp_path / 'train' / 'best')
  os.makedirs(best)
  (tmp_path / 'train' / 'best' / 'notes.txt').write_text('mine')
  values = {1: 0.5, 2: 0.7, 3: 0.6, 4: 0.9}
  kept = [checkpoints.keep_best(best, prefixes[s], s, values[s], metric='eval/Accuracy',
                                higher_is_better=True, keep=2) for s in (1, 2, 3, 4)]
  assert kept == [True, True, True, True]  # 3 beat 1 (kept then), 4 beat 3
  assert _kept(best) == [(4, 0.9), (2, 0.7)]
  assert sorted(os.listdir(best)) == sorted(
      ['notes.txt', checkpoints.BEST_JSON, 'checkpoint'] +
      [os.path.basename(p) for s in (2, 4) for p in checkpoints.checkpoint_files(prefixes[s])])
  assert tf.train.latest_checkpoint(best) == os.path.join(best, 'model.ckpt-4')
  assert tf.train.load_checkpoint(os.path.join(best, 'model.ckpt-2')).get_tensor('w') == 2.0

  loss_dir = str(tmp_path / 'by_loss')
  for step, loss in ((1, 0.5), (2, 0.7), (3, 0.4)):
    checkpoints.keep_best(loss_dir, prefixes[step], step, loss, metric='eval/Loss',
                          higher_is_better=False, keep=2)
  assert _kept(loss_dir) == [(3, 0.4), (1, 0.5)]


def test_a_tie_does_not_displace_and_a_reevaluated_step_replaces_its_entry(tmp_path):
  prefixes = _saved_steps(str(tmp_path / 'train'), [1, 2, 3])
  best = str(tmp_path / 'best')
  keep = dict(metric='eval/Accuracy', higher_is_better=True, keep=1)
  assert checkpoints.keep_best(best, prefixes[1], 1, 0.5, **keep)
  assert not checkpoints.keep_best(best, prefixes[2], 2, 0.5, **keep)
  assert _kept(best) == [(1, 0.5)]
  assert not os.path.exists(os.path.join(best, 'model.ckpt-2.index'))
  # Step 1 evaluated again (an evaluator restarted): its entry is updated, not doubled.
  assert checkpoints.keep_best(best, prefixes[1], 1, 0.55, **keep)
  assert _kept(best) == [(1, 0.55)]
  assert checkpoints.keep_best(best, prefixes[3], 3, 0.6, **keep)
  assert _kept(best) == [(3, 0.6)]
  assert not os.path.exists(os.path.join(best, 'model.ckpt-1.index'))


def test_another_metric_or_a_damaged_record_is_refused(tmp_path):
  prefixes = _saved_steps(str(tmp_path / 'train'), [1])
  best = str(tmp_path / 'best')
  checkpoints.keep_best(best, prefixes[1], 1, 0.5, metric='eval/Accuracy',
                        higher_is_better=True, keep=1)
  with pytest.raises(ValueError, match='ranks checkpoints by eval/Accuracy; pass '
                                       '--best_checkpoint_metric=eval/Accuracy'):
    checkpoints.keep_best(best, prefixes[1], 1, 0.5, metric='eval/Loss',
                          higher_is_better=False, keep=1)
  (tmp_path / 'best' / checkpoints.BEST_JSON).write_text('{"checkpoints": [')
  with pytest.raises(ValueError, match='best_checkpoints.json is not a record'):
    checkpoints.keep_best(best, prefixes[1], 1, 0.5, metric='eval/Accuracy',
                          higher_is_better=True, keep=1)


def test_a_checkpoint_rotated_away_before_the_copy_is_skipped(tmp_path):
  prefixes = _saved_steps(str(tmp_path / 'train'), [1])
  for path in checkpoints.checkpoint_files(prefixes[1]):
    os.remove(path)
  assert not checkpoints.keep_best(str(tmp_path / 'best'), prefixes[1], 1, 0.5,
                                   metric='eval/Accuracy', higher_is_better=True, keep=1)
  assert not os.path.exists(tmp_path / 'best' / checkpoints.BEST_JSON)


def _eval_config(**values):
  fv = flags.FlagValues()
  eval_flags.define_eval_flags(fv)
  fv(['eval'] + [f'--{key}={value}' for key, value in values.items()])
  return eval_flags.read_eval_config(fv)


def test_keep_best_needs_continuous_mode_and_a_known_metric(tmp_path):
  with pytest.raises(flags.IllegalFlagValueError, match='best_checkpoint_metric'):
    _eval_config(best_checkpoint_metric='accuracy')
  with pytest.raises(flags.IllegalFlagValueError, match='keep_best_checkpoints'):
    _eval_config(keep_best_checkpoints=-1)
  config = _eval_config(checkpoint_path=str(tmp_path), model_name='lenet',
                        dataset_name='synthetic', keep_best_checkpoints=2)
  with pytest.raises(ValueError, match='add --wait_for_checkpoints'):
    evaluation.evaluate(config)


def _evaluated_steps(eval_dir):
  path = os.path.join(eval_dir, evaluation.RESULTS_CSV)
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return {int(row['global_step']): float(row['loss']) for row in csv.DictReader(f)}


def test_best_checkpoints_survive_the_trainers_rotation(tmp_path, mnist5k_dir):
  """A trainer keeping 2 checkpoints writes 6; the evaluator keeps the 2 of lowest loss."""
  train_dir, eval_dir = str(tmp_path / 'train'), str(tmp_path / 'train' / 'eval')
  os.makedirs(train_dir)
  config = _eval_config(checkpoint_path=train_dir, eval_dir=eval_dir, model_name='lenet',
                        dataset_name='mnist5k', dataset_dir=mnist5k_dir,
                        dataset_split_name='test', batch_size=100, max_num_batches=1,
                        wait_for_checkpoints=True, eval_interval_secs=0, eval_timeout_secs=5,
                        keep_best_checkpoints=2, best_checkpoint_metric='eval/Loss')
  found = []
  evaluator = threading.Thread(target=lambda: found.extend(evaluation.evaluate(config)))
  # Logits that ignore the image, scaled per step: the loss grows with the scale, so
  # steps 2 (scale 0.1) and 1 (0.2) are the best, and the trainer rotates both away.
  scales = {1: 0.2, 2: 0.1, 3: 1.0, 4: 2.0, 5: 0.5, 6: 3.0}
  logits = np.array([10, 9, 8, 7, 6, 0, 0, 0, 0, 0], np.float32)
  with tf.Graph().as_default():
    images = tf1.placeholder(tf.float32, [1, 28, 28, 1])
    nets_factory.get_network_fn('lenet', num_classes=10)(images)
    global_step = tf1.train.get_or_create_global_step()
    variables = {v.op.name: v for v in tf1.global_variables()}
    saver = tf1.train.Saver(max_to_keep=2)
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      variables['LeNet/fc4/weights'].load(np.zeros([1024, 10], np.float32), sess)
      for step, scale in scales.items():
        variables['LeNet/fc4/biases'].load(logits * scale, sess)
        global_step.load(step, sess)
        saver.save(sess, os.path.join(train_dir, 'model.ckpt'), global_step=step)
        if step == 1:  # the evaluator's timeout then only spans the gaps between saves
          evaluator.start()
        deadline = time.time() + 60
        while step not in _evaluated_steps(eval_dir) and time.time() < deadline:
          time.sleep(0.2)
  evaluator.join(timeout=120)
  assert not evaluator.is_alive()
  losses = _evaluated_steps(eval_dir)
  assert sorted(losses) == [1, 2, 3, 4, 5, 6] and len(found) == 6
  assert sorted(losses, key=losses.get)[:2] == [2, 1]

  best_dir = os.path.join(train_dir, checkpoints.BEST_DIR)
  assert not os.path.exists(os.path.join(train_dir, 'model.ckpt-1.index'))  # rotated
  assert not os.path.exists(os.path.join(train_dir, 'model.ckpt-2.index'))
  assert _kept(best_dir) == [(2, pytest.approx(losses[2])), (1, pytest.approx(losses[1]))]
  for step in (2, 1):
    reader = tf.train.load_checkpoint(os.path.join(best_dir, f'model.ckpt-{step}'))
    np.testing.assert_allclose(reader.get_tensor('LeNet/fc4/biases'), logits * scales[step])
  assert tf.train.latest_checkpoint(best_dir) == os.path.join(best_dir, 'model.ckpt-2')
  assert not [name for name in os.listdir(best_dir) if name.endswith('.tmp')]
