"""Runtime settings by measurement: the probe's command line, the choice, and who wins.

The choice is tested on made-up timings (a real machine's margins depend on its load); the
command-line test times real training steps of a small net and checks what was kept.
"""

import json
import os
import subprocess
import sys

import pytest

from slimbench import runtime_tuning

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
  monkeypatch.setenv(runtime_tuning.CACHE_DIR_ENV, str(tmp_path))
  return tmp_path


def _env_without_onednn(cache):
  env = {key: value for key, value in os.environ.items()
         if key not in (runtime_tuning.ONEDNN_ENV, runtime_tuning.CHOSEN_BY_ENV)}
  env[runtime_tuning.CACHE_DIR_ENV] = str(cache)
  return env


def test_the_probe_command_times_every_candidate_and_keeps_this_machines_choice(own_cache):
  done = subprocess.run(
      [sys.executable, '-m', 'slimbench.tune_runtime', '--nets=lenet', '--image_size=28',
       '--batch_size=2', '--rounds=1'],
      cwd=REPO_ROOT, env=_env_without_onednn(own_cache), capture_output=True, text=True,
      timeout=300, check=False)
  assert done.returncode == 0, done.stderr
  with open(own_cache / runtime_tuning.SETTINGS_FILE) as f:
    entry = json.load(f)[runtime_tuning.machine_key()]
  candidates = runtime_tuning.candidates(runtime_tuning.usable_cores())
  assert {key: entry[key] for key in ('onednn', 'intra', 'inter')} in candidates
  assert len(entry['measured']) == len(candidates)
  assert all(timing['lenet'] > 0 for timing in entry['measured'].values())
  # Phase 2: real JPEGs through the input pipeline with each count of preprocessing threads.
  counts = runtime_tuning.preprocessing_candidates(runtime_tuning.usable_cores())
  assert entry['preprocessing'] in counts
  assert sorted(map(int, entry['measured_preprocessing'])) == counts
  assert all(timing['lenet'] > 0 for timing in entry['measured_preprocessing'].values())
  assert done.stdout.count('<- chosen') == 2
  assert done.stdout.count('real JPEGs') == len(counts)
  assert 'Kept in' in done.stdout
  assert runtime_tuning.measured_settings(own_cache / runtime_tuning.SETTINGS_FILE) == entry


def test_a_probe_that_fails_exits_with_one_line_naming_the_setting(own_cache):
  done = subprocess.run(
      [sys.executable, '-m', 'slimbench.tune_runtime', '--nets=no_such_net', '--rounds=1'],
      cwd=REPO_ROOT, env=_env_without_onednn(own_cache), capture_output=True, text=True,
      timeout=300, check=False)
  assert done.returncode != 0
  message, = done.stderr.strip().splitlines()
  assert 'the runtime probe (oneDNN on, default threads) failed' in message
  assert 'no_such_net' in message
  assert not (own_cache / runtime_tuning.SETTINGS_FILE).exists()


def _fake_probe(step_seconds, real_data_seconds):
  """A `_probe_once` whose setting (oneDNN, intra, inter) takes the given seconds, and on
  real data (under the setting chosen) each count of preprocessing threads its own."""
  chosen = []

  def probe(setting, spec):
    key = (setting['onednn'], setting['intra'], setting['inter'])
    if 'preprocessing_threads' in spec:
      chosen.append(key)
      return {str(count): {net: real_data_seconds[count] for net in spec['nets']}
              for count in spec['preprocessing_threads']}
    return {net: step_seconds[key] for net in spec['nets']}
  return probe, chosen


@pytest.mark.parametrize('eigen_seconds,expected,real_data_seconds,expected_threads', [
    (0.7, '0', {1: 1.3, 2: 1.1, 4: 1.2}, 2),  # 2 threads 15% faster than the default (1)
    (0.97, '1', {1: 1.0, 2: 0.97, 4: 1.2}, 1)])  # 3% faster: the default stays
def test_another_setting_replaces_the_default_only_when_clearly_faster(
    monkeypatch, eigen_seconds, expected, real_data_seconds, expected_threads):
  monkeypatch.setattr(runtime_tuning, 'usable_cores', lambda: 2)
  probe, real_data_settings = _fake_probe(
      {('1', 0, 0): 1.0, ('1', 2, 1): 1.2, ('0', 0, 0): eigen_seconds, ('0', 2, 1): 2.0},
      real_data_seconds)
  monkeypatch.setattr(runtime_tuning, '_probe_once', probe)
  entry = runtime_tuning.measure(nets=('a', 'b'), rounds=2, log=lambda line: None)
  assert (entry['onednn'], entry['intra'], entry['inter']) == (expected, 0, 0)
  assert entry['measured']['oneDNN off, 2 intra / 1 inter threads'] == {'a': 2.0, 'b': 2.0}
  # The preprocessing threads are timed under the setting chosen.
  assert real_data_settings == [(expected, 0, 0)] * 2
  assert entry['preprocessing'] == expected_threads
  assert entry['measured_preprocessing']['4'] == {'a': 1.2, 'b': 1.2}


@pytest.mark.parametrize('onednn_float16_seconds,expected', [(25.0, '0'), (1.02, '1')])
def test_float16_takes_the_other_onednn_setting_only_when_clearly_faster(
    monkeypatch, onednn_float16_seconds, expected):
  timed = []

  def probe(setting, spec):
    assert spec['use_fp16'] and spec['budget_seconds'] > 0
    timed.append((setting['onednn'], setting['intra'], setting['inter']))
    seconds = onednn_float16_seconds if setting['onednn'] == '1' else 1.0
    return {net: seconds for net in spec['nets']}

  monkeypatch.setattr(runtime_tuning, '_probe_once', probe)
  fields = runtime_tuning.measure_float16({'onednn': '1', 'intra': 2, 'inter': 1},
                                          nets=('a', 'b'), rounds=2, log=lambda line: None)
  assert fields[runtime_tuning.FLOAT16_KEY] == expected
  # Both ways, with the threads float32 chose, interleaved.
  assert timed == [('1', 2, 1), ('0', 2, 1)] * 2


def test_threads_given_by_flags_win_and_zeros_take_the_measured_ones(own_cache, monkeypatch):
  monkeypatch.setattr(runtime_tuning, 'usable_cores', lambda: 4)
  # Nothing measured: TensorFlow's default, and one preprocessing thread fewer than cores.
  assert runtime_tuning.session_threads(0, 0) == (0, 0)
  assert runtime_tuning.preprocessing_threads(0) == 3
  runtime_tuning.save({'onednn': '1', 'intra': 2, 'inter': 1, 'preprocessing': 8})
  assert runtime_tuning.session_threads(0, 0) == (2, 1)
  assert runtime_tuning.session_threads(1, 0) == (1, 1)
  assert runtime_tuning.session_threads(3, 4) == (3, 4)
  assert runtime_tuning.preprocessing_threads(0) == 8
  assert runtime_tuning.preprocessing_threads(2) == 2


def test_onednn_follows_the_measurement_unless_the_user_set_it(own_cache, monkeypatch):
  runtime_tuning.save({'onednn': '0', 'intra': 0, 'inter': 0, 'preprocessing': 1})
  monkeypatch.delenv(runtime_tuning.ONEDNN_ENV, raising=False)
  monkeypatch.delenv(runtime_tuning.CHOSEN_BY_ENV, raising=False)
  runtime_tuning.apply_onednn_setting()
  assert os.environ[runtime_tuning.ONEDNN_ENV] == '0'
  # A process slimbench started inherits its marker: the measured value is applied again.
  monkeypatch.setenv(runtime_tuning.ONEDNN_ENV, '1')
  monkeypatch.setenv(runtime_tuning.CHOSEN_BY_ENV, '1 default')
  runtime_tuning.apply_onednn_setting()
  assert os.environ[runtime_tuning.ONEDNN_ENV] == '0'
  # The user's value, set with or without a marker inherited from an earlier run, stays.
  for marker in (None, '0 measurement'):
    monkeypatch.setenv(runtime_tuning.ONEDNN_ENV, '1')
    if marker:
      monkeypatch.setenv(runtime_tuning.CHOSEN_BY_ENV, marker)
    else:
      monkeypatch.delenv(runtime_tuning.CHOSEN_BY_ENV)
    runtime_tuning.apply_onednn_setting()
    assert os.environ[runtime_tuning.ONEDNN_ENV] == '1'


def test_a_damaged_settings_file_counts_as_not_measured(own_cache):
  (own_cache / runtime_tuning.SETTINGS_FILE).write_text('{"truncated": ')
  assert runtime_tuning.measured_settings() is None
  assert runtime_tuning.session_threads(0, 0) == (0, 0)
  # So does an entry kept before the preprocessing threads were measured: measured again.
  runtime_tuning.save({'onednn': '1', 'intra': 2, 'inter': 1})
  assert runtime_tuning.measured_settings() is None


def test_the_first_run_starts_again_once_when_the_measured_onednn_differs(own_cache):
  # Measuring is replaced by a fixed answer; the rest is the real start-again path.
  program = ('import os, slimbench\n'
             'from slimbench import runtime_tuning as tuning\n'
             'tuning.measure = lambda log: {"onednn": "0", "intra": 0, "inter": 0, '
             '"preprocessing": 1, "seconds": 0.0}\n'
             'tuning.ensure_measured()\n'
             'print("oneDNN", os.environ[tuning.ONEDNN_ENV])\n')
  done = subprocess.run([sys.executable, '-c', program], cwd=REPO_ROOT,
                        env=_env_without_onednn(own_cache), capture_output=True, text=True,
                        timeout=60, check=False)
  assert done.returncode == 0, done.stderr
  assert done.stdout.count('Starting again with TF_ENABLE_ONEDNN_OPTS=0') == 1
  assert done.stdout.strip().splitlines()[-1] == 'oneDNN 0'


def test_an_unwritable_cache_folder_skips_the_measurement_and_says_why(tmp_path, monkeypatch):
  not_a_folder = tmp_path / 'a_file'
  not_a_folder.write_text('')
  monkeypatch.setenv(runtime_tuning.CACHE_DIR_ENV, str(not_a_folder))
  monkeypatch.setattr(runtime_tuning, 'measure', lambda **kwargs: pytest.fail('measured'))
  said = []
  runtime_tuning.ensure_measured(log=said.append)
  message, = said
  assert 'Not measuring which TensorFlow runtime settings' in message
  assert str(not_a_folder) in message
  assert runtime_tuning.session_threads(0, 0) == (0, 0)


def test_a_float16_run_starts_again_with_its_own_onednn_choice_and_passes_it_on(own_cache):
  # Measuring is replaced by fixed answers: oneDNN on for float32, off for float16.
  program = (
      'import os, subprocess, sys, slimbench\n'
      'from slimbench import runtime_tuning as tuning\n'
      'tuning.measure = lambda log: {"onednn": "1", "intra": 0, "inter": 0, '
      '"preprocessing": 1, "seconds": 0.0}\n'
      'tuning.measure_float16 = lambda entry, log: {"onednn_float16": "0", '
      '"float16_seconds": 0.0}\n'
      'tuning.ensure_measured(use_fp16=sys.argv[1] == "fp16")\n'
      'child = subprocess.run([sys.executable, "-c", "import os, slimbench; '
      'print(os.environ[\'TF_ENABLE_ONEDNN_OPTS\'])"], capture_output=True, text=True)\n'
      'print("oneDNN", os.environ[tuning.ONEDNN_ENV], "child", child.stdout.strip())\n')
  def run(precision):
    return subprocess.run([sys.executable, '-c', program, precision], cwd=REPO_ROOT,
                          env=_env_without_onednn(own_cache), capture_output=True, text=True,
                          timeout=120, check=False)
  float16 = run('fp16')
  assert float16.returncode == 0, float16.stderr
  assert float16.stdout.count('Starting again with TF_ENABLE_ONEDNN_OPTS=0') == 1
  # The processes a float16 run starts (the runner's workers) keep its choice.
  assert float16.stdout.strip().splitlines()[-1] == 'oneDNN 0 child 0'
  float32 = run('fp32')
  assert float32.returncode == 0, float32.stderr
  assert 'Starting again' not in float32.stdout
  assert float32.stdout.strip().splitlines()[-1] == 'oneDNN 1 child 1'


def test_cpus_that_show_the_same_name_are_told_apart_by_family_model_and_isa():
  zen2 = ('processor\t: 0\ncpu family\t: 23\nmodel\t\t: 49\nmodel name\t: AMD EPYC\n'
          'flags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\nmodel name\t: AMD EPYC\n')
  zen5 = ('processor\t: 0\ncpu family\t: 26\nmodel\t\t: 2\nmodel name\t: AMD EPYC\n'
          'flags\t\t: fpu sse2 avx avx2 avx512f avx512_bf16\n')
  assert runtime_tuning.describe_cpu(zen2) == 'AMD EPYC (family 23 model 49, AVX2)'
  assert runtime_tuning.describe_cpu(zen5) == 'AMD EPYC (family 26 model 2, AVX-512)'
  assert runtime_tuning.describe_cpu('processor\t: 0\n') is None
