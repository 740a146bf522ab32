"""Writing outputs so that a reader never sees a half-written file."""

import json

import tensorflow as tf


def write_text_atomically(path, text):
  """Writes `text` under a temporary name beside `path`, then renames it into place."""
  with tf.io.gfile.GFile(path + '.tmp', 'w') as f:
    f.write(text)
  tf.io.gfile.rename(path + '.tmp', path, overwrite=True)


def write_json_atomically(path, value):
  write_text_atomically(path, json.dumps(value, indent=1))
