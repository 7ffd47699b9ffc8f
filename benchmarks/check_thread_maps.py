"""Do the maps depend on the torch thread count? (docs/threads.md, "Maps depend on the thread count")

    OMP_NUM_THREADS=1 python benchmarks/check_thread_maps.py [--preset fast] [--frames 20] [--threads 1 1 2]
        [--sequence blackswan] [--device cpu]

Boosts the first ``--frames`` frames of a DAVIS-2016 sequence with PDB's published maps as the target, once
per entry of ``--threads``, each in a fresh process (``Booster(threads=n)``; ``OMP_NUM_THREADS`` set to ``n``
too), and compares the maps as written (uint8): sha256 per run, and against the first run the largest
difference, the pixels and the frames that differ. Needs ``../shared/data`` (or ``$VSODBOOST_DATA``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def one_run(preset: str, frames: int, threads: int, sequence: str, device: str, out: str) -> None:
    import torch

    from vsodboost import adapters
    from vsodboost.booster import Booster
    from vsodboost.datasets import SHARED_SETS, find_shared_data
    from vsodboost.video import load_video

    data = find_shared_data()
    if data is None:
        sys.exit("no shared data: set VSODBOOST_DATA or place the data at ../shared/data")
    video = load_video(str(data / "DAVIS2016" / "JPEGImages" / "480p" / sequence))[:frames]
    video.name = sequence
    target = adapters.precomputed(SHARED_SETS["davis"].target_maps(data))
    booster = Booster(target, preset=preset, device=device, seed=0, threads=threads)
    t = time.perf_counter()
    res = booster.run(video, name=sequence, progress=False)
    wall = time.perf_counter() - t
    maps = np.stack([np.clip(np.asarray(m) * 255.0 + 0.5, 0, 255).astype(np.uint8) for m in res.maps])
    np.save(out, maps)
    print(json.dumps({"threads": threads, "torch": torch.__version__, "wall_s": round(wall, 1),
                      "load_1min": round(os.getloadavg()[0], 2),
                      "stages_s": {k: round(v, 1) for k, v in res.timings.items()},
                      "sha256": hashlib.sha256(maps.tobytes()).hexdigest()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 1, 2])
    ap.add_argument("--sequence", default="blackswan")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: a single run in this process
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one is not None:
        one_run(args.preset, args.frames, args.one, args.sequence, args.device, args.out)
        return
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, n in enumerate(args.threads):
            out = str(Path(tmp) / f"run{k}.npy")
            env = {**os.environ, "OMP_NUM_THREADS": str(n)}
            cmd = [sys.executable, __file__, "--one", str(n), "--out", out, "--preset", args.preset,
                   "--frames", str(args.frames), "--sequence", args.sequence, "--device", args.device]
            line = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout.strip()
            rep = json.loads(line.splitlines()[-1])
            maps = np.load(out)
            if runs:
                d = np.abs(maps.astype(np.int16) - runs[0][1].astype(np.int16))
                rep["vs_first"] = {"identical": bool((d == 0).all()), "max_diff_of_255": int(d.max()),
                                   "pixels_differing": int((d > 0).sum()), "pixels": int(d.size),
                                   "frames_differing": int((d.reshape(len(d), -1).max(1) > 0).sum())}
            runs.append((rep, maps))
            print(json.dumps(rep), flush=True)
    print(json.dumps({"preset": args.preset, "frames": args.frames, "sequence": args.sequence,
                      "device": args.device, "runs": [r for r, _ in runs]}, indent=1))


if __name__ == "__main__":
    main()
