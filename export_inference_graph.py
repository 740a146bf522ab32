"""Exports a registered network for inference: GraphDef, SavedModel, TFLite.

The flags and the usage are in slimbench/commands/export.py (`--help` prints them);
installed, the same command is `slimbench-export`.
"""

from slimbench.commands import export

if __name__ == '__main__':
  export.run()
