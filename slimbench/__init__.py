"""The machinery behind the top-level scripts: training, evaluation, export, benchmarks.

Importing it first sets TensorFlow's runtime defaults, which only take effect before
TensorFlow itself is imported.
"""

import os

# TensorFlow switches its oneDNN kernels on by default only on CPUs with AVX-512 VNNI,
# BF16 or AMX. On AVX2 CPUs they train 1.2x (ResNet-50) to 2x (MobileNet v2) faster than
# the default Eigen kernels (docs/performance.md). TF_ENABLE_ONEDNN_OPTS=0 in the
# environment still turns them off.
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '1')
