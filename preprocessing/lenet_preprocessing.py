"""LeNet preprocessing: crop or pad to the output size, scale to about [-1, 1].

LeCun et al., "Gradient-Based Learning Applied to Document Recognition", Proc. IEEE 1998,
as TF-Slim trains `lenet` on MNIST: pixel values in [0, 255] are centred and scaled as
(x - 128) / 128, and the image is centre-cropped or zero-padded to the output size. The
recipe has no augmentation, so training and evaluation are the same. The image keeps its
channel count (MNIST stays one channel) unless `use_grayscale` asks for one.

Usage:
  image = lenet_preprocessing.preprocess_image(image, 28, 28, is_training=True)
"""

import tensorflow as tf

from . import image_ops

NAME = 'lenet'

_CENTRE = 128.0
_SCALE = 128.0


def preprocess_image(image, output_height, output_width, is_training=False,
                     use_grayscale=False):
  """Preprocesses one image (TF-Slim's signature).

  Args:
    image: [height, width, 1 or 3] of any dtype; integers are scaled to [0, 255] (uint8
      is kept as is), floats are taken to be in [0, 1]. Any size: larger images are
      cropped, smaller ones padded with value 0 (-1 after scaling).
    output_height: output height.
    output_width: output width.
    is_training: accepted for the factory's uniform signature; LeNet's recipe treats both
      modes alike.
    use_grayscale: return one channel (a 3-channel image is converted to luma).

  Returns:
    float32 [output_height, output_width, channels] in [-1, 127/128], with the input's
    channel count, or 1 if use_grayscale.

  Raises:
    ValueError: bad sizes or image shape.
  """
  del is_training  # The same in both modes, as the paper and TF-Slim train LeNet.
  output_height, output_width = image_ops.check_output_size(output_height, output_width,
                                                            NAME)
  image = image_ops.to_pixel_float(image_ops.check_image(image, NAME))
  if use_grayscale:
    image = image_ops.to_grayscale(image)
  image = tf.image.resize_with_crop_or_pad(image, output_height, output_width)
  return (image - _CENTRE) / _SCALE
