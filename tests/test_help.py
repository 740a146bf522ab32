"""`--help` of each top-level script, run as a user runs it, and the shared flag groups.

`--help` must exit 0 and list the script's own flags under the module that defines them
(the script's, then `slimbench.flag_groups.*`), none of absl's or TensorFlow's, after the
script's docstring with its line continuations intact. A flag that several scripts take
is defined once, so it has one help text everywhere.
"""

import ast
import os
import re
import subprocess
import sys

from absl import flags
import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUPS = 'slimbench.flag_groups.'

# For each script: banner -> a few of the flags it must list there.
EXPECTED = {
    'train_image_classifier.py': {
        'slimbench.train_flags': ['train_dir', 'batch_size', 'max_number_of_steps'],
        GROUPS + 'optimizer_flags': ['optimizer', 'momentum', 'weight_decay'],
        GROUPS + 'learning_rate_flags': ['learning_rate', 'learning_rate_decay_type'],
        GROUPS + 'dataset_flags': ['dataset_dir', 'dataset_split_name', 'labels_offset'],
        GROUPS + 'model_flags': ['model_name'],
        GROUPS + 'preprocessing_flags': ['preprocessing_name', 'use_grayscale'],
        GROUPS + 'checkpoint_flags': ['checkpoint_path', 'moving_average_decay',
                                      'checkpoint_exclude_scopes'],
    },
    'eval_image_classifier.py': {
        'slimbench.eval_flags': ['eval_dir', 'eval_crops', 'batch_size'],
        GROUPS + 'dataset_flags': ['dataset_name', 'dataset_dir', 'labels_offset'],
        GROUPS + 'model_flags': ['model_name'],
        GROUPS + 'checkpoint_flags': ['checkpoint_path'],
    },
    'export_inference_graph.py': {
        'slimbench.export_flags': ['output_file', 'saved_model_dir', 'tflite_file'],
        GROUPS + 'dataset_flags': ['dataset_dir', 'labels_offset'],
        GROUPS + 'preprocessing_flags': ['image_size', 'use_grayscale'],
        GROUPS + 'checkpoint_flags': ['checkpoint_path'],
    },
    'classify_image.py': {
        'slimbench.classify_flags': ['saved_model_dir', 'output_format', 'top_k'],
        GROUPS + 'dataset_flags': ['dataset_dir', 'labels_offset'],
        GROUPS + 'model_flags': ['model_name'],
    },
    'download_and_convert_data.py': {
        'download_and_convert_data.py': ['dataset_name', 'dataset_dir', 'source_dir'],
    },
    'benchmark_models.py': {
        'slimbench.benchmark_flags': ['study', 'models', 'seeds', 'output_dir'],
        'slimbench.train_flags': ['train_dir', 'max_number_of_steps'],
        GROUPS + 'optimizer_flags': ['optimizer'],
        GROUPS + 'dataset_flags': ['dataset_dir'],
    },
}
# The module of `slimbench.commands` each script runs, which holds its usage.
COMMAND_MODULES = {
    'train_image_classifier.py': 'train', 'eval_image_classifier.py': 'evaluate',
    'export_inference_graph.py': 'export', 'classify_image.py': 'classify',
    'download_and_convert_data.py': 'convert', 'benchmark_models.py': 'benchmark',
}
# Flags of absl, TensorFlow and the help machinery that --help must not list.
NOT_OURS = ['helpfull', 'helpxml', 'only_check_args', 'logtostderr', 'verbosity', 'tpu',
            'flagfile', 'undefok']


def _sections(text):
  """{banner: [flag names]} of the flags part of a --help output."""
  sections, banner = {}, None
  for line in text.split('\nflags:\n', 1)[1].splitlines():
    if re.fullmatch(r'[\w.]+:', line):
      banner = line[:-1]
      sections[banner] = []
    elif banner and (match := re.match(r'  --(?:\[no\])?(\w+)', line)):
      sections[banner].append(match.group(1))
  return sections


@pytest.mark.parametrize('script', sorted(EXPECTED))
def test_help_lists_the_scripts_own_flags_by_group(script):
  path = os.path.join(REPO_ROOT, script)
  env = dict(os.environ, PYTHONPATH=REPO_ROOT, TF_CPP_MIN_LOG_LEVEL='2')
  result = subprocess.run([sys.executable, path, '--help'], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  sections = _sections(result.stdout)
  for banner, names in EXPECTED[script].items():
    assert banner in sections, f'{banner} not in {list(sections)}'
    assert set(names) <= set(sections[banner]), (banner, sections[banner])
  listed = [name for names in sections.values() for name in names]
  assert not set(listed) & set(NOT_OURS), listed
  assert not [b for b in sections if b.startswith(('absl', 'tensorflow'))], list(sections)
  # The usage keeps its shell line continuations, exactly as the docstring has them.
  usage_module = os.path.join(REPO_ROOT, 'slimbench', 'commands',
                              COMMAND_MODULES[script] + '.py')
  with open(usage_module, encoding='utf-8') as f:
    docstring = ast.get_docstring(ast.parse(f.read()), clean=False)
  continued = [line for line in docstring.splitlines() if line.endswith('\\')]
  assert continued, f'{script}: its usage has no continued command line to check'
  for line in continued:
    assert line + '\n' in result.stdout, line


def _defined_by_each_script():
  from slimbench import benchmark_flags  # pylint: disable=g-import-not-at-top
  from slimbench import classify_flags  # pylint: disable=g-import-not-at-top
  from slimbench import eval_flags  # pylint: disable=g-import-not-at-top
  from slimbench import export_flags  # pylint: disable=g-import-not-at-top
  from slimbench import train_flags  # pylint: disable=g-import-not-at-top
  scripts = {}
  for name, define in [('train', train_flags.define_train_flags),
                       ('eval', eval_flags.define_eval_flags),
                       ('export', export_flags.define_export_flags),
                       ('classify', classify_flags.define_classify_flags),
                       ('benchmark', benchmark_flags.define_benchmark_flags)]:
    fv = flags.FlagValues()
    define(fv)
    scripts[name] = fv
  return scripts


# Flags of one name whose meaning differs between scripts, so their help differs too.
DIFFERENT_MEANINGS = {
    'batch_size': 'per clone and step in training, per batch in evaluation, a fixed input '
                  'dimension in export',
    'image_size': "export's and classify's input side; the benchmark's throughput size",
    'top_k': "export's output tensor; classify's printed classes",
    'quantize': "evaluation's and export's TF-Slim graphs, each refused in its own words",
    'master': "training's says how the cluster flags start a server instead",
    'eval_crops': "the benchmark's applies to the evaluations of its training study",
    'saved_model_dir': "export's output; classify's input",
}


def test_each_shared_flag_has_one_definition():
  scripts = _defined_by_each_script()
  shared = {}
  for script, fv in scripts.items():
    for name in fv:
      shared.setdefault(name, {})[script] = fv[name]
  for name in ['dataset_name', 'dataset_dir', 'labels_offset', 'model_name',
               'preprocessing_name', 'use_grayscale', 'checkpoint_path']:
    modules = {scripts[s].find_module_defining_flag(name) for s in shared[name]}
    assert len(modules) == 1 and modules.pop().startswith(GROUPS), (name, modules)
  for name, by_script in shared.items():
    if len(by_script) < 2 or name in DIFFERENT_MEANINGS:
      continue
    helps = {flag.help for flag in by_script.values()}
    if name == 'checkpoint_path':
      # Each script says first what it does with the weights; the rest is shared.
      helps = {text.split('. ', 1)[1] for text in helps}
    assert len(helps) == 1, (name, helps)
  dataset_dir = {s: flag.default for s, flag in shared['dataset_dir'].items()}
  assert set(dataset_dir.values()) == {None}, dataset_dir
