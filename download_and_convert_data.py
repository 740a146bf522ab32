"""Downloads and converts a dataset into sharded TFRecords, labels.txt and dataset_info.json.

The flags and the usage are in slimbench/commands/convert.py (`--help` prints them);
installed, the same command is `slimbench-convert`.
"""

from slimbench.commands import convert

if __name__ == '__main__':
  convert.run()
