"""Fetching source archives: use what is on disk, else download with resume and SHA-256.

A file already in the dataset folder under its official name is used as it is, after its
SHA-256 is checked; nothing is downloaded then. With `verify_checksums=False`
(--noverify_checksums) such a file is used even when it is not the published bytes (a
re-packed archive, a subset, your own files in the same format), with a warning; the caller
records that it was not verified. A download is always checked: a mismatch there is a
broken transfer, and it is deleted. A download goes to `NAME.part`, continues
from where an interrupted one stopped (HTTP Range), tries the mirrors in order, is checked
against the SHA-256 and only then renamed to `NAME`. Without network the error says which
file to put where by hand.

Usage:
  path = download.fetch(download.RemoteFile(
      'cifar-10-binary.tar.gz', sha256='c4a3...', size=170052171,
      urls=('https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',)), dataset_dir)
"""

import dataclasses
import os
import sys
import time
import urllib.error
import urllib.request

from absl import logging

from . import dataset_utils

_CHUNK = 1 << 20
_TIMEOUT_SECONDS = 60


class DownloadError(OSError):
  """A file could not be fetched; the message says what to place where by hand."""


class ChecksumError(ValueError):
  """A file's SHA-256 differs from the published one."""


@dataclasses.dataclass(frozen=True)
class LocalFile:
  """A file on disk standing for a published one.

  Attributes:
    path: where it is.
    sha256: the SHA-256 of its bytes.
    official: whether those bytes are the published file's.
  """
  path: str
  sha256: str
  official: bool


@dataclasses.dataclass(frozen=True)
class RemoteFile:
  """A published file: official name, SHA-256, size in bytes and mirror URLs in order."""
  filename: str
  sha256: str
  size: int
  urls: tuple


UNVERIFIED_HINT = ('delete or replace it, or convert it unverified with '
                   '--noverify_checksums')


def unverified_warning(path, difference):
  logging.warning('%s %s: not the official file; converting it unverified '
                  '(--noverify_checksums)', path, difference)


def _difference(path, remote):
  """(SHA-256 of `path`, how it differs from `remote` or None when it is the same)."""
  size = os.path.getsize(path)
  actual = dataset_utils.sha256_of(path)
  if size != remote.size:
    return actual, f'has {size} bytes, the official {remote.filename} has {remote.size}'
  if actual != remote.sha256:
    return actual, f'has SHA-256 {actual}, expected {remote.sha256}'
  return actual, None


def verify(path, remote):
  """Raises ChecksumError naming `path` unless it is `remote` byte for byte."""
  check(path, remote, verify_checksums=True)


def check(path, remote, verify_checksums=True):
  """The `LocalFile` of `path`, compared with the published `remote`.

  Raises:
    ChecksumError: `path` is not `remote` byte for byte and `verify_checksums` is True.
      Otherwise a difference is a warning, and `official` is False.
  """
  actual, difference = _difference(path, remote)
  if difference and verify_checksums:
    raise ChecksumError(f'{path} {difference}: a damaged or different file; '
                        f'{UNVERIFIED_HINT}')
  if difference:
    unverified_warning(path, difference)
  return LocalFile(path, actual, official=difference is None)


def _by_hand(remote, dataset_dir, reason):
  return (f'cannot download {remote.filename} ({reason}); place the file in {dataset_dir} '
          f'by hand (from {remote.urls[0]}, SHA-256 {remote.sha256}) and run again')


class _Progress:
  """Download progress on stderr: in place on a terminal, every 10% otherwise."""

  def __init__(self, name, total, done):
    self.name, self.total, self.start_bytes = name, total, done
    self.start = time.monotonic()
    self.last_tenth = -1
    self.tty = sys.stderr.isatty()

  def update(self, done):
    fraction = done / self.total if self.total else 1.0
    seconds = max(time.monotonic() - self.start, 1e-6)
    speed = (done - self.start_bytes) / seconds / 1e6
    line = (f'{self.name}: {done / 1e6:.1f}/{self.total / 1e6:.1f} MB '
            f'({100 * fraction:.0f}%), {speed:.1f} MB/s')
    if self.tty:
      sys.stderr.write('\r' + line)
      if done >= self.total:
        sys.stderr.write('\n')
    elif int(fraction * 10) > self.last_tenth:
      self.last_tenth = int(fraction * 10)
      logging.info(line)


def _download(url, part_path, remote):
  """Appends to `part_path` from `url` until it has `remote.size` bytes."""
  have = os.path.getsize(part_path) if os.path.exists(part_path) else 0
  if have > remote.size:
    os.remove(part_path)
    have = 0
  if have == remote.size:
    return  # complete, interrupted before its check
  request = urllib.request.Request(url, headers={'User-Agent': 'slimbench'})
  if have:
    request.add_header('Range', f'bytes={have}-')
  with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:
    if have and response.status != 206:
      have = 0  # the server ignored the range: start over
    progress = _Progress(remote.filename, remote.size, have)
    with open(part_path, 'ab' if have else 'wb') as out:
      done = have
      for chunk in iter(lambda: response.read(_CHUNK), b''):
        out.write(chunk)
        done += len(chunk)
        progress.update(done)
  if os.path.getsize(part_path) < remote.size:
    raise DownloadError(f'connection closed at {os.path.getsize(part_path)} of '
                        f'{remote.size} bytes')


def fetch(remote, dataset_dir, verify_checksums=True):
  """Returns the path of `remote.filename` in `dataset_dir`, downloading it if missing.

  See `fetch_file`.
  """
  return fetch_file(remote, dataset_dir, verify_checksums).path


def fetch_file(remote, dataset_dir, verify_checksums=True):
  """The `LocalFile` of `remote.filename` in `dataset_dir`, downloading it if missing.

  Raises:
    ChecksumError: the download is not the published file (it is deleted), or the file on
      disk is not and `verify_checksums` is True (it is left alone).
    DownloadError: no mirror could be reached; the message names the file to place.
  """
  os.makedirs(dataset_dir, exist_ok=True)
  path = os.path.join(dataset_dir, remote.filename)
  if os.path.exists(path):
    return check(path, remote, verify_checksums)
  part_path = path + '.part'
  reasons = []
  for url in remote.urls:
    try:
      logging.info('downloading %s from %s', remote.filename, url)
      _download(url, part_path, remote)
      break
    except (urllib.error.URLError, OSError, ValueError) as e:
      reason = getattr(e, 'reason', None) or e
      reasons.append(f'{url}: {reason}')
  else:
    raise DownloadError(_by_hand(remote, dataset_dir, '; '.join(reasons)))
  _, difference = _difference(part_path, remote)
  if difference:
    os.remove(part_path)
    raise ChecksumError(f'downloaded {remote.filename} is damaged, deleted it (it '
                        f'{difference}); run again or place the file by hand')
  os.replace(part_path, path)
  return LocalFile(path, remote.sha256, official=True)
