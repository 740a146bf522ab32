"""Restoring checkpoints into a graph (fine-tuning exclusions and shape checks), and
keeping copies of the best ones out of the trainer's rotation (`keep_best`)."""

import json
import math
import os

from absl import logging
from google.protobuf import text_format
import tensorflow as tf

from slimbench import files

tf1 = tf.compat.v1


def split_scopes(scopes):
  """'a, b,' -> ['a', 'b']."""
  return [scope.strip() for scope in (scopes or '').split(',') if scope.strip()]


def in_scopes(name, scopes):
  return any(name == scope or name.startswith(scope.rstrip('/') + '/') for scope in scopes)


def damage(checkpoint):
  """Why `checkpoint` cannot be restored (one line), or None when every tensor reads back.

  Reading every tensor is what a restore does, so a truncated or corrupted data file, or a
  missing or damaged index, shows here rather than as a traceback in the middle of a run.
  """
  try:
    reader = tf.train.load_checkpoint(checkpoint)
    for name in reader.get_variable_to_shape_map():
      reader.get_tensor(name)
  # The reader reports a short data file as an IndexError.
  except (tf.errors.OpError, OSError, ValueError, IndexError) as error:
    return files.reason(error)
  return None


def _listed_checkpoints(folder):
  """The checkpoints a folder's `checkpoint` file lists, oldest first; the *.index files
  when that file is missing or unreadable."""
  try:
    state = tf1.train.get_checkpoint_state(folder)
  except (tf.errors.OpError, ValueError, text_format.ParseError) as error:
    logging.warning('%s is damaged (%s): looking at the checkpoint files themselves',
                    os.path.join(folder, 'checkpoint'), files.reason(error))
    state = None
  if state and state.model_checkpoint_path:
    listed = list(state.all_model_checkpoint_paths)
    if state.model_checkpoint_path not in listed:
      listed.append(state.model_checkpoint_path)
    return listed
  prefixes = [path[:-len('.index')]
              for path in tf.io.gfile.glob(os.path.join(folder, '*.index'))]
  return sorted(prefixes, key=_step_of)


def _step_of(prefix):
  tail = prefix.rsplit('-', 1)[-1]
  return int(tail) if tail.isdigit() else -1


def newest_valid_checkpoint(folder):
  """The newest checkpoint of `folder` that restores, and the damaged ones newer than it.

  Returns:
    (checkpoint prefix or None, [(damaged prefix, reason), ...] newest first)
  """
  damaged = []
  for checkpoint in reversed(_listed_checkpoints(folder)):
    problem = damage(checkpoint)
    if problem is None:
      return checkpoint, damaged
    damaged.append((checkpoint, problem))
  return None, damaged


def warn_damaged(damaged, chosen):
  for checkpoint, problem in damaged:
    logging.warning('Checkpoint %s is damaged (%s); using %s instead', checkpoint, problem,
                    chosen or 'none')


def remove_partial_saves(folder):
  """Removes what a checkpoint save that was killed midway leaves in `folder`: the
  saver's *.tempstate* files and *_temp folders. Call it only while holding the folder's
  lock, when no save can be under way."""
  for pattern in ('*.tempstate*', '*_temp'):
    for path in tf.io.gfile.glob(os.path.join(folder, pattern)):
      logging.warning('Removing %s, left by a checkpoint save that did not finish', path)
      files.remove_quietly(path)


def forget_damaged(folder, checkpoint, damaged):
  """Rewrites `folder`'s checkpoint list without the `damaged` prefixes, with `checkpoint`
  as the latest: what a saver and a restore then go by. The damaged files stay."""
  kept = [path for path in _listed_checkpoints(folder) if path not in damaged]
  tf1.train.update_checkpoint_state(folder, checkpoint, kept)


def resolve_checkpoint(path, flag_name='--checkpoint_path'):
  """A checkpoint file prefix from a file prefix or a folder (its newest checkpoint that
  restores; damaged newer ones are named in a warning).

  Raises:
    ValueError: nothing at `path` is a checkpoint, or the named checkpoint is damaged.
  """
  if tf.io.gfile.isdir(path):
    checkpoint, damaged = newest_valid_checkpoint(path)
    if not checkpoint and damaged:
      raise ValueError(f'{flag_name}={path}: every checkpoint there is damaged: ' + '; '.join(
          f'{name} ({problem})' for name, problem in damaged))
    if not checkpoint:
      raise ValueError(f'{flag_name}={path}: the folder holds no checkpoint')
    warn_damaged(damaged, checkpoint)
    return checkpoint
  if not tf.io.gfile.exists(path + '.index') and not tf.io.gfile.exists(path):
    raise ValueError(f'{flag_name}={path}: no such checkpoint file or folder')
  problem = damage(path)
  if problem:
    raise ValueError(f'{flag_name}={path}: the checkpoint is damaged ({problem})')
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


BEST_DIR = 'best'
BEST_JSON = 'best_checkpoints.json'


def checkpoint_files(prefix):
  """The files of checkpoint `prefix`: its .index, .data-* shards and .meta, if any."""
  return sorted(tf.io.gfile.glob(prefix + '.*'))


def _ranked(entries, higher_is_better):
  """Best first; on equal values the earlier step first (it got there sooner)."""
  return sorted(entries, key=lambda e: ((-e['value'] if higher_is_better else e['value']),
                                        e['step']))


def read_best(best_dir):
  """The record of kept checkpoints in `best_dir`, or None when there is none."""
  path = os.path.join(best_dir, BEST_JSON)
  if not tf.io.gfile.exists(path):
    return None
  try:
    with tf.io.gfile.GFile(path) as f:
      record = json.load(f)
    for entry in record['checkpoints']:
      int(entry['step']), float(entry['value']), str(entry['checkpoint'])
    return record
  except (ValueError, KeyError, TypeError) as error:
    raise ValueError(f'{path} is not a record of best checkpoints ({_first_line(error)}); '
                     f'move it away to start a new one') from error


def _first_line(error):
  text = str(getattr(error, 'message', None) or error).strip()
  return text.splitlines()[0] if text else type(error).__name__


def _remove_copy(path):
  """Removes a file this module wrote into best_dir; a failure is only worth a warning."""
  try:
    tf.io.gfile.remove(path)
  except (tf.errors.OpError, OSError) as error:
    logging.warning('Could not remove %s: %s', path, _first_line(error))


def _copy_in(prefix, best_dir):
  """Copies a checkpoint's files into best_dir, each under a temporary name renamed into
  place, the .index last (a checkpoint without its index is not one)."""
  sources = checkpoint_files(prefix)
  sources.sort(key=lambda path: path.endswith('.index'))
  if not any(path.endswith('.index') for path in sources):
    raise tf.errors.NotFoundError(None, None, f'{prefix}.index is gone')
  for source in sources:
    target = os.path.join(best_dir, os.path.basename(source))
    temporary = os.path.join(best_dir, '.' + os.path.basename(source) + '.tmp')
    try:
      tf.io.gfile.copy(source, temporary, overwrite=True)
      tf.io.gfile.rename(temporary, target, overwrite=True)
    except (tf.errors.OpError, OSError):
      _remove_copy(temporary)
      raise


def keep_best(best_dir, checkpoint, step, value, *, metric, higher_is_better, keep):
  """Keeps a copy of `checkpoint` in `best_dir` if it is among the `keep` best by `value`.

  The copies are out of the trainer's reach: its Saver only rotates the files it wrote.
  `best_dir/best_checkpoints.json` lists the kept ones (step, value, file prefix), best
  first, and best_dir/checkpoint names the best, so best_dir works as a --checkpoint_path.
  A tie does not displace a kept checkpoint; the same step evaluated again replaces its
  entry. Only copies this function made (those the record lists) are ever removed.

  Args:
    best_dir: the folder of kept copies (train_dir/best).
    checkpoint: the evaluated checkpoint's file prefix.
    step: its global step.
    value: its metric value.
    metric: the metric's name (e.g. eval/Accuracy); a record ranked by another metric is
      an error rather than a mixed ranking.
    higher_is_better: False for a loss.
    keep: how many to keep (>= 1).

  Returns:
    True if `checkpoint` is now kept.

  Raises:
    ValueError: the record in best_dir ranks by another metric, or is unreadable.
    OSError: a copy or the record could not be written.
  """
  if not math.isfinite(value):
    logging.warning('%s = %s at step %d cannot be ranked: %s not kept', metric, value, step,
                    checkpoint)
    return False
  record = read_best(best_dir)
  if record and record['metric'] != metric:
    raise ValueError(f'{os.path.join(best_dir, BEST_JSON)} ranks checkpoints by '
                     f'{record["metric"]}; pass --best_checkpoint_metric={record["metric"]} or '
                     f'move {best_dir} away')
  listed = record['checkpoints'] if record else []
  previous = [e for e in listed if e['step'] == step]  # this step, evaluated before
  ranked = _ranked([e for e in listed if e['step'] != step], higher_is_better)
  # Strictly better than the last of the `keep` best: an equal newcomer does not displace it.
  cutoff = ranked[keep - 1]['value'] if len(ranked) >= keep else None
  is_kept = cutoff is None or (value > cutoff if higher_is_better else value < cutoff)
  name = os.path.basename(checkpoint)
  if is_kept:
    tf.io.gfile.makedirs(best_dir)
    try:
      _copy_in(checkpoint, best_dir)
    except tf.errors.NotFoundError:
      logging.warning('%s was rotated away by the trainer before it could be kept in %s; '
                      'evaluate more often or keep more checkpoints in training', checkpoint,
                      best_dir)
      is_kept = False
    except (tf.errors.OpError, OSError) as error:
      raise OSError(f'cannot copy {checkpoint} into {best_dir}: {_first_line(error)}') from error
  if record is None and not is_kept:
    return False
  candidate = {'step': int(step), 'value': float(value), 'checkpoint': name}
  ranked = _ranked(ranked + [candidate] if is_kept else ranked, higher_is_better)
  now_kept, dropped = ranked[:keep], ranked[keep:]
  if not is_kept:
    dropped += previous
  files.write_json_atomically(os.path.join(best_dir, BEST_JSON), {
      'metric': metric, 'higher_is_better': higher_is_better, 'keep': keep,
      'checkpoints': now_kept})
  if now_kept:
    # Bare names: the state file resolves them against best_dir, wherever it is moved.
    tf1.train.update_checkpoint_state(
        best_dir, now_kept[0]['checkpoint'],
        [e['checkpoint'] for e in reversed(now_kept)])
  for entry in dropped:
    for path in checkpoint_files(os.path.join(best_dir, entry['checkpoint'])):
      _remove_copy(path)
  if is_kept:
    logging.info('Kept %s in %s: %s = %.6g, number %d of %d', name, best_dir, metric, value,
                 now_kept.index(candidate) + 1, keep)
  return is_kept
