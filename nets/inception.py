"""The Inception family in one module, as TF-Slim's `nets.inception` offers it.

Usage:
  from . import inception
  with slim.arg_scope(inception.inception_v3_arg_scope()):
    logits, end_points = inception.inception_v3(images, num_classes=1001)
"""

from .inception_resnet_v2 import inception_resnet_v2
from .inception_resnet_v2 import inception_resnet_v2_arg_scope
from .inception_resnet_v2 import inception_resnet_v2_base
from .inception_utils import inception_arg_scope
from .inception_v1 import inception_v1
from .inception_v1 import inception_v1_arg_scope
from .inception_v1 import inception_v1_base
from .inception_v2 import inception_v2
from .inception_v2 import inception_v2_arg_scope
from .inception_v2 import inception_v2_base
from .inception_v3 import inception_v3
from .inception_v3 import inception_v3_arg_scope
from .inception_v3 import inception_v3_base
from .inception_v4 import inception_v4
from .inception_v4 import inception_v4_arg_scope
from .inception_v4 import inception_v4_base

__all__ = [
    'inception_arg_scope',
    'inception_v1', 'inception_v1_arg_scope', 'inception_v1_base',
    'inception_v2', 'inception_v2_arg_scope', 'inception_v2_base',
    'inception_v3', 'inception_v3_arg_scope', 'inception_v3_base',
    'inception_v4', 'inception_v4_arg_scope', 'inception_v4_base',
    'inception_resnet_v2', 'inception_resnet_v2_arg_scope', 'inception_resnet_v2_base',
]
