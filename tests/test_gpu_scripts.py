"""Issue 21, part 5: the GPU scripts fail at once, saying why, where CUDA is absent (hidden here even on a GPU
machine: no test depends on a GPU)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("argv", [["benchmarks/gpu_check.py", "--skip-tests"],
                                  ["benchmarks/bench_booster.py", "--device", "cuda", "--frames", "2"]])
def test_a_gpu_script_without_cuda_exits_2_saying_so(argv, tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "OUT": str(tmp_path / "out")}
    proc = subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "CUDA is not available" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()  # nothing ran
