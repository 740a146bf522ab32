"""train_dir/flags.txt reads back with --flagfile to the very flags that wrote it."""

import os
import subprocess
import sys

from absl import flags

from slimbench import train_flags
from slimbench import training

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _kind(flag):
  """string, int, float, bool, enum, list or multi (absl's flag_type() texts vary)."""
  if flag.boolean:
    return 'bool'
  if isinstance(flag, flags.MultiFlag):
    return 'multi'
  if isinstance(flag.parser, flags.EnumParser):
    return 'enum'
  if isinstance(flag.parser, flags.ListParser):
    return 'list'
  if isinstance(flag.parser, flags.IntegerParser):
    return 'int'
  if isinstance(flag.parser, flags.FloatParser):
    return 'float'
  assert type(flag.parser) is flags.ArgumentParser, (flag.name, flag.parser)
  return 'string'


def _other_value(flag):
  """A command-line value for `flag` that differs from its default, by the flag's type."""
  kind, default = _kind(flag), flag.default
  if kind == 'bool':
    return None  # given as --name / --noname
  if kind == 'enum':
    return next(v for v in flag.parser.enum_values if v != default)
  if kind in ('list', 'multi'):
    return ['1', '2']  # the list that flags.txt once wrote as "['1', '2']"
  if kind in ('int', 'float'):
    low = getattr(flag.parser, 'lower_bound', None)
    high = getattr(flag.parser, 'upper_bound', None)
    base = default if default is not None else (low if low is not None else 0)
    step = 3 if kind == 'int' else 0.25
    for value in (base + step, base - step):
      if value != default and (low is None or value >= low) and (high is None or value <= high):
        return repr(value)
    raise AssertionError(f'no other value for --{flag.name} in [{low}, {high}]')
  return 'a value, with a comma and spaces'


def _non_default_argv(fv, names):
  argv = []
  for name in names:
    flag = fv[name]
    value = _other_value(flag)
    if flag.boolean:
      argv.append(f'--no{name}' if flag.default else f'--{name}')
    elif isinstance(value, list):
      argv += ([f'--{name}={v}' for v in value] if _kind(flag) == 'multi'
               else [f'--{name}={",".join(value)}'])
    else:
      argv.append(f'--{name}={value}')
  return argv


def test_flags_txt_reads_back_every_flag_type(tmp_path):
  written = flags.FlagValues()
  names = train_flags.define_train_flags(written)
  written(['train'] + _non_default_argv(written, names))
  types = {_kind(written[name]) for name in names}
  assert {'string', 'int', 'float', 'bool', 'enum', 'list'} <= types, types
  changed = [name for name in names if written[name].value != written[name].default]
  assert len(changed) == len(names), sorted(set(names) - set(changed))

  training.write_flags(train_flags.read_train_config(written, names).flag_lines,
                       str(tmp_path))
  text = (tmp_path / training.FLAGS_FILE).read_text()
  assert "['1', '2']" not in text

  read = flags.FlagValues()
  train_flags.define_train_flags(read)
  read(['train', f'--flagfile={tmp_path / training.FLAGS_FILE}'])
  for name in names:
    assert read[name].value == written[name].value, (name, text)


def test_flags_txt_of_a_run_with_list_flags_is_a_flagfile_of_the_script(tmp_path, mnist5k_dir):
  """As a user does: train with list flags set, then run the script from its flags.txt."""
  train_dir = tmp_path / 'lenet'
  common = ['--model_name=lenet', '--dataset_name=mnist5k', f'--dataset_dir={mnist5k_dir}',
            '--batch_size=8', '--num_readers=1', '--num_preprocessing_threads=1',
            '--random_seed=1']
  first = [f'--train_dir={train_dir}', '--max_number_of_steps=2',
           '--learning_rate_decay_type=piecewise', '--piecewise_boundaries_epochs=1,2',
           '--piecewise_learning_rates=0.01,0.005,0.001', *common]
  fv = flags.FlagValues()
  names = train_flags.define_train_flags(fv)
  fv(['train'] + first)
  training.train(train_flags.read_train_config(fv, names))
  text = (train_dir / training.FLAGS_FILE).read_text()
  assert '--piecewise_learning_rates=0.01,0.005,0.001\n' in text, text

  # The file's own flags, one more step: the script accepts it and resumes.
  again = subprocess.run([sys.executable, 'train_image_classifier.py',
                          f'--flagfile={train_dir / training.FLAGS_FILE}',
                          '--max_number_of_steps=3'],
                         cwd=REPO_ROOT, capture_output=True, text=True)
  assert again.returncode == 0, again.stderr[-2000:]
  assert 'step 3: loss' in again.stderr, again.stderr[-2000:]
