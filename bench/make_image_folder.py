"""Writes a folder of class folders of photo-sized JPEGs, to measure real-data input.

The images are smooth random fields with fine noise on top, so that they decode and
compress like photographs (about ImageNet's average size and JPEG bytes), not like flat
colour. Convert the folder with download_and_convert_data.py --dataset_name=image_folder.

Usage (from the repository root):
  .venv/bin/python bench/make_image_folder.py --output_dir=/tmp/photos
  .venv/bin/python download_and_convert_data.py --dataset_name=image_folder \
      --source_dir=/tmp/photos --dataset_dir=/tmp/photos_tfrecord
"""

import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top

from datasets import dataset_utils  # pylint: disable=g-import-not-at-top
from datasets import synthetic  # pylint: disable=g-import-not-at-top

flags.DEFINE_string('output_dir', None, 'Folder to write; one sub-folder per class.',
                    required=True)
flags.DEFINE_integer('num_classes', 10, 'Class folders.', lower_bound=1)
flags.DEFINE_integer('images_per_class', 40, 'JPEGs per class.', lower_bound=1)
flags.DEFINE_integer('width', 500, 'Image width (ImageNet\'s median is 500).', lower_bound=8)
flags.DEFINE_integer('height', 375, 'Image height (ImageNet\'s median is 375).',
                     lower_bound=8)
flags.DEFINE_integer('seed', 0, 'Random seed.')


def main(argv):
  del argv
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  fv = flags.FLAGS
  rng = np.random.RandomState(fv.seed)
  total_bytes = 0
  for class_index in range(fv.num_classes):
    folder = os.path.join(fv.output_dir, f'class_{class_index:03d}')
    os.makedirs(folder, exist_ok=True)
    for image_index in range(fv.images_per_class):
      encoded = tf.io.encode_jpeg(synthetic.photo_like(rng, fv.height, fv.width),
                                  quality=90).numpy()
      path = os.path.join(folder, f'{image_index:05d}.jpg')
      dataset_utils.write_bytes(path, encoded)
      total_bytes += len(encoded)
  count = fv.num_classes * fv.images_per_class
  print(f'{count} JPEGs of {fv.width}x{fv.height} in {fv.output_dir}, '
        f'{total_bytes / count / 1024:.0f} KiB each on average')


if __name__ == '__main__':
  app.run(main)
