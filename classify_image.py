"""Classifies image files with a checkpoint or an exported SavedModel: any size, and any

The flags and the usage are in slimbench/commands/classify.py (`--help` prints them);
installed, the same command is `slimbench-classify`.
"""

from slimbench.commands import classify

if __name__ == '__main__':
  classify.run()
