"""Training images/sec of each --conv_gradients mode, side by side, on this machine.

Each measurement is one `benchmark_models.py --study=throughput --modes=train` process
(training's own step on synthetic images) in a folder of its own; the rounds take the
modes in turn (tensorflow, fast, auto, tensorflow, ...) so that a slow spell of the
machine hits them alike. `auto`'s first process fills the kernel cache: its timing of
the kernels is in that run's build_seconds, never in its timed steps. Prints the CPU, a
Markdown table of medians with the ratios of auto to the fixed modes, and the kernels
auto chose.

Usage (from the repository root, on an otherwise idle machine):
  .venv/bin/python bench/conv_gradient_modes.py --nets=vgg_16,inception_v1,resnet_v1_50 \
      --batch_size=32 --timed_steps=3 --rounds=2
"""

import csv
import os
import statistics
import subprocess
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags  # pylint: disable=g-import-not-at-top

from slimbench import provenance  # pylint: disable=g-import-not-at-top

MODES = ('tensorflow', 'fast', 'auto')

flags.DEFINE_list('nets', ['vgg_16', 'inception_v1', 'resnet_v1_50'], 'Registered names.')
flags.DEFINE_integer('batch_size', 32, 'Images per step.', lower_bound=1)
flags.DEFINE_integer('warmup_steps', 1, 'Untimed steps after the first.', lower_bound=0)
flags.DEFINE_integer('timed_steps', 3, 'Timed steps per measurement.', lower_bound=2)
flags.DEFINE_integer('rounds', 2, 'Rounds of the three modes in turn.', lower_bound=1)


def measure(net, mode, output_dir):
  """(images/sec, conv_gradients column) of one throughput process."""
  command = [sys.executable, os.path.join(REPO_ROOT, 'benchmark_models.py'),
             '--study=throughput', f'--models={net}', '--modes=train',
             f'--batch_sizes={flags.FLAGS.batch_size}',
             f'--warmup_steps={flags.FLAGS.warmup_steps}',
             f'--timed_steps={flags.FLAGS.timed_steps}', f'--conv_gradients={mode}',
             '--noplots', f'--output_dir={output_dir}']
  subprocess.run(command, check=True, capture_output=True, timeout=3600,
                 env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2'))
  with open(os.path.join(output_dir, 'throughput.csv')) as f:
    row, = list(csv.DictReader(f))
  return float(row['images_per_sec']), row['conv_gradients']


def main(argv):
  del argv
  rates = {(net, mode): [] for net in flags.FLAGS.nets for mode in MODES}
  chosen = {}
  with tempfile.TemporaryDirectory() as scratch:
    for round_index in range(flags.FLAGS.rounds):
      for net in flags.FLAGS.nets:
        for mode in MODES:
          folder = os.path.join(scratch, f'{net}-{mode}-{round_index}')
          rate, kernels = measure(net, mode, folder)
          rates[(net, mode)].append(rate)
          if mode == 'auto':
            chosen[net] = kernels
          print(f'round {round_index + 1}: {net} {mode}: {rate:.2f} images/s', flush=True)
  print(f'\nCPU: {provenance.cpu_model()} ({os.cpu_count()} cores), oneDNN '
        f'{provenance.onednn()}; training, batch {flags.FLAGS.batch_size}, synthetic images, '
        f'median of {flags.FLAGS.rounds} interleaved rounds\n')
  print('| net | tensorflow | fast | auto | auto / tensorflow | auto / fast | auto chose |')
  print('|---|---|---|---|---|---|---|')
  for net in flags.FLAGS.nets:
    median = {mode: statistics.median(rates[(net, mode)]) for mode in MODES}
    print(f'| {net} | {median["tensorflow"]:.2f} | {median["fast"]:.2f} | '
          f'{median["auto"]:.2f} | {median["auto"] / median["tensorflow"]:.2f} | '
          f'{median["auto"] / median["fast"]:.2f} | {chosen[net]} |')


if __name__ == '__main__':
  app.run(main)
