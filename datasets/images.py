"""Checks and normalizes source images before they go into TFRecords.

Every image is decoded once during conversion, so a corrupt or truncated file fails there
with its name rather than hours later inside a training input pipeline. Bytes are kept as
they are whenever the readers' `tf.io.decode_image` handles them: JPEG (grayscale or RGB)
and 8-bit PNG (grayscale or RGB). Anything else is re-encoded: CMYK/YCCK JPEGs to RGB JPEG,
other formats (palette or alpha PNG, GIF, BMP, TIFF, WebP, 16-bit) to lossless PNG. With
`jpeg_only` (ImageNet, as TF-Slim's readers expect JPEG there) non-JPEG sources, such as
the PNG files named .JPEG in ILSVRC2012, become RGB JPEGs.

Usage:
  image = images.prepare_image(data, 'cats/001.jpg')
  image.encoded, image.format, image.height, image.width, image.channels
"""

import dataclasses
import io
import struct
import warnings
import zlib

import numpy as np
from PIL import Image
from PIL import UnidentifiedImageError

# Re-encoding a source JPEG loses a little; 95 keeps that loss well below what training
# augmentation does, as in TF-Slim's build_imagenet_data.
JPEG_QUALITY = 95

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.gif', '.tif', '.tiff', '.webp')

# ILSVRC2012 images are at most a few tens of megapixels; anything far larger is more
# likely a decompression bomb than a photo.
Image.MAX_IMAGE_PIXELS = 400_000_000


@dataclasses.dataclass(frozen=True)
class PreparedImage:
  encoded: bytes
  format: str  # 'jpeg' or 'png'
  height: int
  width: int
  channels: int  # 1 or 3, as stored


def _decode(data, source_name):
  """Opens and fully decodes `data`; returns the PIL image and its format."""
  try:
    with warnings.catch_warnings():
      warnings.simplefilter('error', Image.DecompressionBombWarning)
      image = Image.open(io.BytesIO(data))
      image_format = image.format
      size = image.size
      if image_format in ('JPEG', 'MPO') and image.mode in ('L', 'RGB', 'CMYK'):
        # Decoding at 1/8 scale still reads every entropy-coded block, so truncated and
        # corrupt files fail as in a full decode, at a fraction of the cost.
        image.draft(image.mode, (max(1, size[0] // 8), max(1, size[1] // 8)))
      image.load()
  except UnidentifiedImageError:
    raise ValueError(f'{source_name}: not a readable image (unknown format or damaged '
                     f'header; first bytes {data[:8]!r})') from None
  except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
          Image.DecompressionBombWarning) as e:
    raise ValueError(f'{source_name}: not a readable image ({e})') from None
  return image, image_format, size


def _to_8bit(image):
  if image.mode in ('I;16', 'I;16B', 'I;16L', 'I'):
    array = np.asarray(image, dtype=np.int64)
    scale = 257 if array.max(initial=0) <= 65535 else 1
    return Image.fromarray(np.clip(array // scale, 0, 255).astype(np.uint8), 'L')
  if image.mode in ('L', 'RGB'):
    return image
  if image.mode in ('1', 'LA', 'F'):
    return image.convert('L')
  return image.convert('RGB')


def _encode(image, image_format):
  buffer = io.BytesIO()
  if image_format == 'jpeg':
    image.save(buffer, 'JPEG', quality=JPEG_QUALITY)
  else:
    image.save(buffer, 'PNG')
  return buffer.getvalue()


def prepare_image(data, source_name, jpeg_only=False):
  """Checks that `data` decodes and returns it ready for a TFRecord.

  Args:
    data: the bytes of an image file.
    source_name: the file (or archive member) the bytes came from, for error messages.
    jpeg_only: re-encode every non-JPEG source as RGB JPEG instead of lossless PNG.

  Returns:
    A `PreparedImage`.

  Raises:
    ValueError: naming `source_name`, when the bytes are not a complete readable image.
  """
  image, source_format, (width, height) = _decode(data, source_name)
  if source_format in ('JPEG', 'MPO') and image.mode in ('L', 'RGB'):
    return PreparedImage(data, 'jpeg', height, width, 1 if image.mode == 'L' else 3)
  if source_format == 'PNG' and image.mode in ('L', 'RGB') and not jpeg_only:
    # 16-bit PNGs also open as 'I;16'/'I', so an 'L'/'RGB' mode here means 8-bit samples.
    return PreparedImage(data, 'png', height, width, 1 if image.mode == 'L' else 3)
  if image.size != (width, height):
    # A JPEG opened in draft mode; CMYK ones are re-encoded from full resolution.
    image = Image.open(io.BytesIO(data))
    image.load()
  image = _to_8bit(image)
  if jpeg_only or source_format in ('JPEG', 'MPO'):
    image = image.convert('RGB')
    return PreparedImage(_encode(image, 'jpeg'), 'jpeg', height, width, 3)
  channels = 1 if image.mode == 'L' else 3
  return PreparedImage(_encode(image, 'png'), 'png', height, width, channels)


def _png_chunk(kind, data):
  return (struct.pack('>I', len(data)) + kind + data +
          struct.pack('>I', zlib.crc32(kind + data) & 0xFFFFFFFF))


def encode_png(pixels):
  """Lossless PNG bytes of a uint8 array [H, W] or [H, W, 1] (grayscale) or [H, W, 3].

  Written directly with zlib (faster than Pillow for MNIST-sized images, docs/performance.md,
  and the same bytes on every run): 8-bit samples, no interlacing, filter type 0 on every
  row.
  """
  pixels = np.asarray(pixels)
  if pixels.dtype != np.uint8:
    raise ValueError(f'encode_png needs uint8 pixels, got {pixels.dtype}')
  if pixels.ndim == 2:
    pixels = pixels[:, :, np.newaxis]
  if pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
    raise ValueError(f'encode_png needs [H, W], [H, W, 1] or [H, W, 3], got {pixels.shape}')
  height, width, channels = pixels.shape
  rows = np.zeros((height, width * channels + 1), dtype=np.uint8)
  rows[:, 1:] = pixels.reshape(height, width * channels)
  header = struct.pack('>IIBBBBB', width, height, 8, 0 if channels == 1 else 2, 0, 0, 0)
  return b''.join((b'\x89PNG\r\n\x1a\n', _png_chunk(b'IHDR', header),
                   _png_chunk(b'IDAT', zlib.compress(rows.tobytes(), 6)),
                   _png_chunk(b'IEND', b'')))
