"""Choosing a kernel by timing it: what is timed, what is kept, and damaged or unwritable caches.

The kernels here are two ways to compute one matrix product, one of them made 30 times the
work, so that which is faster does not depend on the machine or its load.
"""

import json
import os

import tensorflow as tf

from slimbench import kernel_tuning

tf1 = tf.compat.v1
SIGNATURE = {'op': 'MatMul', 'shape': [256, 256]}
NAMES = ['tensorflow', 'repeated']


INPUT_SPECS = [('x', [256, 256], tf.float32)]


def _build(name, inputs):
  x, = inputs
  if name == 'tensorflow':
    return [tf.matmul(x, x)]
  return [tf.matmul(x + float(i), x) for i in range(30)]


def _choose(chooser, signature=SIGNATURE, flops=1e9):
  return chooser('layer/Conv2D', signature, NAMES, _build, INPUT_SPECS, flops)


def test_times_once_keeps_the_fastest_and_the_next_run_reads_it(tmp_path):
  cache_file = str(tmp_path / 'cache' / 'kernel_choices.json')
  first = kernel_tuning.KernelChooser(cache_file)
  assert _choose(first) == 'tensorflow'
  assert (first.timed, first.from_cache) == (1, 0)
  with open(cache_file) as f:
    (key, entry), = json.load(f).items()
  assert json.loads(key) == {'machine': kernel_tuning.machine(), 'op': SIGNATURE}
  assert entry['choice'] == 'tensorflow'
  assert entry['seconds']['repeated'] > entry['seconds']['tensorflow'] > 0

  second = kernel_tuning.KernelChooser(cache_file)
  assert _choose(second) == 'tensorflow'
  assert (second.timed, second.from_cache) == (0, 1)
  assert second.choices == {'layer/Conv2D': 'tensorflow'}
  assert 'conv gradients by measurement: 1 convolutions (1 tensorflow); 0 timed' in (
      second.summary())
  # Another shape is another key.
  _choose(second, dict(SIGNATURE, shape=[128, 128]))
  assert second.timed == 1
  with open(cache_file) as f:
    assert len(json.load(f)) == 2


def test_small_ops_keep_tensorflows_kernel_without_timing(tmp_path):
  chooser = kernel_tuning.KernelChooser(str(tmp_path / 'kernel_choices.json'))
  assert _choose(chooser, flops=kernel_tuning.MIN_TIMED_FLOPS / 2) == 'tensorflow'
  assert chooser.timed == 0 and not os.path.exists(chooser.cache_file)


def test_a_damaged_cache_is_timed_again_and_rewritten(tmp_path, caplog):
  cache_file = tmp_path / 'kernel_choices.json'
  cache_file.write_text('{"truncated": ')
  chooser = kernel_tuning.KernelChooser(str(cache_file))
  assert 'Ignoring the kernel cache' in caplog.text and str(cache_file) in caplog.text
  assert _choose(chooser) == 'tensorflow' and chooser.timed == 1
  assert len(json.loads(cache_file.read_text())) == 1


def test_an_unwritable_cache_folder_still_chooses_and_says_so_once(tmp_path, caplog):
  # A file where the folder should be: no process, root included, can write there.
  blocker = tmp_path / 'not_a_folder'
  blocker.write_text('')
  chooser = kernel_tuning.KernelChooser(str(blocker / 'kernel_choices.json'))
  assert _choose(chooser) == 'tensorflow'
  assert _choose(chooser, dict(SIGNATURE, shape=[64, 64])) == 'tensorflow'
  assert chooser.timed == 2
  assert caplog.text.count('Cannot keep the kernel choices') == 1
  assert kernel_tuning.CACHE_DIR_ENV in caplog.text


def test_cache_location_follows_the_environment(monkeypatch, tmp_path):
  monkeypatch.setenv(kernel_tuning.CACHE_DIR_ENV, str(tmp_path / 'mine'))
  assert kernel_tuning.cache_path() == str(tmp_path / 'mine' / 'kernel_choices.json')
  monkeypatch.delenv(kernel_tuning.CACHE_DIR_ENV)
  monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
  assert kernel_tuning.cache_path() == str(tmp_path / 'xdg' / 'slimbench' /
                                           'kernel_choices.json')


def test_kernels_that_cannot_be_timed_leave_tensorflows_in_place(tmp_path, caplog):
  def failing_build(name, inputs):
    if name == 'repeated':
      raise ValueError('this kernel does not build here')
    return _build(name, inputs)

  chooser = kernel_tuning.KernelChooser(str(tmp_path / 'kernel_choices.json'))
  assert chooser('layer/Conv2D', SIGNATURE, NAMES, failing_build, INPUT_SPECS, 1e9) == (
      'tensorflow')
  assert 'layer/Conv2D: its gradient kernels could not be timed' in caplog.text
  assert chooser.timed == 0 and not os.path.exists(chooser.cache_file)


def test_another_kernel_replaces_tensorflows_only_when_clearly_faster(tmp_path, monkeypatch):
  timings = {'slightly': {'tensorflow': 1.0, 'repeated': 0.97},
             'clearly': {'tensorflow': 1.0, 'repeated': 0.8}}
  for case, expected in (('slightly', 'tensorflow'), ('clearly', 'repeated')):
    monkeypatch.setattr(kernel_tuning, 'time_kernels',
                        lambda *args, case=case: dict(timings[case]))
    chooser = kernel_tuning.KernelChooser(str(tmp_path / f'{case}.json'))
    assert _choose(chooser) == expected


def test_a_cached_choice_is_made_again_from_its_timings_under_todays_rule(tmp_path):
  cache_file = tmp_path / 'kernel_choices.json'
  key = json.dumps({'machine': kernel_tuning.machine(), 'op': SIGNATURE}, sort_keys=True)
  # Written by a version that took any faster kernel, however slightly.
  cache_file.write_text(json.dumps({key: {'choice': 'repeated', 'seconds': {
      'tensorflow': 1.0, 'repeated': 0.97}}}))
  chooser = kernel_tuning.KernelChooser(str(cache_file))
  assert _choose(chooser) == 'tensorflow'
  assert (chooser.timed, chooser.from_cache) == (0, 1)
