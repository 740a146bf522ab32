"""Model flags: which registered network."""

from absl import flags


def define_model_flags(fv, model_name='inception_v3'):
  """Defines --model_name on `fv` with the given default; returns its name."""
  before = set(fv)
  flags.DEFINE_string('model_name', model_name, 'Registered network (a name of '
                      'nets/nets_factory.py, e.g. lenet, resnet_v1_50).', flag_values=fv)
  return sorted(set(fv) - before)
