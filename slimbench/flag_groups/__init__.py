"""Flags that several scripts share, defined once each, one module per group.

absl lists a script's flags under the module that defines them, so each group lives in
its own module here and `--help` shows it under that module's name. Every function
defines its flags on a given `flags.FlagValues` and returns their names; a script passes
in the defaults that differ between scripts (TF-Slim evaluates the `test` split and
trains on `train`), never a different meaning.
"""
