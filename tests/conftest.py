"""Test-wide settings: quiet TensorFlow, graph-mode helpers."""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# The tests run with the TensorFlow defaults that the scripts set (oneDNN on).
import slimbench  # pylint: disable=g-import-not-at-top,unused-import
import pytest  # pylint: disable=g-import-not-at-top
import tensorflow as tf  # pylint: disable=g-import-not-at-top

SPEC_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        '..', 'shared', 'spec', 'nets')


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
