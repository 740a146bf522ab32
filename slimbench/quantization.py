"""TF-Slim's quantization flags, which TensorFlow 2 cannot honour: one refusal for all.

TF-Slim quantized through tf.contrib.quantize: quantization-aware training
(--quantize_delay) and quantized evaluation and export graphs (--quantize). TensorFlow 2
has no tf.contrib. The flags stay, so that a TF-Slim command line fails in one line that
says why instead of with an unknown flag.
"""


def check_not_requested(requested, flag_name, what, remedy=None):
  """Refuses a quantization that a script's flag asks for.

  Args:
    requested: whether the flag asks for it (--quantize, --quantize_delay >= 0).
    flag_name: the flag, named in the message.
    what: what TF-Slim did with it ('quantized evaluation').
    remedy: what to do instead, appended to the message.

  Raises:
    ValueError: when `requested`, one line naming the flag.
  """
  if requested:
    message = (f'--{flag_name}: {what} used tf.contrib.quantize, which TensorFlow 2 no '
               f'longer has')
    raise ValueError(f'{message}; {remedy}' if remedy else message)
