"""Downloads: files on disk are used, resume works, checksums and offline errors are clear."""

import hashlib
import http.server
import os
import socket
import threading

import pytest

from datasets import download

PAYLOAD = os.urandom(300_000)
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


class _RangeHandler(http.server.BaseHTTPRequestHandler):
  """Serves PAYLOAD at /data.bin, honouring 'Range: bytes=N-' as a resuming client sends."""
  requests = []

  def do_GET(self):  # pylint: disable=invalid-name
    type(self).requests.append((self.path, self.headers.get('Range')))
    if self.path != '/data.bin':
      self.send_error(404)
      return
    start = 0
    if self.headers.get('Range'):
      start = int(self.headers['Range'].split('=')[1].rstrip('-'))
      self.send_response(206)
      self.send_header('Content-Range', f'bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}')
    else:
      self.send_response(200)
    self.send_header('Content-Length', str(len(PAYLOAD) - start))
    self.end_headers()
    self.wfile.write(PAYLOAD[start:])

  def log_message(self, *args):
    pass


@pytest.fixture
def server():
  _RangeHandler.requests = []
  httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _RangeHandler)
  thread = threading.Thread(target=httpd.serve_forever, daemon=True)
  thread.start()
  yield f'http://127.0.0.1:{httpd.server_address[1]}'
  httpd.shutdown()
  httpd.server_close()


def _closed_port_url():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return f'http://127.0.0.1:{s.getsockname()[1]}/data.bin'


def _remote(*urls, sha256=SHA256):
  return download.RemoteFile('data.bin', sha256, len(PAYLOAD), tuple(urls))


def test_download_is_checked_and_renamed(tmp_path, server):
  path = download.fetch(_remote(f'{server}/missing', f'{server}/data.bin'), str(tmp_path))
  assert open(path, 'rb').read() == PAYLOAD
  assert sorted(os.listdir(tmp_path)) == ['data.bin']
  assert [p for p, _ in _RangeHandler.requests] == ['/missing', '/data.bin']


def test_partial_download_resumes_from_where_it_stopped(tmp_path, server):
  (tmp_path / 'data.bin.part').write_bytes(PAYLOAD[:123_456])
  path = download.fetch(_remote(f'{server}/data.bin'), str(tmp_path))
  assert open(path, 'rb').read() == PAYLOAD
  assert _RangeHandler.requests == [('/data.bin', 'bytes=123456-')]


def test_file_already_in_dataset_dir_is_used_without_downloading(tmp_path, no_network):
  (tmp_path / 'data.bin').write_bytes(PAYLOAD)
  assert download.fetch(_remote('http://unused.invalid/data.bin'), str(tmp_path)) == str(
      tmp_path / 'data.bin')


def test_wrong_checksum_of_a_placed_file_is_named_and_the_file_kept(tmp_path, no_network):
  (tmp_path / 'data.bin').write_bytes(PAYLOAD[:-1] + b'\x00')
  with pytest.raises(download.ChecksumError, match=r'data\.bin has SHA-256 [0-9a-f]+, '
                                                   f'expected {SHA256}'):
    download.fetch(_remote('http://unused.invalid/data.bin'), str(tmp_path))
  assert (tmp_path / 'data.bin').exists()


@pytest.mark.parametrize('verify_checksums', [True, False])
def test_wrong_checksum_of_a_download_deletes_it(tmp_path, server, verify_checksums):
  with pytest.raises(download.ChecksumError, match='downloaded data.bin is damaged'):
    download.fetch(_remote(f'{server}/data.bin', sha256='0' * 64), str(tmp_path),
                   verify_checksums)
  assert os.listdir(tmp_path) == []


def test_noverify_uses_a_placed_file_that_differs_and_says_so(tmp_path, no_network, caplog):
  (tmp_path / 'data.bin').write_bytes(PAYLOAD[:-1] + b'\x00')
  local = download.fetch_file(_remote('http://unused.invalid/data.bin'), str(tmp_path),
                              verify_checksums=False)
  assert (local.path, local.official) == (str(tmp_path / 'data.bin'), False)
  assert local.sha256 == hashlib.sha256(PAYLOAD[:-1] + b'\x00').hexdigest()
  assert (f'{tmp_path / "data.bin"} has SHA-256 {local.sha256}, expected {SHA256}: not the '
          'official file; converting it unverified (--noverify_checksums)') in caplog.text


def test_offline_error_names_the_file_to_place_by_hand(tmp_path):
  with pytest.raises(download.DownloadError) as error:
    download.fetch(_remote(_closed_port_url()), str(tmp_path))
  message = str(error.value)
  assert '\n' not in message
  assert 'cannot download data.bin' in message
  assert f'place the file in {tmp_path} by hand' in message
  assert SHA256 in message
  assert not (tmp_path / 'data.bin').exists()
