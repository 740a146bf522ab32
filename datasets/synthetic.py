"""The `synthetic` dataset: random images (or clips) made inside the input pipeline.

No files are read, so a training run measures the model and its preprocessing rather
than the disk. Image `i` is the same in every epoch (stateless random numbers seeded by
`seed` and `i`), so runs are repeatable. With `num_frames` an example is a clip of that
many frames, for the video models (i3d, s3dg), which no converter has data for.

Usage:
  ds = dataset_factory.get_dataset('synthetic', 'train', None, image_size=224,
                                   num_classes=1001, channels=3)
  examples = ds.read(shuffle=True, num_epochs=None)
"""

import numpy as np
import tensorflow as tf

# ImageNet's sizes by default: learning-rate schedules in epochs then behave as on ImageNet.
DEFAULT_NUM_SAMPLES = {'train': 1281167, 'validation': 50000, 'test': 50000}


class SyntheticDataset:
  """Random uint8 images and labels; same attributes and `read` as a converted dataset.

  Args:
    split_name: 'train', 'validation' or 'test'.
    image_size: side of the square images.
    num_classes: labels are uniform in [0, num_classes).
    channels: 1 or 3.
    num_samples: images per epoch (ImageNet's split sizes by default).
    num_frames: None for images [size, size, C]; else each example is a clip
      [num_frames, size, size, C].
  """

  def __init__(self, split_name, image_size=224, num_classes=1001, channels=3,
               num_samples=None, num_frames=None):
    if split_name not in DEFAULT_NUM_SAMPLES:
      raise ValueError(f'unknown split {split_name!r} of synthetic; known: '
                       f'{", ".join(DEFAULT_NUM_SAMPLES)}')
    if int(image_size) < 1 or int(num_classes) < 1 or channels not in (1, 3):
      raise ValueError('synthetic needs image_size >= 1, num_classes >= 1 and channels 1 or '
                       f'3; got {image_size}, {num_classes}, {channels}')
    if num_samples is not None and int(num_samples) < 1:
      raise ValueError(f'synthetic needs num_samples >= 1, got {num_samples}')
    if num_frames is not None and int(num_frames) < 1:
      raise ValueError(f'synthetic needs num_frames >= 1, got {num_frames}')
    self.name = 'synthetic'
    self.split_name = split_name
    self.image_size = int(image_size)
    self.num_classes = int(num_classes)
    self.channels = channels
    self.num_samples = int(num_samples or DEFAULT_NUM_SAMPLES[split_name])
    self.labels_to_names = {i: f'class_{i}' for i in range(self.num_classes)}
    self.has_bboxes = False
    self.has_background_class = False
    self.data_sources = []
    self.num_frames = None if num_frames is None else int(num_frames)
    frames = '' if num_frames is None else f'{self.num_frames}, '
    self.items_to_descriptions = {'image': f'random uint8 [{frames}{image_size}, {image_size}, '
                                           f'{channels}]',
                                  'label': f'random int64 in [0, {num_classes})'}

  def read(self, shuffle=False, num_epochs=1, seed=None, num_readers=4,
           num_parallel_calls=tf.data.AUTOTUNE, shard_index=0, num_shards=1,
           shuffle_buffer_size=None):
    """A `tf.data.Dataset` of {'image', 'label', 'bbox'} like `dataset_factory.Dataset.read`."""
    del num_readers  # nothing to read
    if num_shards < 1 or not 0 <= shard_index < num_shards:
      raise ValueError(f'shard_index must be in [0, {num_shards}), got {shard_index}')
    if num_epochs is not None and num_epochs < 1:
      raise ValueError(f'num_epochs must be None (forever) or >= 1, got {num_epochs}')
    base_seed = 0 if seed is None else int(seed)
    indices = tf.data.Dataset.range(self.num_samples)
    if num_shards > 1:
      indices = indices.shard(num_shards, shard_index)
    if shuffle:
      buffer = shuffle_buffer_size or min(self.num_samples, 10000)
      indices = indices.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    indices = indices.repeat(num_epochs)
    shape = [self.image_size, self.image_size, self.channels]
    if self.num_frames is not None:
      shape = [self.num_frames] + shape
    num_pixels = 1
    for side in shape:
      num_pixels *= side
    num_classes = self.num_classes

    def make(index):
      image_seed = tf.stack([tf.constant(base_seed, tf.int64), index])
      # Random 32-bit words cut into bytes: a quarter of the random numbers that drawing
      # each byte would take, so the pipeline keeps up with fast accelerators.
      words = tf.random.stateless_uniform([(num_pixels + 3) // 4], seed=image_seed,
                                          minval=None, maxval=None, dtype=tf.uint32)
      image = tf.reshape(tf.reshape(tf.bitcast(words, tf.uint8), [-1])[:num_pixels], shape)
      label = tf.random.stateless_uniform([], seed=image_seed + [1, 0], minval=0,
                                          maxval=num_classes, dtype=tf.int64)
      return {'image': image, 'label': label, 'bbox': tf.zeros([0, 4], tf.float32)}

    return indices.map(make, num_parallel_calls=num_parallel_calls,
                       deterministic=not shuffle or seed is not None).prefetch(
                           tf.data.AUTOTUNE)


def photo_like(rng, height, width):
  """uint8 [height, width, 3]: a smooth colour field plus fine grain, which decodes and
  compresses as JPEG like a photograph (not like flat colour or white noise)."""
  coarse = rng.uniform(0, 255, (height // 16 + 2, width // 16 + 2, 3))
  rows = np.linspace(0, coarse.shape[0] - 1.001, height)
  cols = np.linspace(0, coarse.shape[1] - 1.001, width)
  r0, c0 = rows.astype(int), cols.astype(int)
  fr, fc = (rows - r0)[:, None, None], (cols - c0)[None, :, None]
  smooth = ((1 - fr) * (1 - fc) * coarse[r0][:, c0] + (1 - fr) * fc * coarse[r0][:, c0 + 1] +
            fr * (1 - fc) * coarse[r0 + 1][:, c0] + fr * fc * coarse[r0 + 1][:, c0 + 1])
  grain = rng.normal(0, 12, (height, width, 3))
  return np.clip(smooth + grain, 0, 255).astype(np.uint8)
