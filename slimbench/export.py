"""Export of a registered network for inference: GraphDef, SavedModel and TFLite.

- GraphDef (TF-Slim's export): input placeholder `input` [batch, size, size, C] of
  preprocessed images, or for a video model (--is_video_model) [batch, num_frames, size,
  size, C] clips; outputs `logits`, `probabilities`, `top_k` (values `top_k:0`,
  class ids `top_k:1`) beside the net's own nodes. With --checkpoint_path the weights
  are frozen into the graph.
- SavedModel: signature `serving_default`, `images` in (preprocessed, as above);
  `probabilities`, `logits`, `top_k_probabilities`, `top_k_classes` out. It loads in plain
  TensorFlow 2 (`tf.saved_model.load`). `assets.extra/slimbench.json` records the model,
  image size, preprocessing and class names, so that classify_image.py needs nothing else.
- TFLite: converted from the SavedModel.

The input has the channels of the checkpoint's first convolution (one for LeNet trained on
MNIST) and, unless --image_size says, the size its training folder's flags.txt records;
the SavedModel records the preprocessing named there too (`checkpoint_inputs`). Without a
checkpoint, the channels are those the model's preprocessing gives --dataset_dir's images.

Outputs are written under temporary names beside their targets and renamed into place. An
existing output is replaced only if it is an earlier export (a SavedModel folder holding
only what export writes, with its slimbench.json; a GraphDef or TFLite file with the
export's output names); anything else is refused unless --overwrite.
"""

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from typing import Optional

from absl import logging
from google.protobuf import text_format
import tensorflow as tf

from slimbench.datasets import dataset_factory
from slimbench.datasets import dataset_utils
from slimbench.nets import nets_factory
from slimbench import checkpoint_inputs
from slimbench import checkpoints
from slimbench import config
from slimbench import files
from slimbench import quantization

tf1 = tf.compat.v1

METADATA_FILE = 'slimbench.json'


@dataclasses.dataclass(frozen=True)
class ExportConfig:
  """What export_inference_graph.py writes: the shared groups, then export's own settings.

  Fields have the names, types and defaults of the script's flags (`export_flags`), except
  `use_grayscale_given`: whether --use_grayscale was given, so that it binds instead of
  the checkpoint's or the dataset's channels choosing. Of the preprocessing group export
  takes --use_grayscale only, of the checkpoint group --checkpoint_path only.
  """
  data: config.DataConfig = config.DataConfig()
  model: config.ModelConfig = config.ModelConfig()
  preprocessing: config.PreprocessingConfig = config.PreprocessingConfig()
  checkpoint: config.CheckpointConfig = config.CheckpointConfig()
  use_grayscale_given: bool = False
  is_training: bool = False
  batch_size: Optional[int] = None
  is_video_model: bool = False
  output_file: str = ''
  write_text_graphdef: bool = False
  image_size: Optional[int] = None
  quantize: bool = False
  saved_model_dir: Optional[str] = None
  tflite_file: Optional[str] = None
  overwrite: bool = False
  top_k: int = 5


def _num_classes_and_names(data, info):
  if data.dataset_dir:
    dataset = dataset_factory.get_dataset(data.dataset_name, 'train', data.dataset_dir)
    names = {label - data.labels_offset: name
             for label, name in dataset.labels_to_names.items()
             if label >= data.labels_offset}
    return dataset.num_classes - data.labels_offset, names
  return info.num_classes - data.labels_offset, {}


def input_channels(export_config, info, checkpoint):
  """Channels of the exported input: the checkpoint's; without one, those the model's
  preprocessing gives --dataset_dir's images (one for MNIST through LeNet's), else
  TF-Slim's 3, unless --use_grayscale says.

  Raises:
    ValueError: --use_grayscale contradicts the checkpoint (one line saying what differs).
  """
  use_grayscale = export_config.preprocessing.use_grayscale
  data = export_config.data
  if checkpoint:
    count = checkpoint_inputs.checkpoint_channels(checkpoint, export_config.model.model_name)
    use_grayscale, _ = checkpoint_inputs.choose_use_grayscale(
        checkpoint, count, use_grayscale, export_config.use_grayscale_given)
    if count is not None:
      return count
    return 1 if use_grayscale else 3
  if export_config.use_grayscale_given:
    return 1 if use_grayscale else 3
  if data.dataset_dir:
    dataset = dataset_factory.get_dataset(data.dataset_name, 'train', data.dataset_dir)
    return checkpoint_inputs.preprocessed_channels(info.preprocessing, dataset.channels,
                                                   use_grayscale=False)
  return 3


def check_video_flags(export_config, info):
  """--is_video_model must say what the registry knows; --num_frames needs it.

  Raises:
    ValueError: one line naming the flag.
  """
  model_name = export_config.model.model_name
  if export_config.is_video_model and not info.is_video_model:
    raise ValueError(f'--is_video_model: {model_name} is an image model, it takes '
                     f'[batch, size, size, C] images; leave the flag out')
  if info.is_video_model and not export_config.is_video_model:
    raise ValueError(f'--model_name={model_name} is a video model: add --is_video_model '
                     f'(clips of --num_frames frames, {info.num_frames} by default)')
  if export_config.model.num_frames is not None and not export_config.is_video_model:
    raise ValueError('--num_frames applies to video models only (with --is_video_model)')


def build_inference_graph(export_config, num_classes, channels=None, image_size=None):
  """Builds the export graph in the default graph; returns (input, outputs dict).

  `channels` defaults to 1 with --use_grayscale, else 3; `image_size` to --image_size,
  else the model's.
  """
  model = export_config.model
  info = nets_factory.model_info(model.model_name)
  check_video_flags(export_config, info)
  image_size = image_size or export_config.image_size or info.default_image_size
  if channels is None:
    channels = 1 if export_config.preprocessing.use_grayscale else 3
  shape = nets_factory.input_shape(model.model_name, export_config.batch_size, image_size,
                                   num_frames=model.num_frames, channels=channels)
  images = tf1.placeholder(tf.float32, shape, name='input')
  network_fn = nets_factory.get_network_fn(model.model_name, num_classes=num_classes,
                                           is_training=export_config.is_training)
  logits, _ = network_fn(images)
  logits = tf.identity(logits, name='logits')
  probabilities = tf.nn.softmax(logits, name='probabilities')
  top_k = tf.math.top_k(probabilities, k=min(export_config.top_k, num_classes), name='top_k')
  return images, {'logits': logits, 'probabilities': probabilities,
                  'top_k_probabilities': top_k.values, 'top_k_classes': top_k.indices}


def export(export_config):
  """Writes the outputs that `export_config` (an `ExportConfig`) asks for; returns their
  paths.

  Raises:
    ValueError: nothing to write, or an output that needs --checkpoint_path lacks it.
  """
  quantization.check_not_requested(export_config.quantize, 'quantize', 'quantized export')
  output_file = export_config.output_file
  saved_model_dir, tflite_file = export_config.saved_model_dir, export_config.tflite_file
  checkpoint_path = export_config.checkpoint.checkpoint_path
  model_name = export_config.model.model_name
  if not (output_file or saved_model_dir or tflite_file):
    raise ValueError('nothing to export: give --output_file, --saved_model_dir or '
                     '--tflite_file')
  if (saved_model_dir or tflite_file) and not checkpoint_path:
    raise ValueError('--saved_model_dir and --tflite_file need --checkpoint_path (the '
                     'weights to ship)')
  _check_outputs_replaceable(export_config)
  info = nets_factory.model_info(model_name)
  check_video_flags(export_config, info)
  num_classes, names = _num_classes_and_names(export_config.data, info)
  checkpoint = checkpoints.resolve_checkpoint(checkpoint_path) if checkpoint_path else None
  channels = input_channels(export_config, info, checkpoint)
  # The size and preprocessing the checkpoint was trained with, unless the flags say.
  trained = checkpoint_inputs.training_settings(checkpoint, model_name) if checkpoint else {}
  image_size = checkpoint_inputs.default_from_training(
      'image_size', export_config.image_size, trained, 'train_image_size', checkpoint)
  preprocessing = trained.get('preprocessing_name', info.preprocessing)
  written = []
  with tf.Graph().as_default() as graph:
    images, outputs = build_inference_graph(export_config, num_classes, channels, image_size)
    with tf1.Session() as session:
      if checkpoint:
        checkpoint_inputs.check_image_size(
            checkpoint, model_name, {v.op.name: v for v in tf1.global_variables()},
            images.shape[-2], trained, 'image_size')
        saver, _, _ = checkpoints.restore_saver(
            checkpoint, tf1.global_variables(), model_info=info, num_classes=num_classes,
            missing_hint=f'is it a checkpoint of {model_name}?')
        saver.restore(session, checkpoint)
      if output_file:
        graph_def = graph.as_graph_def()
        if checkpoint:
          graph_def = tf1.graph_util.convert_variables_to_constants(
              session, graph_def, ['logits', 'probabilities', 'top_k'])
        with _naming_unwritable(output_file):
          _write_graph_def(graph_def, output_file, export_config.write_text_graphdef)
        written.append(output_file)
      staging_dir = saved_model_dir
      if tflite_file and not staging_dir:
        # Removed below, also where the conversion fails.
        staging_dir = temporary_dir = tempfile.mkdtemp(prefix='slimbench_saved_model_')
      else:
        temporary_dir = None
      if staging_dir:
        metadata = {'model_name': model_name, 'image_size': images.shape[-2],
                    'channels': images.shape[-1],
                    'num_frames': images.shape[1] if export_config.is_video_model else None,
                    'preprocessing': preprocessing,
                    'num_classes': num_classes,
                    'labels_offset': export_config.data.labels_offset,
                    'labels': {str(k): v for k, v in sorted(names.items())},
                    'checkpoint': checkpoint}
        with _naming_unwritable(saved_model_dir or staging_dir):
          _write_saved_model(session, images, outputs, staging_dir, metadata)
        if saved_model_dir:
          written.append(saved_model_dir)
  if tflite_file:
    try:
      converter = tf.lite.TFLiteConverter.from_saved_model(staging_dir)
      with _naming_unwritable(tflite_file):
        dataset_utils.write_bytes(tflite_file, converter.convert())
    finally:
      if temporary_dir:
        shutil.rmtree(temporary_dir, ignore_errors=True)
    written.append(tflite_file)
  for path in written:
    logging.info('Wrote %s', path)
  return written


@contextlib.contextmanager
def _naming_unwritable(path):
  """Turns a failed write (read-only or full disk, a file where a folder should be) into one
  line naming `path`; the writers have removed their temporary files by then."""
  try:
    yield
  except (OSError, tf.errors.OpError) as error:
    raise files.UnwritableError(f'cannot write {path}: {files.reason(error)}') from error


def _write_graph_def(graph_def, path, as_text):
  dataset_utils.write_bytes(path, str(graph_def).encode() if as_text else
                            graph_def.SerializeToString())


def _write_saved_model(session, images, outputs, saved_model_dir, metadata):
  """Writes to a temporary folder beside the target, then renames it into place."""
  parent = os.path.dirname(os.path.abspath(saved_model_dir))
  tf.io.gfile.makedirs(parent)
  staging = tempfile.mkdtemp(prefix='.saved_model_', dir=parent)
  os.rmdir(staging)  # the builder insists on creating the folder itself
  try:
    builder = tf1.saved_model.Builder(staging)
    signature = tf1.saved_model.signature_def_utils.predict_signature_def(
        inputs={'images': images}, outputs=outputs)
    builder.add_meta_graph_and_variables(
        session, [tf1.saved_model.tag_constants.SERVING],
        signature_def_map={'serving_default': signature}, strip_default_attrs=True)
    builder.save()
    extra = os.path.join(staging, 'assets.extra')
    os.makedirs(extra, exist_ok=True)
    # Also the mark by which a later export knows this folder as its own to replace.
    with open(os.path.join(extra, METADATA_FILE), 'w') as f:
      json.dump(metadata, f, indent=1)
    if os.path.lexists(saved_model_dir):
      # Moved aside, not deleted, until the new export is in place.
      old = tempfile.mkdtemp(prefix='.replaced_saved_model_', dir=parent)
      os.rmdir(old)
      os.rename(saved_model_dir, old)
      os.rename(staging, saved_model_dir)
      if os.path.isdir(old) and not os.path.islink(old):
        shutil.rmtree(old)
      else:
        os.remove(old)
    else:
      os.rename(staging, saved_model_dir)
  finally:
    shutil.rmtree(staging, ignore_errors=True)


# What export writes into a SavedModel folder; anything else there belongs to someone else.
_SAVED_MODEL_ENTRIES = frozenset({'saved_model.pb', 'saved_model.pbtxt', 'variables', 'assets',
                                  'assets.extra', 'fingerprint.pb'})
# Node names every exported GraphDef has; a TFLite file keeps the output names.
_GRAPH_MARKS = ('input', 'logits', 'probabilities', 'top_k')


def _is_earlier_saved_model(path):
  if not os.path.isdir(path) or os.path.islink(path):
    return False
  entries = set(os.listdir(path))
  return (not entries or (entries <= _SAVED_MODEL_ENTRIES and
                          os.path.isfile(os.path.join(path, 'assets.extra', METADATA_FILE))))


def _is_earlier_graph_def(path):
  with open(path, 'rb') as f:
    data = f.read()
  graph_def = tf1.GraphDef()
  try:
    graph_def.ParseFromString(data)
  except Exception:  # pylint: disable=broad-except  (not a binary GraphDef: try text)
    try:
      text_format.Parse(data.decode('utf-8'), graph_def)
    except Exception:  # pylint: disable=broad-except
      return False
  names = {node.name for node in graph_def.node}
  return all(mark in names for mark in _GRAPH_MARKS)


def _is_earlier_tflite(path):
  with open(path, 'rb') as f:
    data = f.read()
  return data[4:8] == b'TFL3' and b'probabilities' in data


def _check_outputs_replaceable(export_config):
  """Refuses, before any work, to replace what this tool did not write (unless --overwrite).

  Raises:
    ValueError: an output path holds something that is not an earlier export.
  """
  if export_config.overwrite:
    return
  checks = (('saved_model_dir', _is_earlier_saved_model, 'a SavedModel it exported'),
            ('output_file', _is_earlier_graph_def, 'a GraphDef it exported'),
            ('tflite_file', _is_earlier_tflite, 'a TFLite model it exported'))
  for flag, is_earlier, what in checks:
    path = getattr(export_config, flag)
    if not path or not os.path.lexists(path):
      continue
    if flag != 'saved_model_dir' and os.path.isdir(path):
      raise ValueError(f'--{flag}={path} is a folder; give a file name')
    if not is_earlier(path):
      found = ''
      if os.path.isdir(path):
        entries = set(os.listdir(path))
        foreign = sorted(entries - _SAVED_MODEL_ENTRIES) or sorted(entries)
        found = (' (holds ' + ', '.join(foreign[:5]) +
                 (f' and {len(foreign) - 5} more' if len(foreign) > 5 else '') + ')')
      raise ValueError(f'--{flag}={path} exists and is not {what}{found}; refusing to '
                       f'replace it: choose a new path, or pass --overwrite')


def read_metadata(saved_model_dir):
  """The slimbench.json that `export` wrote into a SavedModel."""
  path = os.path.join(saved_model_dir, 'assets.extra', METADATA_FILE)
  if not os.path.exists(path):
    raise ValueError(f'--saved_model_dir={saved_model_dir}: no {METADATA_FILE}; was it '
                     f'written by export_inference_graph.py?')
  with open(path) as f:
    return json.load(f)
