"""Batches of preprocessed images and labels from a converted dataset, with tf.data."""

import tensorflow as tf

from slimbench.preprocessing import preprocessing_factory


def make_batches(dataset, preprocessing_name, image_size, batch_size, *, is_training,
                 labels_offset=0, use_grayscale=False, num_readers=4,
                 num_preprocessing_threads=4, shard_index=0, num_shards=1, seed=None,
                 num_epochs=None, drop_remainder=True):
  """A `tf.data.Dataset` of `(images, labels)` batches.

  Args:
    dataset: from `dataset_factory.get_dataset`.
    preprocessing_name: a preprocessing or model name for `preprocessing_factory`.
    image_size: side of the square images the net gets.
    batch_size: examples per batch.
    is_training: shuffle and augment (training) or keep the order (evaluation).
    labels_offset: subtracted from each label.
    use_grayscale: one-channel images.
    num_readers: files read in parallel.
    num_preprocessing_threads: examples preprocessed in parallel.
    shard_index, num_shards: this worker's share of the files.
    seed: shuffling seed.
    num_epochs: passes over the data; None repeats forever.
    drop_remainder: keep every batch full (training); evaluation keeps the last one.

  Returns:
    The dataset; images are float32 [batch, image_size, image_size, C] (clips, from a
    dataset of clips: [batch, frames, image_size, image_size, C]), labels int64.
  """
  preprocess = preprocessing_factory.get_preprocessing(
      preprocessing_name, is_training=is_training, use_grayscale=use_grayscale)
  examples = dataset.read(shuffle=is_training, num_epochs=num_epochs, seed=seed,
                          num_readers=num_readers,
                          num_parallel_calls=num_preprocessing_threads,
                          shard_index=shard_index, num_shards=num_shards)

  # A clip's frames all take evaluation's preprocessing (the same crop and scaling): random
  # distortions drawn frame by frame would tear the clip apart in time.
  preprocess_frame = preprocessing_factory.get_preprocessing(
      preprocessing_name, is_training=False, use_grayscale=use_grayscale)

  def prepare(example):
    image = example['image']
    if image.shape.rank == 4:  # a clip [frames, height, width, C]
      image = tf.map_fn(lambda frame: preprocess_frame(frame, image_size, image_size), image,
                        fn_output_signature=tf.float32)
    else:
      image = preprocess(image, image_size, image_size)
    return image, example['label'] - labels_offset

  batches = examples.map(prepare, num_parallel_calls=num_preprocessing_threads)
  batches = batches.batch(batch_size, drop_remainder=drop_remainder)
  return batches.prefetch(tf.data.AUTOTUNE)
