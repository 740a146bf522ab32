"""Where TF-Slim's published ImageNet checkpoints are, and what they reached.

Each row is a fact from TF-Slim's README (research/slim) or the MobileNet README beside
its code: the archive's address and the single-crop ImageNet accuracy reported for it.
Nothing here is downloaded; the table tells a user which file to fetch and which flags
restore it (`fine_tuning_flags`, `evaluation_flags`).

Usage:
  from . import published_checkpoints
  published_checkpoints.PUBLISHED['inception_v3'].url
  published_checkpoints.fine_tuning_flags('inception_v3')
"""

import dataclasses
from typing import Optional

_TF = 'http://download.tensorflow.org/models'
_GCS_TF = 'https://storage.googleapis.com/download.tensorflow.org/models'
_MOBILENET_V2 = 'https://storage.googleapis.com/mobilenet_v2/checkpoints'
_MOBILENET_V3 = 'https://storage.googleapis.com/mobilenet_v3/checkpoints'
_EDGETPU = 'https://storage.cloud.google.com/mobilenet_edgetpu/checkpoints'


@dataclasses.dataclass(frozen=True)
class PublishedCheckpoint:
  """A published checkpoint of a registered model.

  Attributes:
    url: address of the archive (.tar.gz or .tgz) holding the checkpoint.
    top1: ImageNet top-1 accuracy (%) reported for it, single crop.
    top5: ImageNet top-5 accuracy (%), where reported.
    image_size: the input side it was trained and evaluated at, where it differs from the
      registry's default size for the name.
    note: what else a user must know to reproduce the figure.
  """
  url: str
  top1: float
  top5: Optional[float] = None
  image_size: Optional[int] = None
  note: str = ''

  @property
  def archive(self):
    return self.url.rsplit('/', 1)[1]


_RESNET_V2_NOTE = 'evaluated at 299 with inception preprocessing (TF-Slim README)'
_EDGETPU_NOTE = 'the accuracy is that of the 8-bit model'

PUBLISHED = {
    'inception_v1': PublishedCheckpoint(f'{_TF}/inception_v1_2016_08_28.tar.gz', 69.8, 89.6),
    'inception_v2': PublishedCheckpoint(f'{_TF}/inception_v2_2016_08_28.tar.gz', 73.9, 91.8),
    'inception_v3': PublishedCheckpoint(f'{_TF}/inception_v3_2016_08_28.tar.gz', 78.0, 93.9),
    'inception_v4': PublishedCheckpoint(f'{_TF}/inception_v4_2016_09_09.tar.gz', 80.2, 95.2),
    'inception_resnet_v2': PublishedCheckpoint(
        f'{_TF}/inception_resnet_v2_2016_08_30.tar.gz', 80.4, 95.3),
    'resnet_v1_50': PublishedCheckpoint(f'{_TF}/resnet_v1_50_2016_08_28.tar.gz', 75.2, 92.2),
    'resnet_v1_101': PublishedCheckpoint(f'{_TF}/resnet_v1_101_2016_08_28.tar.gz', 76.4, 92.9),
    'resnet_v1_152': PublishedCheckpoint(f'{_TF}/resnet_v1_152_2016_08_28.tar.gz', 76.8, 93.2),
    'resnet_v2_50': PublishedCheckpoint(f'{_TF}/resnet_v2_50_2017_04_14.tar.gz', 75.6, 92.8,
                                        image_size=299, note=_RESNET_V2_NOTE),
    'resnet_v2_101': PublishedCheckpoint(f'{_TF}/resnet_v2_101_2017_04_14.tar.gz', 77.0, 93.7,
                                         image_size=299, note=_RESNET_V2_NOTE),
    'resnet_v2_152': PublishedCheckpoint(f'{_TF}/resnet_v2_152_2017_04_14.tar.gz', 77.8, 94.1,
                                         image_size=299, note=_RESNET_V2_NOTE),
    'vgg_16': PublishedCheckpoint(f'{_TF}/vgg_16_2016_08_28.tar.gz', 71.5, 89.8),
    'vgg_19': PublishedCheckpoint(f'{_TF}/vgg_19_2016_08_28.tar.gz', 71.1, 89.8),
    'mobilenet_v1': PublishedCheckpoint(
        f'{_TF}/mobilenet_v1_2018_02_22/mobilenet_v1_1.0_224.tgz', 70.9, 89.9),
    'mobilenet_v1_050': PublishedCheckpoint(
        f'{_TF}/mobilenet_v1_2018_02_22/mobilenet_v1_0.5_160.tgz', 59.1, 81.9, image_size=160),
    'mobilenet_v1_025': PublishedCheckpoint(
        f'{_TF}/mobilenet_v1_2018_02_22/mobilenet_v1_0.25_128.tgz', 41.5, 66.3, image_size=128),
    'mobilenet_v2': PublishedCheckpoint(f'{_MOBILENET_V2}/mobilenet_v2_1.0_224.tgz', 71.9, 91.0),
    'mobilenet_v2_140': PublishedCheckpoint(f'{_MOBILENET_V2}/mobilenet_v2_1.4_224.tgz',
                                            74.9, 92.5),
    'mobilenet_v2_035': PublishedCheckpoint(f'{_MOBILENET_V2}/mobilenet_v2_0.35_224.tgz',
                                            60.3, 82.9),
    'mobilenet_v3_large': PublishedCheckpoint(f'{_MOBILENET_V3}/v3-large_224_1.0_float.tgz',
                                              75.2),
    'mobilenet_v3_small': PublishedCheckpoint(f'{_MOBILENET_V3}/v3-small_224_1.0_float.tgz',
                                              67.5),
    'mobilenet_v3_large_minimalistic': PublishedCheckpoint(
        f'{_MOBILENET_V3}/v3-large-minimalistic_224_1.0_float.tgz', 72.3),
    'mobilenet_v3_small_minimalistic': PublishedCheckpoint(
        f'{_MOBILENET_V3}/v3-small-minimalistic_224_1.0_float.tgz', 61.9),
    'mobilenet_edgetpu': PublishedCheckpoint(f'{_EDGETPU}/mobilenet_edgetpu_224_1.0.tgz', 75.6,
                                             note=_EDGETPU_NOTE),
    'mobilenet_edgetpu_075': PublishedCheckpoint(f'{_EDGETPU}/mobilenet_edgetpu_224_0.75.tgz',
                                                 73.5, note=_EDGETPU_NOTE),
    'nasnet_mobile': PublishedCheckpoint(f'{_GCS_TF}/nasnet-a_mobile_04_10_2017.tar.gz',
                                         74.0, 91.6),
    'nasnet_large': PublishedCheckpoint(f'{_GCS_TF}/nasnet-a_large_04_10_2017.tar.gz', 82.7, 96.2),
    'pnasnet_mobile': PublishedCheckpoint(f'{_GCS_TF}/pnasnet-5_mobile_2017_12_13.tar.gz',
                                          74.2, 91.9),
    'pnasnet_large': PublishedCheckpoint(f'{_GCS_TF}/pnasnet-5_large_2017_12_13.tar.gz',
                                         82.9, 96.2),
}


def fine_tuning_flags(info):
  """The flags that start training on a new label set from `info`'s published checkpoint.

  Args:
    info: the model's `registry.ModelInfo`.

  Returns:
    The flags as one command-line string ('' for a model with no published checkpoint).
  """
  published = PUBLISHED.get(info.name)
  if published is None:
    return ''
  flags = [f'--checkpoint_exclude_scopes={info.checkpoint_exclude_scopes}']
  if published.image_size:
    flags.append(f'--train_image_size={published.image_size}')
  return ' '.join(flags)


def evaluation_flags(info):
  """The flags that evaluate `info`'s published checkpoint on TF-Slim's ImageNet records.

  TF-Slim's ImageNet conversion keeps class 0 for background (1001 labels), so a checkpoint
  of 1000 classes needs `--labels_offset=1`.
  """
  published = PUBLISHED.get(info.name)
  if published is None:
    return ''
  flags = []
  if info.num_classes == 1000:
    flags.append('--labels_offset=1')
  if published.image_size:
    flags.append(f'--eval_image_size={published.image_size}')
  return ' '.join(flags)
