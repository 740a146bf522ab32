"""Evaluates checkpoints of a registered network: accuracy, recall@5, loss, per class.

The flags and the usage are in slimbench/commands/evaluate.py (`--help` prints them);
installed, the same command is `slimbench-eval`.
"""

from slimbench.commands import evaluate

if __name__ == '__main__':
  evaluate.run()
