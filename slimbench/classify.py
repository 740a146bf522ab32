"""Classification of image files with a checkpoint or an exported SavedModel.

With a checkpoint, images are decoded to the channels its first convolution takes, and
unless the flags say, prepared with the preprocessing and size its training folder's
flags.txt records (`checkpoint_inputs`); a SavedModel records all three.
"""

import dataclasses
import os
from typing import Optional

import numpy as np
import tensorflow as tf

from slimbench.datasets import dataset_utils
from slimbench.datasets import images
from slimbench.nets import nets_factory
from slimbench.preprocessing import preprocessing_factory
from slimbench import checkpoint_inputs
from slimbench import checkpoints
from slimbench import config
from slimbench import export

tf1 = tf.compat.v1


@dataclasses.dataclass(frozen=True)
class ClassifyConfig:
  """What classify_image.py does: the shared groups, then classification's own settings.

  Fields have the names, types and defaults of the script's flags (`classify_flags`),
  except `use_grayscale_given`: whether --use_grayscale was given, so that it binds
  instead of the checkpoint's input channels choosing. Of the checkpoint group classify
  takes --checkpoint_path only.
  """
  data: config.DataConfig = config.DataConfig()
  model: config.ModelConfig = config.ModelConfig(model_name=None)
  preprocessing: config.PreprocessingConfig = config.PreprocessingConfig()
  checkpoint: config.CheckpointConfig = config.CheckpointConfig()
  use_grayscale_given: bool = False
  saved_model_dir: Optional[str] = None
  labels_file: Optional[str] = None
  image_size: Optional[int] = None
  top_k: int = 5
  output_format: str = 'text'


def read_labels_file(path):
  """{id: name} from a labels.txt of `id:name` lines.

  Raises:
    ValueError: a line is not `id:name`.
  """
  with tf.io.gfile.GFile(path) as f:
    return dataset_utils.parse_labels(f, path)


def _read_image(path):
  """The image at `path` as JPEG or PNG bytes that TensorFlow decodes.

  The converter's own check (datasets/images.py), so that every image a dataset may hold
  is also one that can be classified: CMYK JPEGs, alpha or palette PNGs, GIF, BMP, TIFF,
  WebP and 16-bit images come back re-encoded.

  Raises:
    ValueError: naming `path`, when it is missing or not a readable image.
  """
  try:
    with tf.io.gfile.GFile(path, 'rb') as f:
      data = f.read()
  except tf.errors.OpError as error:
    raise ValueError(f'{path}: cannot read it ({error.message.splitlines()[0]})') from None
  return images.prepare_image(data, path).encoded


def _preprocess(image_paths, preprocess, channels, image_size):
  """Decodes and preprocesses each image into one float32 batch.

  The preprocessing is graph code that may add image summaries, which only graph mode
  supports; it runs here as it does in training's input pipeline.
  """
  with tf.Graph().as_default():
    encoded = tf1.placeholder(tf.string, [])
    image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
    image.set_shape([None, None, channels])
    processed = preprocess(image, image_size, image_size)
    with tf1.Session() as session:
      return np.stack([session.run(processed, {encoded: _read_image(path)})
                       for path in image_paths])


def _class_names(labels_file, data, saved_names):
  """Model class id -> name."""
  if labels_file or data.dataset_dir:
    path = labels_file or os.path.join(data.dataset_dir, 'labels.txt')
    if not tf.io.gfile.exists(path):
      raise ValueError(f'{path}: no labels file there')
    return {label - data.labels_offset: name
            for label, name in read_labels_file(path).items()}
  return {int(k): v for k, v in saved_names.items()}


def _check_image_model(model_name, num_frames=None):
  """Refuses a video model; `num_frames`: its clips' frames, where the export recorded them."""
  info = nets_factory.model_info(model_name)
  if getattr(info, 'is_video_model', False):
    raise ValueError(f'{model_name} is a video model: it classifies clips of '
                     f'{num_frames or info.num_frames} frames, not single images')


def classify(classify_config, image_paths):
  """Top-k classes of each image, as `classify_config` (a `ClassifyConfig`) says.

  Returns:
    [{'image': path, 'predictions': [{'class': id, 'label': name, 'probability': p}]}]

  Raises:
    ValueError: bad settings, model or image (one line naming the flag or the file).
  """
  checkpoint_path = classify_config.checkpoint.checkpoint_path
  saved_model_dir = classify_config.saved_model_dir
  preprocessing = classify_config.preprocessing
  use_grayscale = preprocessing.use_grayscale
  if not image_paths:
    raise ValueError('give one or more image files to classify')
  if bool(checkpoint_path) == bool(saved_model_dir):
    raise ValueError('give exactly one of --checkpoint_path and --saved_model_dir')
  if checkpoint_path and not classify_config.model.model_name:
    raise ValueError('--checkpoint_path needs --model_name')
  if saved_model_dir:
    metadata = export.read_metadata(saved_model_dir)
    model_name, saved_names = metadata['model_name'], metadata['labels']
    _check_image_model(model_name, metadata.get('num_frames'))
    image_size, channels = metadata['image_size'], metadata['channels']
    if classify_config.use_grayscale_given and (1 if use_grayscale else 3) != channels:
      raise ValueError(checkpoint_inputs.mismatch_message(
          f'SavedModel {saved_model_dir}', channels, 1 if use_grayscale else 3,
          use_grayscale))
    if classify_config.image_size and classify_config.image_size != image_size:
      raise ValueError(f'SavedModel {saved_model_dir} takes {image_size}x{image_size} '
                       f'images, the flags ask for --image_size={classify_config.image_size}')
    preprocessing_name = preprocessing.preprocessing_name or metadata['preprocessing']
  else:
    model_name, saved_names = classify_config.model.model_name, {}
    _check_image_model(model_name)
    checkpoint = checkpoints.resolve_checkpoint(checkpoint_path)
    # The size and preprocessing the checkpoint was trained with, unless the flags say.
    trained = checkpoint_inputs.training_settings(checkpoint, model_name)
    image_size = (checkpoint_inputs.default_from_training(
        'image_size', classify_config.image_size, trained, 'train_image_size', checkpoint) or
                  nets_factory.model_info(model_name).default_image_size)
    use_grayscale, _ = checkpoint_inputs.choose_use_grayscale(
        checkpoint, checkpoint_inputs.checkpoint_channels(checkpoint, model_name),
        use_grayscale, classify_config.use_grayscale_given)
    channels = 1 if use_grayscale else 3
    preprocessing_name = checkpoint_inputs.default_from_training(
        'preprocessing_name', preprocessing.preprocessing_name, trained, 'preprocessing_name',
        checkpoint) or model_name
  info = nets_factory.model_info(model_name)
  names = _class_names(classify_config.labels_file, classify_config.data, saved_names)
  preprocess = preprocessing_factory.get_preprocessing(
      preprocessing_name, is_training=False, use_grayscale=channels == 1)
  batch = _preprocess(image_paths, preprocess, channels, image_size)
  if saved_model_dir:
    model = tf.saved_model.load(saved_model_dir)
    probabilities = model.signatures['serving_default'](
        images=tf.constant(batch, tf.float32))['probabilities'].numpy()
  else:
    probabilities = _probabilities_from_checkpoint(checkpoint, info, batch, trained)
  results = []
  for path, row in zip(image_paths, probabilities):
    top = np.argsort(-row)[:classify_config.top_k]
    results.append({'image': path, 'predictions': [
        {'class': int(c), 'label': names.get(int(c), str(c)), 'probability': float(row[c])}
        for c in top]})
  return results


def _probabilities_from_checkpoint(checkpoint, info, batch, trained):
  shapes = tf.train.load_checkpoint(checkpoint).get_variable_to_shape_map()
  # The logits layer's weights or biases, directly in its scope (LeNet's fc4/biases) or
  # one level down (MobileNet's Logits/Conv2d_1c_1x1/biases); their last side is the classes.
  logits_variables = sorted(
      name for name in shapes
      if name.startswith(info.logits_scope + '/') and
      name.rsplit('/', 1)[-1] in ('biases', 'weights'))
  if not logits_variables:
    raise ValueError(f'checkpoint {checkpoint} has no weights or biases under '
                     f'{info.logits_scope}: is it a checkpoint of {info.name}?')
  num_classes = shapes[logits_variables[0]][-1]
  with tf.Graph().as_default():
    images = tf1.placeholder(tf.float32, batch.shape)
    logits, _ = nets_factory.get_network_fn(info.name, num_classes=num_classes)(images)
    probabilities = tf.nn.softmax(logits)
    checkpoint_inputs.check_image_size(
        checkpoint, info.name, {v.op.name: v for v in tf1.global_variables()},
        batch.shape[1], trained, 'image_size')
    saver, _, _ = checkpoints.restore_saver(
        checkpoint, tf1.global_variables(), model_info=info, num_classes=num_classes,
        missing_hint=f'is it a checkpoint of {info.name}?')
    with tf1.Session() as session:
      saver.restore(session, checkpoint)
      return session.run(probabilities, {images: batch})


def format_text(results):
  lines = []
  for result in results:
    lines.append(f"{result['image']}:")
    for prediction in result['predictions']:
      lines.append(f"  {prediction['probability']:.4f}  {prediction['class']:>4}  "
                   f"{prediction['label']}")
  return '\n'.join(lines)
