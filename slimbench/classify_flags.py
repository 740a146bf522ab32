"""The flags of classify_image.py, and their reading into a `classify.ClassifyConfig`.

Defined on a given `flags.FlagValues`, so that tests can parse their own argument lists
without touching the process-wide `absl.flags.FLAGS`.
"""

import dataclasses

from absl import flags

from slimbench import classify
from slimbench import flag_groups
from slimbench.flag_groups import checkpoint_flags
from slimbench.flag_groups import dataset_flags
from slimbench.flag_groups import model_flags
from slimbench.flag_groups import preprocessing_flags


def define_classify_flags(fv):
  """Defines the flags of classify_image.py on `fv`; returns their names."""
  before = set(fv)
  model_flags.define_model_flags(fv, model_name=None)
  checkpoint_flags.define_checkpoint_flags(fv, 'The weights to classify with (and '
                                           '--model_name), or --saved_model_dir instead.')
  flags.DEFINE_string('saved_model_dir', None, 'SavedModel written by '
                      'export_inference_graph.py, instead of a checkpoint.', flag_values=fv)
  flags.DEFINE_string('labels_file', None, 'A labels.txt (id:name per line).',
                      flag_values=fv)
  # The dataset's labels.txt names the classes (or --labels_file).
  dataset_flags.define_dataset_flags(fv, with_name=False)
  # A SavedModel records its preprocessing, size and channels.
  preprocessing_flags.define_preprocessing_flags(fv, with_threads=False, with_image_size=True)
  flags.DEFINE_integer('top_k', 5, 'Classes to print per image.', lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_enum('output_format', 'text', ['text', 'json'], 'text for people, json for '
                    'scripts.', flag_values=fv)
  return sorted(set(fv) - before)


def read_classify_config(fv):
  """The `classify.ClassifyConfig` of the parsed flags `fv` (defined by
  `define_classify_flags`)."""
  return dataclasses.replace(flag_groups.read(classify.ClassifyConfig, fv),
                             use_grayscale_given=bool(fv['use_grayscale'].present))
