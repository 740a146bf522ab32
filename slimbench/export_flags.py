"""The flags of export_inference_graph.py, and their reading into an `export.ExportConfig`.

Defined on a given `flags.FlagValues`, so that tests can parse their own argument lists
without touching the process-wide `absl.flags.FLAGS`.
"""

import dataclasses

from absl import flags

from slimbench import export
from slimbench import flag_groups
from slimbench.flag_groups import checkpoint_flags
from slimbench.flag_groups import dataset_flags
from slimbench.flag_groups import model_flags
from slimbench.flag_groups import preprocessing_flags


def define_export_flags(fv):
  """TF-Slim's export flags plus the checkpoint and the SavedModel / TFLite outputs.

  Returns their names.
  """
  before = set(fv)
  model_flags.define_model_flags(fv, with_num_frames=True)
  flags.DEFINE_boolean('is_training', False, 'Export the training graph (dropout, batch '
                       'statistics) instead of the inference graph.', flag_values=fv)
  flags.DEFINE_integer('batch_size', None, 'Fixed batch size of the input; by default any.',
                       lower_bound=1, flag_values=fv)
  flags.DEFINE_boolean('is_video_model', False, 'The model is a video model (i3d, s3dg): '
                       'the input is clips [batch, num_frames, size, size, C].',
                       flag_values=fv)
  # Without --dataset_dir the classes are those of the model's published checkpoint.
  dataset_flags.define_dataset_flags(fv)
  flags.DEFINE_string('output_file', '', 'Where to write the GraphDef.', flag_values=fv)
  flags.DEFINE_boolean('write_text_graphdef', False, 'Write the GraphDef as text.',
                       flag_values=fv)
  preprocessing_flags.define_preprocessing_flags(fv, with_name=False, with_threads=False,
                                                 with_image_size=True)
  flags.DEFINE_boolean('quantize', False, 'TF-Slim\'s quantized graph; it needs '
                       'tf.contrib.quantize, which TensorFlow 2 no longer has.',
                       flag_values=fv)
  checkpoint_flags.define_checkpoint_flags(fv, 'The weights: needed for the SavedModel, '
                                           'TFLite and a frozen GraphDef.')
  flags.DEFINE_string('saved_model_dir', None, 'Where to write the SavedModel.',
                      flag_values=fv)
  flags.DEFINE_string('tflite_file', None, 'Where to write a TFLite model.', flag_values=fv)
  flags.DEFINE_boolean('overwrite', False, 'Replace outputs that are not earlier exports of '
                       'this tool (a non-empty --saved_model_dir without its slimbench.json, '
                       'a file that is not an exported graph); without it the export refuses.',
                       flag_values=fv)
  flags.DEFINE_integer('top_k', 5, 'Classes in the top_k outputs.', lower_bound=1,
                       flag_values=fv)
  return sorted(set(fv) - before)


def read_export_config(fv):
  """The `export.ExportConfig` of the parsed flags `fv` (defined by `define_export_flags`)."""
  return dataclasses.replace(flag_groups.read(export.ExportConfig, fv),
                             use_grayscale_given=bool(fv['use_grayscale'].present))
