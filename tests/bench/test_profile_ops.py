"""bench/profile_ops.py run as the docs show it, on a small net."""

import os
import re
import subprocess
import sys

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_one_op_at_a_time_makes_the_op_times_shares_of_the_step():
  run = subprocess.run(
      [sys.executable, os.path.join(_REPO, 'bench', 'profile_ops.py'), '--net=lenet',
       '--batch_size=2', '--traced_steps=1', '--inter_op_threads=1', '--top=50'],
      capture_output=True, text=True, timeout=300, check=False)
  assert run.returncode == 0, run.stderr[-2000:]
  wall, summed = map(float, re.search(r'traced step (\S+) ms wall, (\S+) ms summed',
                                      run.stdout).groups())
  # Ops that never overlap cannot add up to more than the step they ran in.
  assert 0 < summed <= wall
  assert re.search(r'^\| Conv2D|^\| _Mkl\w*Conv2D', run.stdout, re.MULTILINE), run.stdout
