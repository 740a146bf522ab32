"""Test-wide settings: quiet TensorFlow, graph-mode helpers."""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# The tests run with the TensorFlow defaults that the scripts set (oneDNN on).
import slimbench  # pylint: disable=g-import-not-at-top,unused-import
from slimbench import runtime_tuning  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

SPEC_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        '..', 'shared', 'spec', 'nets')


@pytest.fixture(scope='session', autouse=True)
def kernel_cache_dir(tmp_path_factory):
  """Kernel choices measured by the tests go to a folder of the session, not the user's
  cache (the scripts the tests start inherit the variable)."""
  folder = str(tmp_path_factory.mktemp('kernel_cache'))
  previous = os.environ.get('SLIMBENCH_CACHE_DIR')
  os.environ['SLIMBENCH_CACHE_DIR'] = folder
  # TensorFlow's defaults (oneDNN on, for float16 too) stand in for this machine's
  # measured runtime settings, so that no script the tests start spends minutes measuring
  # them (test_runtime_tuning measures).
  runtime_tuning.save(dict(runtime_tuning.default_settings(), measured='seeded by the tests',
                           **{runtime_tuning.FLOAT16_KEY: '1'}))
  yield folder
  if previous is None:
    del os.environ['SLIMBENCH_CACHE_DIR']
  else:
    os.environ['SLIMBENCH_CACHE_DIR'] = previous


@pytest.fixture
def graph():
  """A fresh default graph for TF-Slim style graph-mode code."""
  with tf.Graph().as_default() as g:
    yield g


@pytest.fixture(scope='session')
def mnist5k_dir(tmp_path_factory):
  """The built-in offline dataset, converted once per test session."""
  from datasets import converters  # pylint: disable=g-import-not-at-top
  dataset_dir = str(tmp_path_factory.mktemp('mnist5k'))
  converters.get_spec('mnist5k').convert(dataset_dir)
  return dataset_dir
