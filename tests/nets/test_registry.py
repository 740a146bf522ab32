"""The registration idiom: the example registry.py gives, and every family following it."""

import ast
import importlib
import inspect
import textwrap

import tensorflow as tf

from nets import nets_factory
from nets import registry
from nets import vgg

tf1 = tf.compat.v1


def _docstring_example():
  """The indented code block of registry.py's docstring."""
  lines = registry.__doc__.splitlines()
  start = next(i for i, line in enumerate(lines) if line.startswith('    @registry.register('))
  end = next(i for i in range(start, len(lines)) if lines[i] and not lines[i].startswith(' '))
  return textwrap.dedent('\n'.join(lines[start:end]))


def _variable_shapes(builder):
  with tf.Graph().as_default():
    builder(tf1.placeholder(tf.float32, [1, 224, 224, 3]), num_classes=7)
    return [(v.op.name, v.shape.as_list()) for v in tf1.global_variables()]


def test_the_docstring_example_registers_a_builder_like_vggs(monkeypatch):
  monkeypatch.setattr(registry, '_MODELS', {})
  namespace = dict(vars(vgg))
  exec(_docstring_example(), namespace)  # pylint: disable=exec-used
  info = registry.registered_models()['vgg_16']
  assert info.builder is namespace['vgg_16']
  assert info.builder.default_image_size == 224
  assert (info.preprocessing, info.num_classes, info.logits_scope) == (
      'vgg', 1000, 'vgg_16/fc8')
  assert inspect.signature(info.builder) == inspect.signature(vgg.vgg_16)
  assert _variable_shapes(info.builder) == _variable_shapes(vgg.vgg_16)


def _register_decorator_name(function):
  """The name in `@registry.register('<name>', ...)` on `function`, or None."""
  for decorator in function.decorator_list:
    if (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute) and
        decorator.func.attr == 'register' and
        isinstance(decorator.func.value, ast.Name) and decorator.func.value.id == 'registry' and
        decorator.args and isinstance(decorator.args[0], ast.Constant)):
      return decorator.args[0].value
  return None


def test_every_registered_name_is_a_top_level_def_decorated_with_it():
  """`grep -rn "def <name>(" nets/` finds every model, and they are all registered alike."""
  wrong = []
  for name in nets_factory.list_models():
    module_name = nets_factory.model_info(name).builder.__module__
    tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    if name not in functions:
      wrong.append(f'{name}: no top-level "def {name}(" in {module_name}')
    elif _register_decorator_name(functions[name]) != name:
      wrong.append(f'{name}: "def {name}(" in {module_name} is not decorated with '
                   f'@registry.register({name!r}, ...)')
  assert not wrong, '\n'.join(wrong)
