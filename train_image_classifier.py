"""Trains a registered network on a converted dataset, with TF-Slim's flags.

The flags and the usage are in slimbench/commands/train.py (`--help` prints them);
installed, the same command is `slimbench-train`.
"""

from slimbench.commands import train

if __name__ == '__main__':
  train.run()
