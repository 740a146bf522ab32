"""The parts of bench/compare_peers.py that need no peer installed: the table, the ratios,
the thread counts a probe tries, and how a missing peer is reported."""

import importlib.util
import os

import pytest

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), 'bench', 'compare_peers.py')


@pytest.fixture(scope='module')
def compare_peers():
  spec = importlib.util.spec_from_file_location('compare_peers', _PATH)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_table_puts_every_peer_side_by_side_with_ratios(compare_peers):
  peers = ['ours', 'tf_slim', 'keras', 'pytorch']
  rows = [{'net': 'resnet_v1_50', 'size': 224, 'pytorch_threads': 2,
           'medians': {'ours': 6.0, 'tf_slim': 5.0, 'keras': 4.0, 'pytorch': 8.0}},
          {'net': 'alexnet_v2', 'size': 224, 'pytorch_threads': 1,
           'medians': {'ours': 40.0, 'tf_slim': 20.0, 'pytorch': 32.0}}]
  header, rule, resnet, alexnet = compare_peers.table_lines(peers, rows)
  assert header == ('| net | size | ours img/s | tf_slim img/s | keras img/s | pytorch img/s | '
                    'ours / tf_slim | ours / keras | ours / pytorch | pytorch threads |')
  assert rule == '|' + '---|' * 10
  assert resnet == ('| resnet_v1_50 | 224 | 6.00 | 5.00 | 4.00 | 8.00 | 1.20 | 1.50 | 0.75 | '
                    '2 (interop 1) |')
  # A peer without this net (Keras has no AlexNet) shows a dash, not a ratio.
  assert alexnet == ('| alexnet_v2 | 224 | 40.00 | 20.00 | — | 32.00 | 2.00 | — | 1.25 | '
                     '1 (interop 1) |')


def test_table_without_pytorch_has_no_thread_column(compare_peers):
  rows = [{'net': 'vgg_16', 'size': 224, 'medians': {'tf_slim': 2.0}, 'pytorch_threads': None}]
  header, _, vgg = compare_peers.table_lines(['ours', 'tf_slim'], rows)
  assert header == '| net | size | ours img/s | tf_slim img/s | ours / tf_slim |'
  # Ours failed to measure: no ratio either.
  assert vgg == '| vgg_16 | 224 | — | 2.00 | — |'


@pytest.mark.parametrize('cores, expected', [(1, [1]), (2, [1, 2]), (4, [1, 2, 3, 4]),
                                             (16, [1, 2, 4, 8, 15, 16])])
def test_thread_probe_tries_powers_of_two_and_the_core_counts(compare_peers, cores, expected):
  assert compare_peers.thread_candidates(cores) == expected


def test_a_peer_not_installed_names_its_set_up_step(compare_peers, monkeypatch):
  monkeypatch.setitem(compare_peers.PEER_MODULES, 'pytorch',
                      ('torch', 'a_module_that_is_not_installed'))
  assert compare_peers.missing_peers(['keras', 'pytorch']) == {
      'pytorch': 'bench/setup_peers.sh'}


def test_every_peer_model_is_a_registered_net(compare_peers):
  from nets import nets_factory  # pylint: disable=g-import-not-at-top
  for peer, models in compare_peers.PEER_MODELS.items():
    for net in models:
      assert nets_factory.model_info(net).default_image_size, (peer, net)
