"""Training and evaluation under the failures a user meets: divergence, signals, kills,
a second training in the same folder, changed flags on resume, damaged checkpoints,
read-only and full disks. Each case runs the scripts' command lines, on LeNet with
batch 2, with the damaged files made here."""

import contextlib
import json
import os
import random
import resource
import signal
import subprocess
import sys
import time

from absl import flags
import numpy as np
import pytest
import tensorflow as tf

from slimbench import evaluation
from slimbench import files
from slimbench import train_flags
from slimbench import training

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LENET = ['--model_name=lenet', '--batch_size=2', '--num_readers=1',
         '--num_preprocessing_threads=1', '--log_every_n_steps=1']


def _train_command(train_dir, dataset_dir, *extra):
  dataset = ([f'--dataset_name=mnist5k', f'--dataset_dir={dataset_dir}'] if dataset_dir
             else ['--dataset_name=synthetic'])
  return ([sys.executable, os.path.join(REPO_ROOT, 'train_image_classifier.py'),
           f'--train_dir={train_dir}'] + dataset + LENET + list(extra))


def _run(command, **kwargs):
  return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                        env=dict(os.environ, PYTHONPATH=REPO_ROOT), **kwargs)


def _start(command):
  return subprocess.Popen(command, cwd=REPO_ROOT, stderr=subprocess.PIPE, text=True,
                          env=dict(os.environ, PYTHONPATH=REPO_ROOT))


def _wait_for_line(process, *texts, deadline_secs=180):
  """Reads the process's log until a line holds one of `texts`; returns that line."""
  lines, deadline = [], time.time() + deadline_secs
  for line in process.stderr:
    lines.append(line)
    if any(text in line for text in texts) or time.time() > deadline:
      break
  assert lines and any(text in lines[-1] for text in texts), ''.join(lines[-20:])
  return lines[-1]


def _error_line(stderr):
  """The one line the script ends with, and that there is no traceback."""
  assert 'Traceback' not in stderr, stderr[-3000:]
  return stderr.strip().splitlines()[-1]


def _in_process_lenet(train_dir, dataset_dir, steps, **values):
  fv = flags.FlagValues()
  names = train_flags.define_train_flags(fv)
  settings = dict(train_dir=train_dir, dataset_name='mnist5k', dataset_dir=dataset_dir,
                  model_name='lenet', optimizer='momentum', learning_rate=0.002,
                  batch_size=2, num_readers=1, num_preprocessing_threads=1,
                  max_number_of_steps=steps)
  settings.update(values)
  fv(['train'] + [f'--{key}={value}' for key, value in settings.items()])
  return training.train(train_flags.read_train_config(fv, names))


def _read_back(checkpoint):
  """Every tensor of a checkpoint, which also proves that it restores."""
  reader = tf.train.load_checkpoint(checkpoint)
  return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def _listed_checkpoints(train_dir):
  return list(tf.train.get_checkpoint_state(str(train_dir)).all_model_checkpoint_paths)


def _results(train_dir):
  with open(os.path.join(train_dir, training.RESULTS_FILE)) as f:
    return json.load(f)


@pytest.mark.parametrize('optimizer', ['momentum', 'adam'])
def test_divergence_stops_naming_the_step_and_keeps_only_finite_checkpoints(
    tmp_path, mnist5k_dir, optimizer):
  """At --learning_rate=1e6 momentum turned the first layer's weights NaN while the loss
  stayed finite, and Adam's message named the wrong step."""
  train_dir = tmp_path / optimizer
  # A checkpoint every second, so that rotation would have removed every finite one.
  ran = _run(_train_command(train_dir, mnist5k_dir, f'--optimizer={optimizer}',
                            '--learning_rate=1e6', '--save_interval_secs=1',
                            '--max_number_of_steps=200'))
  assert ran.returncode == 1
  line = _error_line(ran.stderr)
  results = _results(train_dir)
  step = results['global_step']
  assert results['stopped'] == f'diverged at step {step}'
  assert f'diverged at step {step}:' in line
  # The step named is the first whose loss or gradients are not finite.
  logged = [int(l.split('step ')[1].split(':')[0]) for l in ran.stderr.splitlines()
            if 'training.py' in l and '] step ' in l]
  assert logged == list(range(1, step))
  listed = _listed_checkpoints(train_dir)
  assert listed and listed[-1] == results['checkpoint'] and listed[-1] in line
  for checkpoint in listed:
    values = _read_back(checkpoint)
    assert values['global_step'] < step
    for name, value in values.items():
      assert np.all(np.isfinite(value)), f'{checkpoint}: {name}'


def test_the_checkpoint_saver_refuses_non_finite_weights(tmp_path):
  """The weights are checked before every save, for what the per-step check cannot see."""
  tf1 = tf.compat.v1
  with tf.Graph().as_default():
    weights = tf1.get_variable('w', initializer=[1.0, 2.0])
    step = tf1.train.get_or_create_global_step()
    poison = tf.group(weights.assign([1.0, np.nan]), step.assign(7))
    saver_hook = training._FiniteCheckpointSaverHook(  # pylint: disable=protected-access
        str(tmp_path), save_secs=3600, saver=tf1.train.Saver())
    saver_hook.begin()
    with tf1.Session() as session:
      session.run(tf1.global_variables_initializer())
      saver_hook.after_create_session(session, None)  # saves the finite start
      session.run(poison)
      with pytest.raises(training.DivergedError, match='diverged at step 7: the weights'):
        saver_hook.end(session)  # the final save
  assert _listed_checkpoints(tmp_path) == [str(tmp_path / 'model.ckpt-0')]


def test_rerunning_a_finished_training_is_a_no_op_and_takes_over_a_stale_lock(
    tmp_path, mnist5k_dir):
  train_dir = tmp_path / 'done'
  _in_process_lenet(str(train_dir), mnist5k_dir, 2)
  before = {name: os.stat(train_dir / name).st_mtime_ns for name in os.listdir(train_dir)}
  # The lock of a process that is gone, as a killed training leaves it.
  dead = subprocess.Popen([sys.executable, '-c', 'pass'])
  dead.wait()
  (train_dir / files.LOCK_FILE).write_text(json.dumps({'host': 'here', 'pid': dead.pid}))
  ran = _run(_train_command(train_dir, mnist5k_dir, '--optimizer=momentum',
                            '--max_number_of_steps=2'))
  assert ran.returncode == 0, ran.stderr[-3000:]
  assert f'Taking over the lock {train_dir}/{files.LOCK_FILE} of process {dead.pid}' in (
      ran.stderr)
  assert 'already trained to step 2 (--max_number_of_steps=2): nothing to do' in ran.stderr
  after = {name: os.stat(train_dir / name).st_mtime_ns for name in os.listdir(train_dir)}
  assert after == before  # no step, no checkpoint, not even flags.txt rewritten


def test_a_second_training_in_the_folder_is_refused_and_ctrl_c_saves_and_exits_130(
    tmp_path, mnist5k_dir):
  train_dir = tmp_path / 'busy'
  first = _start(_train_command(train_dir, mnist5k_dir, '--save_interval_secs=3600'))
  try:
    _wait_for_line(first, 'step 2:')
    second = _run(_train_command(train_dir, mnist5k_dir, '--max_number_of_steps=5'))
    assert second.returncode == 1
    assert (f'--train_dir={train_dir} is in use by process {first.pid}' in
            _error_line(second.stderr))
    first.send_signal(signal.SIGINT)
    first.stderr.read()
    assert first.wait(timeout=120) == 128 + signal.SIGINT
  finally:
    first.kill()
  results = _results(train_dir)
  assert results['stopped'] == 'SIGINT' and results['global_step'] >= 2
  assert _read_back(str(train_dir))['global_step'] == results['global_step']
  assert not os.path.exists(train_dir / files.LOCK_FILE)


def test_changed_optimizer_on_resume_fails_in_one_line_and_keeps_flags_txt(
    tmp_path, mnist5k_dir):
  train_dir = tmp_path / 'momentum'
  _in_process_lenet(str(train_dir), mnist5k_dir, 1, optimizer='momentum')
  flags_before = (train_dir / training.FLAGS_FILE).read_text()
  ran = _run(_train_command(train_dir, mnist5k_dir, '--optimizer=adam',
                            '--max_number_of_steps=3'))
  assert ran.returncode == 1
  line = _error_line(ran.stderr)
  assert '--optimizer=momentum there, --optimizer=adam now' in line, line
  assert (train_dir / training.FLAGS_FILE).read_text() == flags_before


def test_truncated_checkpoint_on_resume_falls_back_to_the_newest_valid_one(
    tmp_path, mnist5k_dir):
  train_dir = tmp_path / 'truncated'
  _in_process_lenet(str(train_dir), mnist5k_dir, 2)
  damaged = train_dir / 'model.ckpt-2.data-00000-of-00001'
  with open(damaged, 'r+b') as f:
    f.truncate(os.path.getsize(damaged) // 2)
  ran = _run(_train_command(train_dir, mnist5k_dir, '--optimizer=momentum',
                            '--max_number_of_steps=3'))
  assert ran.returncode == 0, ran.stderr[-3000:]
  assert f'Checkpoint {train_dir}/model.ckpt-2 is damaged' in ran.stderr
  assert f'using {train_dir}/model.ckpt-0 instead' in ran.stderr
  results = _results(train_dir)
  assert results['start_step'] == 0 and results['global_step'] == 3
  assert _read_back(str(train_dir))['global_step'] == 3


@contextlib.contextmanager
def _read_only(folder):
  """`folder` made read-only: by its mode, or for root (whom modes do not stop) by a
  read-only bind mount."""
  if os.geteuid() != 0:
    os.chmod(folder, 0o555)
    try:
      yield
    finally:
      os.chmod(folder, 0o755)
    return
  mounted = subprocess.run(['mount', '--bind', folder, folder], capture_output=True)
  if mounted.returncode != 0:
    pytest.skip('root cannot make a read-only folder here: ' + mounted.stderr.decode())
  try:
    if subprocess.run(['mount', '-o', 'remount,bind,ro', folder]).returncode != 0:
      pytest.skip('root cannot remount a folder read-only here')
    yield
  finally:
    subprocess.run(['umount', folder], check=True)


def test_read_only_train_dir_is_named_in_one_line(tmp_path):
  train_dir = tmp_path / 'read_only'
  train_dir.mkdir()
  with _read_only(str(train_dir)):
    ran = _run(_train_command(train_dir, None, '--max_number_of_steps=1'))
  assert ran.returncode == 1
  line = _error_line(ran.stderr)
  assert f'--train_dir={train_dir}: cannot write there' in line, line
  assert os.listdir(train_dir) == []


def _limit_file_size():
  # Writes past 5 MB fail with EFBIG, as on a full disk: the 39 MB checkpoint fails, the
  # event file and graph.pbtxt (about 1 MB each) do not. Python ignores SIGXFSZ.
  resource.setrlimit(resource.RLIMIT_FSIZE, (5 << 20, 5 << 20))


def test_full_disk_while_checkpointing_names_the_checkpoint_and_leaves_no_partial_files(
    tmp_path, mnist5k_dir):
  train_dir = tmp_path / 'full'
  ran = _run(_train_command(train_dir, mnist5k_dir, '--max_number_of_steps=3'),
             preexec_fn=_limit_file_size)
  assert ran.returncode == 1
  line = _error_line(ran.stderr)
  assert f'cannot write the checkpoint {train_dir}/model.ckpt-0' in line, line
  assert 'File too large' in line
  left = sorted(os.listdir(train_dir))
  assert not [name for name in left if 'model.ckpt' in name or 'temp' in name], left
  assert files.LOCK_FILE not in left and training.FLAGS_FILE not in left


def _eval_command(checkpoint_path, eval_dir, dataset_dir, *extra):
  return [sys.executable, os.path.join(REPO_ROOT, 'eval_image_classifier.py'),
          f'--checkpoint_path={checkpoint_path}', f'--eval_dir={eval_dir}',
          '--model_name=lenet', '--dataset_name=mnist5k', f'--dataset_dir={dataset_dir}',
          '--dataset_split_name=test', '--batch_size=50', '--max_num_batches=2'] + list(extra)


def test_evaluation_falls_back_from_a_truncated_checkpoint_and_names_a_damaged_one(
    tmp_path, mnist5k_dir):
  train_dir = tmp_path / 'train'
  _in_process_lenet(str(train_dir), mnist5k_dir, 2)
  damaged = train_dir / 'model.ckpt-2.index'
  with open(damaged, 'r+b') as f:
    f.truncate(100)
  ran = _run(_eval_command(train_dir, tmp_path / 'eval', mnist5k_dir))
  assert ran.returncode == 0, ran.stderr[-3000:]
  assert f'Checkpoint {train_dir}/model.ckpt-2 is damaged' in ran.stderr
  with open(tmp_path / 'eval' / evaluation.RESULTS_JSON) as f:
    assert json.load(f)['global_step'] == 0

  named = _run(_eval_command(train_dir / 'model.ckpt-2', tmp_path / 'eval', mnist5k_dir))
  assert named.returncode == 1
  line = _error_line(named.stderr)
  assert f'--checkpoint_path={train_dir}/model.ckpt-2: the checkpoint is damaged' in line


def test_an_unwritable_eval_dir_is_named_in_one_line(tmp_path, mnist5k_dir):
  train_dir = tmp_path / 'train'
  _in_process_lenet(str(train_dir), mnist5k_dir, 1)
  eval_dir = tmp_path / 'a_file' / 'eval'
  (tmp_path / 'a_file').write_text('')
  ran = _run(_eval_command(train_dir, eval_dir, mnist5k_dir))
  assert ran.returncode == 1
  assert f'--eval_dir={eval_dir}: cannot write there' in _error_line(ran.stderr)


def test_wait_for_checkpoints_waits_for_a_training_folder_that_does_not_exist_yet(
    tmp_path, mnist5k_dir):
  train_dir = tmp_path / 'later'
  process = _start(_eval_command(train_dir, tmp_path / 'eval', mnist5k_dir,
                                 '--wait_for_checkpoints', '--eval_interval_secs=1',
                                 '--eval_timeout_secs=8'))
  try:
    _wait_for_line(process, 'Waiting for')
    time.sleep(2)
    _in_process_lenet(str(train_dir), mnist5k_dir, 1, save_interval_secs=3600)
    process.stderr.read()
    assert process.wait(timeout=180) == 0
  finally:
    process.kill()
  with open(tmp_path / 'eval' / evaluation.RESULTS_JSON) as f:
    assert json.load(f)['global_step'] == 1


def test_training_killed_at_random_points_finishes_as_an_uninterrupted_run(
    tmp_path, mnist5k_dir):
  """kill -9 at seeded random moments (checkpoint writes included: one a second), then
  re-runs: the run ends at the same step as one never interrupted, with a checkpoint
  holding the same variables that restores, and the dead runs' lock taken over."""
  steps = 150
  uninterrupted = _in_process_lenet(str(tmp_path / 'uninterrupted'), mnist5k_dir, steps)
  expected = _read_back(str(tmp_path / 'uninterrupted'))
  train_dir = tmp_path / 'killed'
  command = _train_command(train_dir, mnist5k_dir, '--optimizer=momentum',
                           '--learning_rate=0.002', '--save_interval_secs=1',
                           f'--max_number_of_steps={steps}')
  chance = random.Random(18)
  for _ in range(2):
    process = _start(command)
    try:
      # A run that finds the training finished ends without a step.
      _wait_for_line(process, '] step ', 'nothing to do')
      time.sleep(chance.uniform(0.0, 2.0))
      process.send_signal(signal.SIGKILL)
      process.wait(timeout=60)
    finally:
      process.kill()
  ran = _run(command)
  assert ran.returncode == 0, ran.stderr[-3000:]
  results = _results(train_dir)
  assert results['stopped'] == 'finished'
  assert results['global_step'] == uninterrupted['global_step'] == steps
  assert 'Taking over the lock' in ran.stderr or 'nothing to do' in ran.stderr
  restored = _read_back(str(train_dir))
  assert restored['global_step'] == steps
  assert {name: value.shape for name, value in restored.items()} == {
      name: value.shape for name, value in expected.items()}
  assert not [name for name in os.listdir(train_dir) if 'tempstate' in name]
