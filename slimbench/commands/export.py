r"""Exports a registered network for inference: GraphDef, SavedModel, TFLite.

Usage:
  # TF-Slim's GraphDef (input node `input`, outputs `logits`, `probabilities`, `top_k`):
  python export_inference_graph.py --model_name=inception_v3 --output_file=/tmp/inception_v3.pb
  # A video model: input `input` of clips [batch, num_frames, size, size, 3]:
  python export_inference_graph.py --model_name=i3d --is_video_model --num_frames=16 \
      --output_file=/tmp/i3d.pb
  # A SavedModel and a TFLite file with the weights of a checkpoint:
  python export_inference_graph.py --model_name=lenet --dataset_name=mnist5k \
      --dataset_dir=/tmp/mnist5k --checkpoint_path=/tmp/lenet \
      --saved_model_dir=/tmp/lenet_saved_model --tflite_file=/tmp/lenet.tflite

Installed (`pip install .`), `slimbench-export` is this script: the same flags.
"""

import sys

from absl import flags
from absl import logging

from slimbench import export
from slimbench import export_flags
from slimbench import files
from slimbench import usage

for name in export_flags.define_export_flags(flags.FLAGS):
  flags.declare_key_flag(name)


def main(argv):
  if len(argv) > 1:
    sys.exit(f'{usage.program()}: unexpected arguments {argv[1:]}')
  try:
    export.export(export_flags.read_export_config(flags.FLAGS))
  except (ValueError, files.UnwritableError) as error:
    logging.error('%s', error)
    sys.exit(f'{usage.program()}: {error}')



def run():
  """The console command's entry point."""
  usage.run(main)
