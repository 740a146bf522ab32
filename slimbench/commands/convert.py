r"""Downloads and converts a dataset into sharded TFRecords, labels.txt and dataset_info.json.

TF-Slim's script and flags, plus: files already in --dataset_dir under their official
names are used without downloading (after a SHA-256 check), --source_dir points at an
extracted copy elsewhere, and a re-run skips what is complete. Converting needs no
TensorFlow import for small datasets; large ones run in --num_workers processes.

Datasets: mnist5k (built in, offline), mnist, fashion_mnist (offline from Debian's
dataset-fashion-mnist package), cifar10, cifar100, flowers, imagenet (your own ILSVRC2012
files) and image_folder (any folder of class folders). The `synthetic`
dataset needs no conversion.

Usage:
  python download_and_convert_data.py --dataset_name=mnist5k --dataset_dir=/tmp/mnist5k
  python download_and_convert_data.py --dataset_name=cifar10 --dataset_dir=/tmp/cifar10
  python download_and_convert_data.py --dataset_name=fashion_mnist \
      --source_dir=/usr/share/datasets/fashion-mnist --dataset_dir=/tmp/fashion_mnist
  python download_and_convert_data.py --dataset_name=image_folder \
      --source_dir=~/PetImages --dataset_dir=/tmp/pets --validation_fraction=0.1

Installed (`pip install .`), `slimbench-convert` is this script: the same flags.
"""

import os
import sys

from absl import app
from absl import flags

from slimbench.datasets import conversion
from slimbench.datasets import converters
from slimbench.datasets import dataset_utils
from slimbench import usage

FLAGS = flags.FLAGS

# --- What to convert and where ---------------------------------------------------------
flags.DEFINE_enum('dataset_name', None, converters.list_converters(),
                  'The dataset to convert.')
flags.DEFINE_string('dataset_dir', None,
                    'Output folder of the TFRecords; official archives found here are used '
                    'instead of downloading.')
flags.DEFINE_string('source_dir', None,
                    'An extracted copy of the dataset to convert instead (image_folder: the '
                    'folder of class folders).')
flags.DEFINE_bool('overwrite', False,
                  'Replace a dataset in --dataset_dir that was converted from other sources '
                  'or options.')
flags.DEFINE_bool('verify_checksums', True,
                  'Refuse source files under the official names that are not the published '
                  'ones (mnist, fashion_mnist, cifar10, cifar100, flowers). '
                  '--noverify_checksums converts them anyway (a subset, a re-packed '
                  'archive, your own files in the format), with a warning, and '
                  'dataset_info.json records checksums_verified: false. Downloads are '
                  'always checked; format checks always apply.')

# --- Output ------------------------------------------------------------------------------
flags.DEFINE_integer('train_shards', 0, 'Shards of the train split (0: the dataset\'s '
                     'default).', lower_bound=0)
flags.DEFINE_integer('validation_shards', 0, 'Shards of each other split (0: the '
                     'dataset\'s default).', lower_bound=0)
flags.DEFINE_integer('num_workers', os.cpu_count() or 1,
                     'Conversion processes for large datasets.', lower_bound=1)

# --- image_folder ------------------------------------------------------------------------
flags.DEFINE_float('validation_fraction', None,
                   'image_folder without train/ and validation/ folders: share of each class '
                   'put in validation (default 0.1).', lower_bound=0.0, upper_bound=0.99)
flags.DEFINE_integer('seed', 0, 'image_folder: seed of the split and of the train order.')
flags.DEFINE_bool('skip_bad_images', False,
                  'image_folder: convert the readable images and list the unreadable ones in '
                  'dataset_info.json; without it they are an error listing every one.')
flags.DEFINE_string('output_name', None,
                    'image_folder: name of the converted dataset (default: the source '
                    'folder\'s name).')

flags.mark_flags_as_required(['dataset_name', 'dataset_dir'])

FLAGS_FILENAME = 'download_and_convert_flags.txt'
_DATASET_FLAGS = ('source_dir', 'overwrite', 'verify_checksums', 'train_shards',
                  'validation_shards', 'num_workers', 'validation_fraction', 'seed', 'output_name',
                  'skip_bad_images')


def converter_options(spec, flag_values):
  """Keyword options for `spec.convert` from the flags.

  Raises:
    ValueError: a flag was set that this dataset does not use.
  """
  options = {}
  for name in _DATASET_FLAGS:
    if name in spec.options:
      options[name] = flag_values[name].value
    elif flag_values[name].present:
      raise ValueError(f'--{name} does not apply to {spec.name} (it takes: '
                       f'{", ".join("--" + o for o in spec.options)})')
  if options.get('source_dir'):
    options['source_dir'] = os.path.expanduser(options['source_dir'])
  return options


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  spec = converters.get_spec(FLAGS.dataset_name)
  dataset_dir = os.path.expanduser(FLAGS.dataset_dir)
  try:
    options = converter_options(spec, FLAGS)
    conversion.check_output_dir(dataset_dir, spec.name, FLAGS.overwrite)
    info = spec.convert(dataset_dir, **options)
  except (ValueError, OSError) as e:
    # Bad input and missing files are the user's to fix: one line, no traceback.
    sys.exit(f'{usage.program()}: error: {e}')
  flag_lines = ''.join(f'--{name}={value}\n' for name, value in
                       [('dataset_name', spec.name), ('dataset_dir', dataset_dir)] +
                       sorted(options.items()) if value is not None)
  dataset_utils.remove_stale_temporaries(dataset_dir, (FLAGS_FILENAME,))
  dataset_utils.write_text(os.path.join(dataset_dir, FLAGS_FILENAME), flag_lines)
  sizes = ', '.join(f'{split} {s["num_samples"]}' for split, s in info['splits'].items())
  print(f'{info["name"]}: {sizes} images, {info["num_classes"]} classes in {dataset_dir}')



def run():
  """The console command's entry point."""
  usage.run(main)
