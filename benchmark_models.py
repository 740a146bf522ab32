"""Trains, times and compares registered networks under identical conditions.

The flags and the usage are in slimbench/commands/benchmark.py (`--help` prints them);
installed, the same command is `slimbench-benchmark`.
"""

from slimbench.commands import benchmark

if __name__ == '__main__':
  benchmark.run()
