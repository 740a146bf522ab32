"""Writing outputs so that a reader never sees a half-written file, and owning a folder."""

import fcntl
import json
import os
import socket

from absl import logging
import tensorflow as tf

from slimbench.datasets import dataset_utils

LOCK_FILE = 'train.lock'


class UnwritableError(OSError):
  """An output could not be written (the message names the path and the reason)."""


class FolderInUseError(ValueError):
  """Another live process holds the folder's lock (the message names it)."""


def reason(error):
  """The first line of an error's message, without TensorFlow's op context."""
  text = str(getattr(error, 'message', None) or getattr(error, 'strerror', None) or error)
  # An op's error wraps the kernel's line in where the op was defined: keep that line.
  lines = [line.strip() for line in text.splitlines()
           if line.strip() and not line.startswith((' ', '\t')) and not line.startswith(
               ('Graph execution error', 'Detected at node', 'Node:'))]
  return lines[0] if lines else type(error).__name__


def remove_quietly(path):
  """Removes a file or folder this process was writing; a missing one is fine."""
  try:
    if tf.io.gfile.isdir(path):
      tf.io.gfile.rmtree(path)
    elif tf.io.gfile.exists(path):
      tf.io.gfile.remove(path)
  except (tf.errors.OpError, OSError) as error:
    logging.warning('Could not remove the temporary %s: %s', path, reason(error))


def write_text_atomically(path, text):
  """Writes `text` under a temporary name beside `path`, then renames it into place.

  A local path is written by `dataset_utils.write_text`; a remote one (gs://...) through
  tf.io.gfile, which reaches those file systems.

  Raises:
    UnwritableError: the folder is read-only or full; the temporary file is removed.
  """
  if '://' not in path:
    try:
      dataset_utils.write_text(path, text)
    except OSError as error:
      raise UnwritableError(f'cannot write {path}: {reason(error)}') from error
    return
  temporary = path + '.tmp'
  try:
    with tf.io.gfile.GFile(temporary, 'w') as f:
      f.write(text)
    tf.io.gfile.rename(temporary, path, overwrite=True)
  except (tf.errors.OpError, OSError) as error:
    remove_quietly(temporary)
    raise UnwritableError(f'cannot write {path}: {reason(error)}') from error


def write_json_atomically(path, value):
  write_text_atomically(path, json.dumps(value, indent=1))


def acquire_lock(folder, what):
  """Makes this process the only one writing into a local `folder`.

  The lock is an flock on `folder`/train.lock, which the kernel releases when the process
  ends however it ends; the file names the last holder's process id, so that a lock left
  by a killed process is taken over with a warning naming it. A folder on a remote file
  system (gs://...) is not locked.

  Args:
    folder: an existing folder.
    what: the flag that named the folder, for the messages (e.g. '--train_dir').

  Returns:
    The lock (for `release_lock`), or None where nothing was locked.

  Raises:
    FolderInUseError: a live process holds the lock.
    UnwritableError: the folder cannot be written.
  """
  if '://' in folder:
    return None
  path = os.path.join(folder, LOCK_FILE)
  while True:
    try:
      descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    except OSError as error:
      raise UnwritableError(f'{what}={folder}: cannot write there ({error.strerror})') from error
    try:
      fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      holder = _read_holder(descriptor)
      os.close(descriptor)
      raise FolderInUseError(
          f'{what}={folder} is in use by process {holder.get("pid", "?")} on '
          f'{holder.get("host", "this machine")} (lock file {path}); wait for it to finish or '
          f'choose another {what}') from None
    try:
      same_file = os.fstat(descriptor).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
      same_file = False
    if same_file:
      break
    os.close(descriptor)  # the holder released (removed) it between our open and flock
  holder = _read_holder(descriptor)
  if holder.get('pid'):
    logging.warning('Taking over the lock %s of process %s, which is no longer running', path,
                    holder['pid'])
  mine = json.dumps({'host': socket.gethostname(), 'pid': os.getpid()}) + '\n'
  os.ftruncate(descriptor, 0)
  os.pwrite(descriptor, mine.encode(), 0)
  return _Lock(path, descriptor)


class _Lock:

  def __init__(self, path, descriptor):
    self.path = path
    self.descriptor = descriptor


def _read_holder(descriptor):
  try:
    return json.loads(os.pread(descriptor, 4096, 0).decode() or '{}')
  except (OSError, ValueError):
    return {}


def release_lock(lock):
  """Releases a lock that `acquire_lock` returned (None: nothing to do)."""
  if not lock:
    return
  try:
    os.remove(lock.path)
  except OSError as error:
    logging.warning('Could not remove the lock %s: %s', lock.path, reason(error))
  os.close(lock.descriptor)
