"""Every recipe in scripts/recipes runs end to end on the built-in dataset (--smoke)."""

import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPES = os.path.join(REPO_ROOT, 'scripts', 'recipes')

CASES = [
    ['train_lenet_on_mnist.sh'],
    ['train_cifarnet_on_cifar10.sh'],
    ['train_alexnet_on_cifar10_adam.sh'],
    ['train_alexnet_paper_on_imagenet.sh'],
    ['train_alexnet_v2_on_imagenet.sh'],
    ['finetune_on_flowers.sh', 'inception_v3'],
    ['finetune_on_flowers.sh', 'resnet_v1_50'],
    ['compare_momentum_adam.sh', 'lenet'],
    ['compare_on_fashion_mnist.sh'],
]


def test_every_recipe_is_tested():
  scripts = {name for name in os.listdir(RECIPES) if name.endswith('.sh')}
  assert scripts - {'common.sh'} == {case[0] for case in CASES}


@pytest.mark.parametrize('case', CASES, ids=lambda case: '-'.join(case))
def test_recipe_smoke_run(case, tmp_path):
  command = ['bash', os.path.join(RECIPES, case[0]), *case[1:], '--smoke',
             f'--work_dir={tmp_path}']
  env = dict(os.environ, PYTHON=sys.executable, PYTHONPATH=REPO_ROOT)
  done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600,
                        check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  checkpoints = [name for _, _, names in os.walk(tmp_path) for name in names
                 if name.endswith('.index')]
  assert checkpoints, 'the recipe wrote no checkpoint'


def test_unknown_argument_is_refused(tmp_path):
  done = subprocess.run(['bash', os.path.join(RECIPES, 'train_lenet_on_mnist.sh'),
                         '--smok'], capture_output=True, text=True, check=False)
  assert done.returncode == 2 and 'unknown argument --smok' in done.stderr
