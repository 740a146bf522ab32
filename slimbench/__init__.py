"""The machinery behind the top-level scripts: training, evaluation, export, benchmarks.

The networks, datasets, preprocessing and deployment packages are `slimbench.nets`,
`slimbench.datasets`, `slimbench.preprocessing` and `slimbench.deployment`. Installed
(`pip install .`), they live inside this package, so nothing named `datasets` shadows
Hugging Face's. In a source checkout they are the repository's top-level folders, which
TF-Slim's own imports (`from nets import nets_factory`) use when run from the repository
root; both names then give the same module objects. `enable_tf_slim_imports()` gives an
installed copy TF-Slim's names too.

Importing it first sets TensorFlow's runtime defaults, which only take effect before
TensorFlow itself is imported.
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys

# TensorFlow switches its oneDNN kernels on by default only on CPUs with AVX-512 VNNI,
# BF16 or AMX, yet on AVX2 CPUs they train faster too (docs/performance.md). So they are
# on unless this machine measured otherwise (runtime_tuning) or TF_ENABLE_ONEDNN_OPTS in
# the environment says otherwise.
from slimbench import runtime_tuning  # pylint: disable=g-import-not-at-top

runtime_tuning.apply_onednn_setting()

TF_SLIM_PACKAGES = ('nets', 'datasets', 'preprocessing', 'deployment')

_HERE = os.path.dirname(os.path.abspath(__file__))
_PARENT = os.path.dirname(_HERE)

# The repository folder when this is a source checkout (runs, data and the git commit are
# found there); None for an installed copy, whose packages sit inside this one.
SOURCE_ROOT = (_PARENT if not os.path.isdir(os.path.join(_HERE, 'nets')) and
               os.path.isdir(os.path.join(_PARENT, 'nets')) else None)


class _AliasLoader(importlib.abc.Loader):
  """Loads a module by importing it under its other name: one module object, two names."""

  def __init__(self, target):
    self._target = target

  def create_module(self, spec):
    return importlib.import_module(self._target)

  def exec_module(self, module):
    pass  # the target's import already ran it


class _AliasFinder(importlib.abc.MetaPathFinder):
  """Serves `from_prefix.X...` as the module `to_prefix.X...` for the given packages."""

  def __init__(self, from_prefix, to_prefix, packages):
    self.from_prefix, self.to_prefix, self.packages = from_prefix, to_prefix, packages

  def _target(self, fullname):
    head = fullname[len(self.from_prefix):] if fullname.startswith(self.from_prefix) else None
    if head is None or head.split('.', 1)[0] not in self.packages:
      return None
    return self.to_prefix + head

  def find_spec(self, fullname, path=None, target=None):
    del path, target
    aliased = self._target(fullname)
    if aliased is None:
      return None
    found = importlib.util.find_spec(aliased)
    if found is None:
      return None
    return importlib.machinery.ModuleSpec(fullname, _AliasLoader(aliased),
                                          is_package=found.submodule_search_locations is not None)


def _is_source_checkout():
  """True when this package sits in a checkout whose top-level `nets` is the importable one."""
  if SOURCE_ROOT is None:
    return False
  spec = importlib.util.find_spec('nets')
  return bool(spec and spec.origin and
              os.path.dirname(os.path.dirname(os.path.abspath(spec.origin))) == _PARENT)


if _is_source_checkout():
  sys.meta_path.insert(0, _AliasFinder('slimbench.', '', TF_SLIM_PACKAGES))


def enable_tf_slim_imports():
  """Makes TF-Slim's top-level names (`from nets import nets_factory`) work in this process.

  For a notebook or script using an installed slimbench. `nets`, `datasets`,
  `preprocessing` and `deployment` then name slimbench's packages for the rest of the
  process, which hides any other importable package of the same name (Hugging Face's
  `datasets`, for one). In a source checkout run from its root the names already work and
  nothing changes.

  Returns:
    The names that now resolve to another module than before: each one that an installed
    distribution of that name (or a module already imported) provided.
  """
  if _is_source_checkout() or any(
      isinstance(finder, _AliasFinder) and finder.from_prefix == ''
      for finder in sys.meta_path):
    return []
  shadowed = []
  for name in TF_SLIM_PACKAGES:
    if name in sys.modules or importlib.util.find_spec(name) is not None:
      shadowed.append(name)
      for loaded in [m for m in sys.modules if m == name or m.startswith(name + '.')]:
        del sys.modules[loaded]
  sys.meta_path.insert(0, _AliasFinder('', 'slimbench.', TF_SLIM_PACKAGES))
  return shadowed
