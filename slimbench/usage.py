"""`--help` for the top-level scripts: the script's usage, then its own flags by group.

absl's own `--help` lists only the flags that the main module defines, so a script whose
flags live in slimbench/ showed none, and it exits with status 1. Here `--help` (and
`--helpshort`) print the script's docstring and each flag the script declared key
(`flags.declare_key_flag`), under the module that defines it: the script's own, then the
shared groups of `slimbench.flag_groups`. `--helpfull` stays absl's (every flag, TensorFlow's
included).
"""

import os
import sys

from absl import app
from absl import flags


def _render(flag):
  lines = [f'  --{"[no]" if flag.boolean else ""}{flag.name}: {flag.help}']
  syntax = flag.parser.syntactic_help
  if syntax:
    lines.append(f'({syntax})')
  if flag.default_as_str:
    lines.append(f'(default: {flag.default_as_str})')
  text = ' '.join(lines)
  return flags.text_wrap(text, indent='      ', firstline_indent='  ')


def program():
  """The name the user ran: the script's file name, or the installed command's."""
  return os.path.basename(sys.argv[0])


def grouped_help(fv, module_name):
  """The key flags of `module_name` on `fv`, grouped by the module defining each.

  The flags that `module_name` defines itself come first, under the name the user ran.
  """
  groups = {}
  for flag in fv.get_key_flags_for_module(module_name):
    groups.setdefault(fv.find_module_defining_flag(flag.name), []).append(flag)
  order = sorted(groups, key=lambda name: (name != module_name,
                                           name.startswith('slimbench.flag_groups'), name))
  sections = []
  for name in order:
    listing = '\n'.join(_render(flag) for flag in sorted(groups[name], key=lambda f: f.name))
    # Run with `python -m`, absl files the module's flags under its path.
    banner = program() if name in (module_name, sys.argv[0]) else name
    sections.append(f'{banner}:\n{listing}')
  return '\n\n'.join(sections)


class _GroupedHelpFlag(flags.BooleanFlag):
  """--help: the script's usage and its own flags by group; exits with status 0."""

  def __init__(self, name, short_name, script_module):
    super().__init__(name, False, 'Show this help: the usage and this script\'s flags.',
                     short_name=short_name, allow_override=True)
    self._script_module = script_module

  def parse(self, argument):
    super().parse(argument)
    if self.value:
      script = sys.modules[self._script_module]
      footer = flags.text_wrap('--flagfile=FILE reads flags from FILE (a flags.txt a run '
                               'wrote, say); --helpfull lists every flag, absl\'s and '
                               'TensorFlow\'s too.')
      try:
        sys.stdout.write(f'{(script.__doc__ or "").rstrip()}\n\nflags:\n\n'
                         f'{grouped_help(flags.FLAGS, script.__name__)}\n\n{footer}\n')
        sys.stdout.flush()
      except BrokenPipeError:
        # `--help | head` closed the pipe: that reader has what it wanted.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
      sys.exit(0)


def run(main):
  """`app.run(main)`, with the grouped `--help` of the module that defines `main`.

  That module (one of `slimbench.commands`) gives the usage, its docstring, and the flags
  it declared key, for the top-level script and the installed command alike.
  """
  app.define_help_flags()
  flags.DEFINE_flag(_GroupedHelpFlag('help', '?', main.__module__))
  flags.DEFINE_flag(_GroupedHelpFlag('helpshort', None, main.__module__))
  app.run(main)
