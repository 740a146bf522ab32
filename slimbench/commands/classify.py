r"""Classifies image files with a checkpoint or an exported SavedModel: any size, and any
image the dataset converters take (JPEG, CMYK JPEG, PNG with alpha or 16 bits, GIF, BMP, TIFF,
WebP).

Usage:
  python classify_image.py --model_name=lenet --checkpoint_path=/tmp/lenet \
      --dataset_dir=/tmp/mnist5k digit.png
  python classify_image.py --saved_model_dir=/tmp/lenet_saved_model --output_format=json *.png

Installed (`pip install .`), `slimbench-classify` is this script: the same flags.
"""

import json
import sys

from absl import flags

from slimbench import classify
from slimbench import classify_flags
from slimbench import usage

for name in classify_flags.define_classify_flags(flags.FLAGS):
  flags.declare_key_flag(name)


def main(argv):
  classify_config = classify_flags.read_classify_config(flags.FLAGS)
  try:
    results = classify.classify(classify_config, argv[1:])
  except ValueError as error:
    sys.exit(f'{usage.program()}: {error}')
  if classify_config.output_format == 'json':
    print(json.dumps(results, indent=1))
  else:
    print(classify.format_text(results))



def run():
  """The console command's entry point."""
  usage.run(main)
