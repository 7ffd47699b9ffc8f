"""Torch CPU threads vs fine-tuning time: the measurement behind the command line's ``--threads 1`` default.

Usage:
    python benchmarks/bench_threads.py                 # 3 rounds of: 1 thread, torch's default
    python benchmarks/bench_threads.py --rounds 5 --threads 1,2,0

Each run is a fresh process (the thread count is process-wide) that fine-tunes the shipped ``lite0`` spatial model
for 5 iterations, batch 4, 224² on 8 random 320×240 frames, and prints the seconds and the 1-minute load average.
``0`` means torch's default (one thread per core). Runs alternate, so a change of load hits every setting alike.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

_ONE = r"""
import os, sys, time, torch
n = int(sys.argv[1])
if n:
    torch.set_num_threads(n)
from vsodboost import plugins
from vsodboost.config import FinetuneConfig
from vsodboost.spatial.finetune import finetune
model = plugins.spatial_models().create("lite0")
g = torch.Generator().manual_seed(0)
x = torch.randint(0, 256, (8, 3, 240, 320), dtype=torch.uint8, generator=g)
y = torch.rand(8, 240, 320, generator=g)
t = time.perf_counter()
finetune(model, x, y, FinetuneConfig(iterations=5, batch_size=4, input_size=224), seed=0)
print(torch.get_num_threads(), round(time.perf_counter() - t, 2), round(os.getloadavg()[0], 2))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="runs per setting")
    ap.add_argument("--threads", default="1,0", help="comma-separated thread counts (0: torch's default)")
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    print(f"cores: {os.cpu_count()}; load before: {os.getloadavg()[0]:.2f}")
    print("| threads | seconds | load (1 min) |\n|---|---|---|")
    for _ in range(args.rounds):
        for n in args.threads.split(","):
            out = subprocess.run([sys.executable, "-c", _ONE, n], capture_output=True, text=True, env=env, check=True)
            threads, secs, load = out.stdout.split()
            print(f"| {threads}{' (default)' if n == '0' else ''} | {secs} | {load} |", flush=True)


if __name__ == "__main__":
    main()
