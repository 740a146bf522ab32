"""Dataset flags: which converted dataset and split, and how its labels map to classes."""

from absl import flags


def define_dataset_flags(fv, split_name=None, with_name=True):
  """Defines the dataset flags on `fv`; returns their names.

  Args:
    fv: the `flags.FlagValues` to define them on.
    split_name: default of --dataset_split_name; None leaves that flag out (a script
      that reads no split).
    with_name: define --dataset_name (classify_image.py reads only labels.txt).
  """
  before = set(fv)
  if with_name:
    flags.DEFINE_string('dataset_name', 'imagenet', 'Registered dataset '
                        '(datasets/dataset_factory.py) the images and classes come from.',
                        flag_values=fv)
  if split_name is not None:
    flags.DEFINE_string('dataset_split_name', split_name, 'Split of the dataset to read.',
                        flag_values=fv)
  flags.DEFINE_string('dataset_dir', None, 'Folder of the converted dataset: its TFRecords, '
                      'and the labels.txt and dataset_info.json that name its classes.',
                      flag_values=fv)
  flags.DEFINE_integer('labels_offset', 0, 'Subtracted from every label of the dataset: '
                       'class i of the model is label i + offset (1 fits a 1000-class '
                       'model to a 1001-class dataset whose label 0 is background).',
                       lower_bound=0, flag_values=fv)
  return sorted(set(fv) - before)
