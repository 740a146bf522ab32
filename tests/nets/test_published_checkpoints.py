"""The published-checkpoint table: every row names a registered model, and the flags it
prints are flags the training and evaluation scripts accept."""

import shlex

from absl import flags
import pytest

from nets import nets_factory
from nets import published_checkpoints
from slimbench import eval_flags
from slimbench import train_flags

PUBLISHED = published_checkpoints.PUBLISHED


def test_every_published_checkpoint_names_a_registered_model():
  assert set(PUBLISHED) <= set(nets_factory.list_models())


def test_archives_are_checkpoint_archives_at_web_addresses():
  for name, published in PUBLISHED.items():
    assert published.url.startswith(('http://', 'https://')), name
    assert published.archive.endswith(('.tar.gz', '.tgz')), name
    assert 0 < published.top1 < 100, name


def _parse(define, argv):
  fv = flags.FlagValues()
  define(fv)
  fv(['prog', *argv])
  return fv


@pytest.mark.parametrize('name', sorted(PUBLISHED))
def test_printed_flags_parse_and_say_what_the_checkpoint_needs(name):
  info = nets_factory.model_info(name)
  training = _parse(train_flags.define_train_flags,
                    shlex.split(published_checkpoints.fine_tuning_flags(info)))
  assert training.checkpoint_exclude_scopes == info.checkpoint_exclude_scopes
  assert training.train_image_size == PUBLISHED[name].image_size
  evaluating = _parse(eval_flags.define_eval_flags,
                      shlex.split(published_checkpoints.evaluation_flags(info)))
  # TF-Slim's ImageNet records keep label 0 for background: 1000-class checkpoints shift.
  assert evaluating.labels_offset == (1 if info.num_classes == 1000 else 0)


def test_a_model_without_a_published_checkpoint_prints_no_flags():
  info = nets_factory.model_info('lenet')
  assert 'lenet' not in PUBLISHED
  assert published_checkpoints.fine_tuning_flags(info) == ''
  assert published_checkpoints.evaluation_flags(info) == ''
