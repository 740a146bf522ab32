"""Dataset conversion (download_and_convert_data.py) and tf.data readers (dataset_factory)."""
