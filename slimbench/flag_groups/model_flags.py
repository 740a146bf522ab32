"""Model flags: which registered network, and the clip length of a video network."""

from absl import flags


def define_model_flags(fv, model_name='inception_v3', with_num_frames=False):
  """Defines --model_name on `fv` with the given default; returns the names defined.

  With `with_num_frames`, also --num_frames (training and export take video models).
  """
  before = set(fv)
  flags.DEFINE_string('model_name', model_name, 'Registered network (a name of '
                      'nets/nets_factory.py, e.g. lenet, resnet_v1_50).', flag_values=fv)
  if with_num_frames:
    flags.DEFINE_integer('num_frames', None, 'Video models (i3d, s3dg): frames per clip; '
                         'by default the model\'s (64). Training\'s clips are synthetic '
                         '(--dataset_name=synthetic).', lower_bound=1, flag_values=fv)
  return sorted(set(fv) - before)
