"""Fashion-MNIST: 60,000 train / 10,000 test Zalando article images, 28x28 grayscale.

Xiao, Rasul and Vollgraf, "Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine
Learning Algorithms", arXiv:1708.07747, 2017. A drop-in replacement for MNIST: the same
four gzipped idx files under the same names, ten classes of clothing instead of digits.

The files are taken from --source_dir (gzipped or not; Debian's `dataset-fashion-mnist`
installs them in /usr/share/datasets/fashion-mnist), else from --dataset_dir under their
official names, else downloaded from the authors' bucket. Each is checked by the SHA-256
of its decompressed idx content, so a re-compressed copy (Debian's is one: its .gz
headers differ from the download's) passes and a damaged one does not. A download is
checked by the published archive's SHA-256 as well.

Where the numbers come from: the archive sizes and SHA-256 are TensorFlow Datasets'
recorded checksums of the official download. The content SHA-256 were computed from the
decompressed files of Debian's package, which hold the authors' deflate streams byte for
byte: given back the name and time fields of the authors' gzip headers, each Debian file
becomes the published archive, matching its size, TensorFlow Datasets' SHA-256 and the
MD5 of the authors' README (the tests check this where the package is installed).

Usage:
  python download_and_convert_data.py --dataset_name=fashion_mnist \
      --source_dir=/usr/share/datasets/fashion-mnist --dataset_dir=/tmp/fashion_mnist
"""

from . import convert_mnist
from . import download
from . import registry

_URL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'


def _file(filename, archive_sha256, archive_size, content_sha256):
  return convert_mnist.IdxFile(
      download.RemoteFile(filename, archive_sha256, archive_size, (_URL + filename,)),
      content_sha256)


#                 name, SHA-256 and size of the published .gz, SHA-256 of its idx content
FILES = {
    'train_images': _file(
        'train-images-idx3-ubyte.gz',
        '3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84', 26421880,
        'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888'),
    'train_labels': _file(
        'train-labels-idx1-ubyte.gz',
        'a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845', 29515,
        'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9'),
    'test_images': _file(
        't10k-images-idx3-ubyte.gz',
        '346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073', 4422102,
        '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b'),
    'test_labels': _file(
        't10k-labels-idx1-ubyte.gz',
        '67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5', 5148,
        '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34'),
}
# The authors' label table, in label order.
CLASS_NAMES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
               'Sneaker', 'Bag', 'Ankle boot')
DEBIAN_DIR = '/usr/share/datasets/fashion-mnist'


@registry.register('fashion_mnist')
def convert(dataset_dir, source_dir=None, overwrite=False, verify_checksums=True,
            train_shards=0, validation_shards=0):
  """Converts Fashion-MNIST into `dataset_dir`; returns the dataset_info dict.

  Args:
    dataset_dir: output folder; the four .gz files found there are used.
    source_dir: a folder with the four idx files (gzipped or not) to use instead, e.g.
      DEBIAN_DIR.
    overwrite: replace a dataset converted from other sources in dataset_dir.
    verify_checksums: refuse files whose idx content is not the published dataset's;
      False converts them with a warning, recorded in dataset_info.json.
    train_shards: shards of train (0: one per 64 MB).
    validation_shards: shards of test (0: one per 64 MB).
  """
  return convert_mnist.convert_idx('fashion_mnist', FILES, CLASS_NAMES, dataset_dir,
                                   source_dir, overwrite, verify_checksums, train_shards,
                                   validation_shards)
