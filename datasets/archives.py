"""Safe reading of dataset archives: tar members, extraction, and CIFAR's pickles.

A downloaded archive is data, never code or a map of where to write. Tar members whose
names are absolute or climb out with '..', links and device files are refused before
anything is written. Python pickles (the CIFAR 'python version' archives) are read by an
unpickler that can build nothing but plain containers, bytes/str/numbers and numeric numpy
arrays: the arrays are rebuilt from raw bytes and a checked dtype, so no numpy or Python
callable ever runs on the pickle's say-so.

Usage:
  for name, data in archives.iter_tar(path):        # streamed, every member checked
    ...
  archives.safe_extract(path, dest_dir)              # all or nothing
  index = archives.index_tar(path)                   # uncompressed tars: name -> (offset, size)
  batch = archives.restricted_unpickle(data, 'cifar-10-python.tar.gz:data_batch_1')
"""

import io
import os
import pickle
import posixpath
import shutil
import tarfile

import numpy as np


class ArchiveError(ValueError):
  """An archive is damaged or holds something a dataset archive must not."""


def check_member(member, archive_name):
  """Raises ArchiveError unless `member` is a regular file or folder with a safe name."""
  name = member.name
  if name.startswith(('/', '\\')) or (len(name) > 1 and name[1] == ':'):
    raise ArchiveError(f'{archive_name}: member {name!r} has an absolute path; refusing '
                       'to read the archive')
  if '..' in name.replace('\\', '/').split('/'):
    raise ArchiveError(f"{archive_name}: member {name!r} climbs out with '..'; refusing to "
                       'read the archive')
  if not (member.isfile() or member.isdir()):
    kind = 'link' if (member.issym() or member.islnk()) else 'special file'
    raise ArchiveError(f'{archive_name}: member {name!r} is a {kind}; dataset archives '
                       'hold only files and folders')


def _open_tar(path, mode):
  try:
    return tarfile.open(path, mode)
  except (tarfile.TarError, OSError, EOFError) as e:
    raise ArchiveError(f'{path}: not a readable tar archive ({e})') from None


def iter_tar(path, wanted=None):
  """Yields (member name, bytes) of the files in a tar archive (any compression), in order.

  Args:
    path: the archive.
    wanted: optional predicate on the member name; other files are skipped unread.

  Raises:
    ArchiveError: the archive is truncated or corrupt, or a member is unsafe.
  """
  with _open_tar(path, 'r|*') as tar:
    members = 0
    try:
      for member in tar:
        check_member(member, path)
        members += 1
        if member.isfile() and (wanted is None or wanted(member.name)):
          yield member.name, tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as e:
      raise ArchiveError(f'{path}: truncated or corrupt archive ({e})') from None
    # tarfile takes a stream that stops where a header should start for the end of the
    # archive; a complete archive has its end marker there, a whole block of zeros.
    if tar.fileobj.tell() - tar.offset < tarfile.BLOCKSIZE:
      raise ArchiveError(f'{path}: truncated archive (it stops after {members} member(s), '
                         'without the end-of-archive marker); download it again')


def safe_extract(path, dest_dir):
  """Extracts the whole archive into `dest_dir`, which appears only once complete.

  Every member is checked before anything is written; extraction goes to a hidden
  sibling folder that is renamed to `dest_dir` at the end.
  """
  parent = os.path.dirname(os.path.abspath(dest_dir))
  partial = os.path.join(parent, f'.{os.path.basename(dest_dir)}.incomplete')
  shutil.rmtree(partial, ignore_errors=True)
  with _open_tar(path, 'r:*') as tar:
    try:
      members = tar.getmembers()
      for member in members:
        check_member(member, path)
      os.makedirs(partial)
      tar.extractall(partial, members=members, filter='data')
    except (tarfile.TarError, OSError, EOFError) as e:
      shutil.rmtree(partial, ignore_errors=True)
      raise ArchiveError(f'{path}: truncated or corrupt archive ({e})') from None
  os.replace(partial, dest_dir)


class _FileSlice(io.RawIOBase):
  """A read-only window [offset, offset + size) of an open binary file."""

  def __init__(self, f, offset, size):
    super().__init__()
    self._f, self._offset, self._size, self._position = f, offset, size, 0

  def readable(self):
    return True

  def seekable(self):
    return True

  def tell(self):
    return self._position

  def seek(self, position, whence=0):
    base = {0: 0, 1: self._position, 2: self._size}[whence]
    self._position = max(0, base + position)
    return self._position

  def readinto(self, buffer):
    count = max(0, min(len(buffer), self._size - self._position))
    self._f.seek(self._offset + self._position)
    data = self._f.read(count)
    buffer[:len(data)] = data
    self._position += len(data)
    return len(data)


def index_tar(path, offset=0, size=None, _file=None):
  """Maps each file of an uncompressed tar to (absolute offset of its data, size).

  Nothing is extracted: workers read an image with one seek. Members that are themselves
  uncompressed tars (ILSVRC2012_img_train.tar holds one tar per synset) are indexed when
  listed with `index_nested_tars`.
  """
  owns = _file is None
  f = open(path, 'rb') if owns else _file  # pylint: disable=consider-using-with
  try:
    if size is None:
      size = os.fstat(f.fileno()).st_size - offset
    index = {}
    try:
      with tarfile.open(fileobj=_FileSlice(f, offset, size), mode='r:') as tar:
        for member in tar:
          check_member(member, path)
          if member.isfile():
            if member.offset_data + member.size > size:
              raise ArchiveError(f'{path}: truncated archive (member {member.name!r} cut '
                                 'short)')
            index[member.name] = (offset + member.offset_data, member.size)
    except (tarfile.TarError, OSError, EOFError) as e:
      raise ArchiveError(f'{path}: not an uncompressed tar archive or corrupt ({e})') from None
    return index
  finally:
    if owns:
      f.close()


def index_nested_tars(path, outer_index):
  """Indexes every '.tar' member of an uncompressed tar: member name -> its own index."""
  nested = {}
  with open(path, 'rb') as f:
    for name, (offset, size) in outer_index.items():
      if name.endswith('.tar'):
        nested[name] = index_tar(f'{path}:{name}', offset, size, _file=f)
  return nested


def read_range(path, offset, size):
  """`size` bytes of `path` from `offset` (a member found by `index_tar`)."""
  with open(path, 'rb') as f:
    f.seek(offset)
    data = f.read(size)
  if len(data) != size:
    raise ArchiveError(f'{path}: truncated archive (expected {size} bytes at {offset})')
  return data


# --- CIFAR's pickles ---------------------------------------------------------------------

# The globals a pickled numpy array needs (numpy 1.x and 2.x module names); nothing else.
_RECONSTRUCT = {('numpy.core.multiarray', '_reconstruct'),
                ('numpy._core.multiarray', '_reconstruct')}
_SCALAR = {('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar')}
_NDARRAY = {('numpy', 'ndarray')}
_DTYPE = {('numpy', 'dtype')}
# Python 3 writes bytes at protocol 2 as _codecs.encode(text, 'latin1').
_CODECS_ENCODE = {('_codecs', 'encode')}
_NUMERIC_KINDS = 'biuf'  # bool, signed, unsigned, float: no objects, strings or records.


class _NDArrayType:
  """Stands for numpy.ndarray in a pickle; cannot be called to build anything."""

  def __new__(cls, *args):
    raise pickle.UnpicklingError('the pickle calls numpy.ndarray directly')


class _DTypeSpec:
  """A dtype named by the pickle; checked before numpy sees it."""

  def __init__(self, spec, align=False, copy=True):
    del align, copy
    if not isinstance(spec, (str, bytes)):
      raise pickle.UnpicklingError(f'the pickle asks for a dtype from {type(spec).__name__}')
    spec = spec.decode('ascii') if isinstance(spec, bytes) else spec
    try:
      dtype = np.dtype(spec)
    except TypeError:
      raise pickle.UnpicklingError(f'the pickle asks for an unknown dtype {spec!r}') from None
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype:
      raise pickle.UnpicklingError(f'the pickle asks for a non-numeric dtype {spec!r}')
    self.dtype = dtype

  def __setstate__(self, state):
    # (version, byte order, subarray, names, fields, elsize, alignment, flags): only the
    # byte order may differ from the name; anything structured is refused.
    if not isinstance(state, tuple) or len(state) < 5 or state[2] is not None or (
        state[3] is not None) or state[4] is not None:
      raise pickle.UnpicklingError('the pickle gives a dtype a structured state')
    byte_order = state[1].decode('latin1') if isinstance(state[1], bytes) else state[1]
    if byte_order in ('<', '>'):
      self.dtype = self.dtype.newbyteorder(byte_order)


class _ArrayProxy:
  """An ndarray under construction: keeps the pickled state, builds nothing itself."""

  def __init__(self):
    self.state = None

  def __setstate__(self, state):
    self.state = state

  def build(self):
    if not (isinstance(self.state, tuple) and len(self.state) == 5):
      raise pickle.UnpicklingError('an array in the pickle has no valid state')
    _, shape, dtype_spec, is_fortran, raw = self.state
    if not isinstance(dtype_spec, _DTypeSpec):
      raise pickle.UnpicklingError('an array in the pickle has no checked dtype')
    if not (isinstance(shape, tuple) and all(isinstance(d, int) and d >= 0 for d in shape)):
      raise pickle.UnpicklingError(f'an array in the pickle has shape {shape!r}')
    if isinstance(raw, str):  # Python 2 pickles read with encoding='latin1'
      raw = raw.encode('latin1')
    if not isinstance(raw, (bytes, bytearray)):
      raise pickle.UnpicklingError('an array in the pickle has non-byte contents')
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) != count * dtype_spec.dtype.itemsize:
      raise pickle.UnpicklingError(f'an array in the pickle has {len(raw)} bytes for shape '
                                   f'{shape} of {dtype_spec.dtype}')
    array = np.frombuffer(bytes(raw), dtype=dtype_spec.dtype)
    return array.reshape(shape, order='F' if is_fortran else 'C').copy()


def _reconstruct(subtype, shape, dtype):
  del shape
  if subtype is not _NDArrayType or not isinstance(dtype, (bytes, str)):
    raise pickle.UnpicklingError('the pickle reconstructs something other than an ndarray')
  return _ArrayProxy()


def _latin1_encode(text, encoding='latin1'):
  if not isinstance(text, str) or encoding not in ('latin1', 'latin-1'):
    raise pickle.UnpicklingError('the pickle calls _codecs.encode other than for bytes')
  return text.encode('latin1')


def _scalar(dtype_spec, raw):
  if not isinstance(dtype_spec, _DTypeSpec) or not isinstance(raw, (bytes, str)):
    raise pickle.UnpicklingError('the pickle builds a numpy scalar from unchecked parts')
  raw = raw.encode('latin1') if isinstance(raw, str) else raw
  if len(raw) != dtype_spec.dtype.itemsize:
    raise pickle.UnpicklingError('a numpy scalar in the pickle has the wrong size')
  return np.frombuffer(raw, dtype=dtype_spec.dtype)[0]


class _RestrictedUnpickler(pickle.Unpickler):

  def find_class(self, module, name):
    if (module, name) in _RECONSTRUCT:
      return _reconstruct
    if (module, name) in _NDARRAY:
      return _NDArrayType
    if (module, name) in _DTYPE:
      return _DTypeSpec
    if (module, name) in _SCALAR:
      return _scalar
    if (module, name) in _CODECS_ENCODE:
      return _latin1_encode
    raise pickle.UnpicklingError(f'the pickle tries to build {module}.{name}; only plain '
                                 'containers and numeric numpy arrays are allowed')

  def persistent_load(self, pid):
    raise pickle.UnpicklingError('the pickle refers to persistent objects')


def _finish(value, done):
  """Replaces every array proxy in `value` by its array; containers are rebuilt in place."""
  key = id(value)
  if key in done:
    return done[key]
  if isinstance(value, _ArrayProxy):
    done[key] = value.build()
  elif isinstance(value, _DTypeSpec):
    done[key] = value.dtype
  elif isinstance(value, list):
    done[key] = value
    value[:] = [_finish(v, done) for v in value]
  elif isinstance(value, dict):
    done[key] = value
    items = [(_finish(k, done), _finish(v, done)) for k, v in value.items()]
    value.clear()
    value.update(items)
  elif isinstance(value, (tuple, set, frozenset)):
    done[key] = type(value)(_finish(v, done) for v in value)
  else:
    done[key] = value
  return done[key]


def restricted_unpickle(data, source_name):
  """Loads a pickle that may hold only containers, scalars and numeric numpy arrays.

  Python 2 pickles (CIFAR's) are read with encoding='bytes': their str keys come back
  as bytes, e.g. b'data', b'labels'.

  Raises:
    ArchiveError: naming `source_name`, when the pickle is corrupt or wants to build
      anything else.
  """
  try:
    raw = _RestrictedUnpickler(io.BytesIO(data), encoding='bytes').load()
    return _finish(raw, {})
  except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
          IndexError, KeyError, MemoryError) as e:
    raise ArchiveError(f'{source_name}: refused or unreadable pickle ({e})') from None


def member_basename(name):
  """The last path component of a tar member name."""
  return posixpath.basename(name.rstrip('/'))
