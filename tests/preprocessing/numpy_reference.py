"""TF-Slim's eval-mode preprocessing written independently in numpy, to test against.

These follow TF-Slim's definitions step by step (TF 1.x bilinear sampling, tf.image's
central_crop rounding, crop-or-pad offsets), so a change in our resize method, crop
fractions or means shows up as a mismatch.
"""

import numpy as np

RGB_MEANS = np.array([123.68, 116.78, 103.94])
GRAYSCALE_WEIGHTS = np.array([0.2989, 0.5870, 0.1140])


def _interpolate(image, rows, columns):
  """Bilinear interpolation at the given (low, high, fraction) rows and columns."""
  y0, y1, dy = rows
  x0, x1, dx = columns
  dy = dy[:, None, None]
  dx = dx[None, :, None]
  top = image[y0][:, x0] + (image[y0][:, x1] - image[y0][:, x0]) * dx
  bottom = image[y1][:, x0] + (image[y1][:, x1] - image[y1][:, x0]) * dx
  return top + (bottom - top) * dy


def resize_bilinear_legacy(image, new_height, new_width):
  """TF 1.x resize_bilinear(align_corners=False): sample at out * (in / out), no half pixel."""
  image = image.astype(np.float64)
  height, width = image.shape[:2]

  def axis(size_in, size_out):
    # float32 positions, as TF computes them; the rest in float64.
    position = np.arange(size_out, dtype=np.float32) * (np.float32(size_in) / size_out)
    position = position.astype(np.float64)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, size_in - 1)
    return low, high, position - low

  return _interpolate(image, axis(height, new_height), axis(width, new_width))


def resize_bilinear_half_pixel(image, new_height, new_width):
  """TF 2's tf.image.resize bilinear, to show that the legacy reference is discriminating."""
  image = image.astype(np.float64)
  height, width = image.shape[:2]

  def axis(size_in, size_out):
    position = np.clip((np.arange(size_out) + 0.5) * (size_in / size_out) - 0.5, 0, None)
    low = np.minimum(np.floor(position).astype(int), size_in - 1)
    high = np.minimum(low + 1, size_in - 1)
    return low, high, position - low

  return _interpolate(image, axis(height, new_height), axis(width, new_width))


def central_crop_fraction(image, fraction):
  """tf.image.central_crop: start = int((side - side * fraction) / 2), both ends trimmed."""
  height, width = image.shape[:2]
  top = int((height - height * fraction) / 2)
  left = int((width - width * fraction) / 2)
  return image[top:height - top, left:width - left]


def central_crop(image, crop_height, crop_width):
  top = (image.shape[0] - crop_height) // 2
  left = (image.shape[1] - crop_width) // 2
  return image[top:top + crop_height, left:left + crop_width]


def shorter_side_size(height, width, side):
  """TF-Slim's _smallest_size_at_least: rint(side * scale) in float32."""
  scale = np.float32(side) / np.float32(min(height, width))
  return (int(np.rint(np.float32(height) * scale)), int(np.rint(np.float32(width) * scale)))


def crop_or_pad(image, height, width):
  """tf.image.resize_with_crop_or_pad: centre crop what is too large, zero-pad the rest."""
  def fit(image, axis, size):
    current = image.shape[axis]
    if current > size:
      start = (current - size) // 2
      return np.take(image, range(start, start + size), axis=axis)
    pad = [(0, 0)] * image.ndim
    pad[axis] = ((size - current) // 2, size - current - (size - current) // 2)
    return np.pad(image, pad)
  return fit(fit(image.astype(np.float64), 0, height), 1, width)


def standardize(image):
  """tf.image.per_image_standardization."""
  std = max(image.std(), 1.0 / np.sqrt(image.size))
  return (image - image.mean()) / std


def inception_eval(image_uint8, height, width, central_fraction=0.875):
  image = image_uint8.astype(np.float64) / 255.0
  if central_fraction:
    image = central_crop_fraction(image, central_fraction)
  return (resize_bilinear_legacy(image, height, width) - 0.5) * 2.0


def vgg_eval(image_uint8, height, width, resize_side=256):
  size = shorter_side_size(*image_uint8.shape[:2], resize_side)
  image = resize_bilinear_legacy(image_uint8, *size)
  return central_crop(image, height, width) - RGB_MEANS


def cifarnet_eval(image_uint8, height, width):
  return standardize(crop_or_pad(image_uint8, height, width))


def lenet(image_uint8, height, width):
  return (crop_or_pad(image_uint8, height, width) - 128.0) / 128.0


def alexnet_eval(image_uint8, height, width, resize_side=256):
  size = shorter_side_size(*image_uint8.shape[:2], resize_side)
  image = resize_bilinear_legacy(image_uint8, *size)
  patch = central_crop(image, resize_side, resize_side)
  return central_crop(patch, height, width) - RGB_MEANS
