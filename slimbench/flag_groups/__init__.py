"""Flags that several scripts share, defined once each, one module per group.

absl lists a script's flags under the module that defines them, so each group lives in
its own module here and `--help` shows it under that module's name. Every function
defines its flags on a given `flags.FlagValues` and returns their names; a script passes
in the defaults that differ between scripts (TF-Slim evaluates the `test` split and
trains on `train`), never a different meaning.

`read` turns parsed flags into the typed settings of `slimbench.config`: each script does
that once, at its boundary, and the library below never sees a FlagValues.
"""

import dataclasses


def _frozen(value):
  return tuple(value) if isinstance(value, list) else value


def read(config_class, flag_values, **renamed):
  """A `config_class` from parsed flags: each field from the flag of its name.

  A field whose default is itself a config (the `data` group of `EvalConfig`) is read the
  same way, from its default. Fields whose flag `flag_values` lacks keep their defaults
  (export takes no --num_preprocessing_threads). `renamed` maps a field to another flag's
  name (`image_size='eval_image_size'`).
  """
  return config_class(**_values(config_class, flag_values, renamed))


def _values(config_class, flag_values, renamed):
  values = {}
  for field in dataclasses.fields(config_class):
    name = renamed.get(field.name, field.name)
    if dataclasses.is_dataclass(field.default):
      values[field.name] = dataclasses.replace(
          field.default, **_values(type(field.default), flag_values, renamed))
    elif name in flag_values:
      values[field.name] = _frozen(flag_values[name].value)
  return values


def flag_lines(flag_values, names):
  """{name: `--name=value`} of the flags among `names` that have a value, as absl writes
  them (a list as `--name=a,b`): what training records in flags.txt and compares on resume.
  """
  return {name: flag_values[name].serialize() for name in names
          if flag_values[name].value is not None}
