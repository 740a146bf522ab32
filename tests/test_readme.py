"""The README's commands, taken from README.md itself and run as a user runs them.

Which commands run (the rule, so that nothing is skipped silently):
- Every ```sh block of README.md is found. Those of the "Commands" section are split into
  groups, each starting at a comment line (`# Train`, `# Evaluate ...`); the groups run in
  the README's order, each as one bash script (`bash -e`), in the repository root.
- A group runs unless SKIPPED_GROUPS names it, with the reason. Blocks outside "Commands"
  are not run here; NOT_RUN_SECTIONS names each section that has one, with the reason. A
  new group or a block in a new section fails the test until it is run or listed.
- Only paths change, never flags: `.venv/bin/` becomes the folder of the interpreter running
  the tests (the same environment: its python and its slimbench-* commands), `/tmp/...` a folder under the test's tmp_path, and the
  relative `data/...` a folder under tmp_path too (the Convert command fills it, and the
  later commands read it there).
"""

import json
import os
import re
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(REPO_ROOT, 'README.md')

SKIPPED_GROUPS = {
    'Compare architectures and optimizers':
        "the two studies train 30 runs and time vgg_16 and resnet_v1_50 at batch 32: tens "
        "of minutes on two cores; the runner's flags are tested in "
        "tests/slimbench/test_benchmark.py",
}
NOT_RUN_SECTIONS = {
    'Quick start': "the main job (minutes) is CI's own command (.ci/run), as is pytest",
    'Real data offline: Fashion-MNIST': 'apt-get as root, and a recipe sized for 45 minutes',
    'Training on several machines': 'placeholder hosts (ps0, worker0, worker1)',
}


def _sections(text):
  """{heading of a `## ` section: its text}."""
  parts = re.split(r'^## (.+)$', text, flags=re.M)
  return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _sh_blocks(section_text):
  return re.findall(r'^```sh\n(.*?)^```', section_text, flags=re.M | re.S)


def _command_groups(block):
  """[(title, script)] of a block: a group starts at each comment line."""
  groups = []
  for line in block.splitlines():
    if line.startswith('# '):
      groups.append([line[2:].strip(), []])
    elif line.strip():
      assert groups, f'a command before the first comment line in Commands: {line}'
      groups[-1][1].append(line)
  return [(title, '\n'.join(lines)) for title, lines in groups]


def _readme_groups():
  with open(README, encoding='utf-8') as f:
    sections = _sections(f.read())
  groups = [group for block in _sh_blocks(sections['Commands'])
            for group in _command_groups(block)]
  return sections, groups


def _moved(script, tmp_path):
  """The script with its paths moved under tmp_path; the flags stay as written."""
  script = re.sub(r'(?<![\w./])/tmp/', f'{tmp_path}/', script)
  script = re.sub(r'(?<=[=\s\'"])data/', f'{tmp_path}/data/', script)
  # Last, so that an environment that itself lives under /tmp keeps its path.
  return script.replace('.venv/bin/', os.path.dirname(sys.executable) + '/')


def _run(script, tmp_path):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  result = subprocess.run(['bash', '-e', '-c', _moved(script, tmp_path)], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=900, check=False)
  assert result.returncode == 0, (
      f'README command failed (exit {result.returncode}):\n{script}\n'
      f'stdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-4000:]}')
  return result


def test_every_readme_command_block_is_run_here_or_skipped_by_name():
  sections, groups = _readme_groups()
  titles = [title for title, _ in groups]
  for title in SKIPPED_GROUPS:
    assert title in titles, f'SKIPPED_GROUPS names "{title}", which Commands lacks'
  with_blocks = {name for name, text in sections.items() if _sh_blocks(text)}
  unlisted = with_blocks - {'Commands'} - set(NOT_RUN_SECTIONS)
  assert not unlisted, (f'README sections with ```sh blocks that this test neither runs nor '
                        f'lists in NOT_RUN_SECTIONS: {sorted(unlisted)}')
  assert not set(NOT_RUN_SECTIONS) - with_blocks, 'a listed section has no block any more'


def test_readme_commands_run_as_written(tmp_path):
  _, groups = _readme_groups()
  checks = {'Convert': _check_convert, 'Train': _check_train, 'Evaluate': _check_evaluate,
            'Export': _check_export, 'Classify': _check_classify, 'List': _check_list}
  outputs = {}
  ran = []
  for title, script in groups:
    if title in SKIPPED_GROUPS:
      continue
    kind = next((word for word in checks if title.startswith(word)), None)
    assert kind, f'README Commands group "{title}" has no check here: add one or skip it'
    outputs[kind] = _run(script, tmp_path)
    # Shown by `pytest -rP`: what each README command printed, for the note.
    print(f'$ {script}\n{outputs[kind].stdout[-1500:]}{outputs[kind].stderr[-1500:]}')
    checks[kind](tmp_path, outputs)
    ran.append(kind)
  assert ran == list(checks), f'README Commands groups ran in this order: {ran}'


def _check_convert(tmp_path, outputs):
  del outputs
  with open(tmp_path / 'data' / 'mnist5k' / 'dataset_info.json') as f:
    info = json.load(f)
  assert info['name'] == 'mnist5k', info


def _check_train(tmp_path, outputs):
  del outputs
  with open(tmp_path / 'lenet' / 'train_results.json') as f:
    results = json.load(f)
  assert results['stopped'] == 'finished', results
  assert results['global_step'] == 1000, results


def _check_evaluate(tmp_path, outputs):
  with open(tmp_path / 'lenet' / 'eval' / 'eval_results.json') as f:
    results = json.load(f)
  assert results['num_examples'] == 500, results
  # Ten classes: chance is 0.1. LeNet after the README's 1000 steps is far above it.
  assert results['accuracy'] > 0.5, results
  logged = re.search(r'eval/Accuracy = ([0-9.]+)', outputs['Evaluate'].stderr)
  assert logged and float(logged.group(1)) == pytest.approx(results['accuracy'], abs=1e-4)


def _check_export(tmp_path, outputs):
  del outputs
  with open(tmp_path / 'lenet_sm' / 'assets.extra' / 'slimbench.json') as f:
    assert json.load(f)['channels'] == 1
  for name in ('lenet.tflite', 'lenet.pb'):
    assert (tmp_path / name).stat().st_size > 100_000, name  # LeNet's 3.3M weights


def _check_classify(tmp_path, outputs):
  stdout = outputs['Classify'].stdout
  label = re.search(r'digit\.png is a (\d)', stdout)
  assert label, stdout
  # classify_image.py's text: the image, then "  probability  class  label" per line.
  predictions = re.findall(r'^\s+([0-9.]+)\s+(\d+)\s+(\S+)$', stdout, flags=re.M)
  assert f'{tmp_path}/digit.png:' in stdout and len(predictions) == 5, stdout
  top_probability, top_class, top_label = predictions[0]
  assert top_label == label.group(1) and top_class == label.group(1), stdout
  assert float(top_probability) > 0.5, stdout


def _check_list(tmp_path, outputs):
  del tmp_path
  names = re.findall(r'^\| `(\w+)` \|', outputs['List'].stdout, flags=re.M)
  assert names == ['lenet', 'mobilenet_v1', 'mobilenet_v1_025', 'mobilenet_v1_050',
                   'mobilenet_v1_075'], outputs['List'].stdout


def test_every_results_column_is_explained_in_the_readme():
  from slimbench import benchmark  # pylint: disable=g-import-not-at-top
  with open(README, encoding='utf-8') as f:
    runner = _sections(f.read())['The benchmark runner']
  explained = runner.split('### What the results files hold', 1)[1].split('\n### ', 1)[0]
  words = set(re.findall(r'[a-z0-9_]+', explained))
  prefixes = re.findall(r'`([a-z0-9_]+_)\*`', explained)  # `top5_*`: top5_mean, top5_ci95
  columns = set(benchmark.TRAIN_COLUMNS + benchmark.SUMMARY_COLUMNS +
                benchmark.THROUGHPUT_COLUMNS + benchmark.PROVENANCE_COLUMNS)
  missing = sorted(c for c in columns
                   if c not in words and not any(c.startswith(p) for p in prefixes))
  assert not missing, f'results columns the README does not explain: {missing}'
