"""`pip install .` as a user runs it: what lands on the import path, and the commands.

The distribution is built from a copy of the checkout and installed into a folder of its
own (`pip install --target`), which then stands for site-packages: the checks run from
another folder with only that folder on the path, beside a stand-in for Hugging Face's
`datasets`.
"""

import os
import shutil
import subprocess
import sys
import textwrap

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ('slimbench', 'nets', 'datasets', 'preprocessing', 'deployment')
COMMANDS = ('slimbench-train', 'slimbench-eval', 'slimbench-convert', 'slimbench-export',
            'slimbench-classify', 'slimbench-benchmark', 'slimbench-models')


def _install(tmp_path):
  source = tmp_path / 'source'
  for name in PACKAGES:
    shutil.copytree(os.path.join(REPO_ROOT, name), source / name,
                    ignore=shutil.ignore_patterns('__pycache__'))
  for name in ('pyproject.toml', 'README.md'):
    shutil.copy(os.path.join(REPO_ROOT, name), source / name)
  site = tmp_path / 'site'
  # No build isolation: the environment's setuptools builds it, with no download.
  subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps',
                  '--no-build-isolation', '--target', str(site), str(source)],
                 check=True, capture_output=True, text=True, timeout=300)
  return site


def _python_files(root):
  return {os.path.relpath(os.path.join(folder, name), root)
          for folder, _, names in os.walk(root) for name in names
          if name.endswith('.py') and '__pycache__' not in folder}


def test_install_puts_only_slimbench_on_the_path_and_its_commands_work(tmp_path):
  site = _install(tmp_path)
  assert {entry for entry in os.listdir(site) if not entry.endswith('.dist-info')} == {
      'slimbench', 'bin'}
  # Every module of the checkout is in the distribution, under slimbench/.
  expected = _python_files(os.path.join(REPO_ROOT, 'slimbench'))
  for name in PACKAGES[1:]:
    expected |= {os.path.join(name, path) for path in _python_files(os.path.join(REPO_ROOT, name))}
  assert expected <= _python_files(site / 'slimbench')

  # Another project's `datasets` (Hugging Face's, say) on the same path.
  other = tmp_path / 'other'
  (other / 'datasets').mkdir(parents=True)
  (other / 'datasets' / '__init__.py').write_text('OWNER = "someone else"\n')
  elsewhere = tmp_path / 'elsewhere'
  elsewhere.mkdir()
  env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), str(other)]),
             TF_CPP_MIN_LOG_LEVEL='2')
  check = textwrap.dedent('''
      import importlib.util
      import slimbench
      assert slimbench.SOURCE_ROOT is None
      assert importlib.util.find_spec('nets') is None
      import datasets
      assert datasets.OWNER == 'someone else'
      from slimbench.datasets import dataset_factory
      from slimbench.nets import nets_factory
      assert 'lenet' in nets_factory.list_models()
      import datasets
      assert datasets.OWNER == 'someone else'
      print('shadowed:', slimbench.enable_tf_slim_imports())
      from nets import nets_factory as tf_slim_name
      from datasets import dataset_factory as tf_slim_dataset_factory
      assert tf_slim_name is nets_factory
      assert tf_slim_dataset_factory is dataset_factory
      ''')
  ran = subprocess.run([sys.executable, '-c', check], cwd=elsewhere, env=env,
                       capture_output=True, text=True, timeout=120)
  assert ran.returncode == 0, ran.stderr[-3000:]
  assert "shadowed: ['datasets']" in ran.stdout

  helps = {command: subprocess.Popen([str(site / 'bin' / command), '--help'], cwd=elsewhere,
                                     env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
           for command in COMMANDS}
  for command, process in helps.items():
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0, command
    assert f'`{command}`' in out or command in out, (command, out[:500])
    assert '\nflags:\n' in out, command

  def run(command, *args):
    done = subprocess.run([str(site / 'bin' / command), *args], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (command, done.stderr[-3000:])
    return done

  run('slimbench-convert', '--dataset_name=mnist5k', '--dataset_dir=mnist5k')
  dataset = ['--dataset_name=mnist5k', '--dataset_dir=mnist5k']
  run('slimbench-train', '--train_dir=lenet', '--model_name=lenet', '--batch_size=2',
      '--max_number_of_steps=2', *dataset)
  evaluated = run('slimbench-eval', '--checkpoint_path=lenet', '--eval_dir=lenet/eval',
                  '--model_name=lenet', '--dataset_split_name=test', '--batch_size=10',
                  '--max_num_batches=1', *dataset)
  assert 'eval/Accuracy' in evaluated.stderr + evaluated.stdout
  listed = run('slimbench-models', '--models=lenet,vgg_16')
  rows = [line for line in listed.stdout.splitlines() if line.startswith('| `')]
  assert [row.split('|')[1].strip() for row in rows] == ['`lenet`', '`vgg_16`']
  assert '138,357,544' in rows[1] and 'vgg_16_2016_08_28.tar.gz' in rows[1]
  bad = subprocess.run([str(site / 'bin' / 'slimbench-models'), '--models=no_such_net'],
                       cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
  assert bad.returncode == 1
  assert bad.stderr.strip().splitlines()[-1].startswith("slimbench-models: Name of network "
                                                          "unknown: 'no_such_net'")
