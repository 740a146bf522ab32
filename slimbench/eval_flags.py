"""The flags of eval_image_classifier.py, and their reading into an `evaluation.EvalConfig`.

Defined on a given `flags.FlagValues`, so that tests and the benchmark worker can parse
their own argument lists without touching the process-wide `absl.flags.FLAGS`.
"""

import dataclasses

from absl import flags

from slimbench import evaluation
from slimbench import flag_groups
from slimbench.flag_groups import checkpoint_flags
from slimbench.flag_groups import dataset_flags
from slimbench.flag_groups import model_flags
from slimbench.flag_groups import preprocessing_flags


def define_eval_flags(fv):
  """Defines the evaluation flags on `fv`; returns their names."""
  before = set(fv)
  flags.DEFINE_string('master', '', 'Address of the TensorFlow master.', flag_values=fv)
  checkpoint_flags.define_checkpoint_flags(fv, 'The weights to evaluate.', '/tmp/tfmodel/',
                                           with_moving_average=True)
  flags.DEFINE_string('eval_dir', '/tmp/tfmodel/', 'Where summaries and result rows go.',
                      flag_values=fv)
  flags.DEFINE_integer('batch_size', 100, 'Examples per batch.', lower_bound=1,
                       flag_values=fv)
  flags.DEFINE_integer('max_num_batches', None, 'Evaluate this many batches only; by '
                       'default the whole split.', lower_bound=1, flag_values=fv)
  dataset_flags.define_dataset_flags(fv, split_name='test')
  model_flags.define_model_flags(fv)
  preprocessing_flags.define_preprocessing_flags(fv)
  flags.DEFINE_integer('eval_image_size', None, 'Image side; by default the model\'s.',
                       lower_bound=1, flag_values=fv)
  flags.DEFINE_boolean('quantize', False, 'TF-Slim\'s quantized evaluation graph; it needs '
                       'tf.contrib.quantize, which TensorFlow 2 no longer has.',
                       flag_values=fv)
  flags.DEFINE_integer('eval_crops', 1, 'Views per image: 1, the preprocessing\'s central '
                       'crop; 10, the 2012 AlexNet paper\'s centre and four corner crops of '
                       'the eval image size and their mirrors, softmax averaged (a batch is '
                       'then 10 x --batch_size crops).', flag_values=fv)
  flags.register_validator('eval_crops', lambda value: value in evaluation.EVAL_CROPS,
                           message='--eval_crops must be 1 or 10', flag_values=fv)
  flags.DEFINE_boolean('wait_for_checkpoints', False, 'Continuous mode: evaluate each new '
                       'checkpoint of the --checkpoint_path folder as training writes it.',
                       flag_values=fv)
  flags.DEFINE_integer('eval_interval_secs', 60, 'Continuous mode: least seconds between '
                       'two evaluations.', lower_bound=0, flag_values=fv)
  flags.DEFINE_integer('eval_timeout_secs', None, 'Continuous mode: stop after this many '
                       'seconds without a new checkpoint; by default wait forever.',
                       lower_bound=0, flag_values=fv)
  flags.DEFINE_integer('keep_best_checkpoints', 0, 'Continuous mode: keep copies of the N '
                       'best checkpoints by --best_checkpoint_metric in CHECKPOINT_PATH/best/ '
                       '(listed in best_checkpoints.json), out of the trainer\'s rotation; 0 '
                       'keeps none.', lower_bound=0, flag_values=fv)
  flags.DEFINE_enum('best_checkpoint_metric', 'eval/Accuracy', list(evaluation.SUMMARY_TAGS),
                    'What --keep_best_checkpoints ranks by; higher is better, except for '
                    'eval/Loss. A tie does not displace a kept checkpoint.', flag_values=fv)
  return sorted(set(fv) - before)


def read_eval_config(fv):
  """The `evaluation.EvalConfig` of the parsed flags `fv` (defined by `define_eval_flags`)."""
  return dataclasses.replace(flag_groups.read(evaluation.EvalConfig, fv),
                             use_grayscale_given=bool(fv['use_grayscale'].present))
