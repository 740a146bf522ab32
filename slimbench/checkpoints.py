"""Restoring checkpoints into a graph: fine-tuning exclusions and shape checks."""

import tensorflow as tf

tf1 = tf.compat.v1


def split_scopes(scopes):
  """'a, b,' -> ['a', 'b']."""
  return [scope.strip() for scope in (scopes or '').split(',') if scope.strip()]


def in_scopes(name, scopes):
  return any(name == scope or name.startswith(scope.rstrip('/') + '/') for scope in scopes)


def resolve_checkpoint(path, flag_name='--checkpoint_path'):
  """A checkpoint file prefix from a file prefix or a folder (its latest checkpoint).

  Raises:
    ValueError: nothing at `path` is a checkpoint.
  """
  if tf.io.gfile.isdir(path):
    latest = tf.train.latest_checkpoint(path)
    if not latest:
      raise ValueError(f'{flag_name}={path}: the folder holds no checkpoint')
    return latest
  if not tf.io.gfile.exists(path + '.index') and not tf.io.gfile.exists(path):
    raise ValueError(f'{flag_name}={path}: no such checkpoint file or folder')
  return path


def restore_saver(checkpoint, variables, *, exclude_scopes=(), ignore_missing_vars=False,
                  model_info=None, num_classes=None,
                  missing_hint='pass --ignore_missing_vars or --checkpoint_exclude_scopes'):
  """A Saver that restores `variables` (minus `exclude_scopes`) from `checkpoint`.

  Shapes are checked first, so that a class-count mismatch says which flag to use
  instead of failing with TensorFlow's shape error.

  Args:
    checkpoint: checkpoint file prefix.
    variables: candidate variables, or a dict {name in the checkpoint: variable} (as
      `ExponentialMovingAverage.variables_to_restore` gives).
    exclude_scopes: scopes not to restore.
    ignore_missing_vars: skip variables the checkpoint lacks instead of failing.
    model_info: the model's `registry.ModelInfo`, for the advice in errors.
    num_classes: the model's number of classes, for the advice in errors.
    missing_hint: what to do about a variable the checkpoint lacks.

  Returns:
    (saver, restored_names, skipped_names)

  Raises:
    ValueError: a variable is missing (without ignore_missing_vars) or has another shape.
  """
  reader = tf.train.load_checkpoint(checkpoint)
  shapes = reader.get_variable_to_shape_map()
  if not isinstance(variables, dict):
    variables = {variable.op.name: variable for variable in variables}
  var_list, skipped = {}, []
  for name, variable in variables.items():
    if in_scopes(name, exclude_scopes):
      skipped.append(name)
      continue
    if name not in shapes:
      if ignore_missing_vars:
        skipped.append(name)
        continue
      raise ValueError(f'checkpoint {checkpoint} has no variable {name}; {missing_hint}')
    if list(shapes[name]) != variable.shape.as_list():
      raise ValueError(_shape_advice(checkpoint, name, shapes[name], variable.shape.as_list(),
                                     model_info, num_classes))
    var_list[name] = variable
  if not var_list:
    raise ValueError(f'nothing to restore from {checkpoint}: every variable was excluded '
                     f'or missing')
  return tf1.train.Saver(var_list), sorted(var_list), sorted(skipped)


def _shape_advice(checkpoint, name, checkpoint_shape, model_shape, model_info, num_classes):
  message = (f'checkpoint {checkpoint}: {name} has shape {list(checkpoint_shape)}, the '
             f'model {model_shape}')
  logits = model_info and name.startswith(model_info.logits_scope.split('/')[0]) and (
      checkpoint_shape[-1:] != model_shape[-1:]) and checkpoint_shape[:-1] == model_shape[:-1]
  if not logits:
    return message + '; is it a checkpoint of another model?'
  checkpoint_classes, exclude = checkpoint_shape[-1], model_info.checkpoint_exclude_scopes
  if checkpoint_classes == 1000 and num_classes == 1001:
    return (f'{message}: the checkpoint has 1000 classes and the dataset 1001 (class 0 = '
            f'background); pass --labels_offset=1, or --checkpoint_exclude_scopes={exclude} '
            f'to train new logits')
  return (f'{message}: the checkpoint was trained on {checkpoint_classes} classes, the '
          f'model has {num_classes}; pass --checkpoint_exclude_scopes={exclude} to train '
          f'new logits')
