"""Wall time of ``vsodboost boost`` over DAVIS with the local engine vs Ray with 1 and 2 workers (docs/engines.md).

Usage:
    python benchmarks/bench_engines.py                                   # the 10 DAVIS val sequences, quality preset
    python benchmarks/bench_engines.py --preset fast --sequences blackswan,dog,libby,scooter-black
    python benchmarks/bench_engines.py --engines local,ray:2 --threads 1

Each setting is one fresh ``vsodboost boost`` process (Ray's start-up included, as a user pays it) over the same
sequences, boosting the published PDB maps (``results/PDB/DAVIS2016``) into its own folder under ``--out``, with
``--threads`` torch threads (per worker under Ray). It prints the seconds; the sum of the buffers' timed stages (it
grows over the 1-process figure when workers contend for the cores); the wall time outside buffers (start-up,
Booster builds, shutdown, idle workers at the tail); the 1-minute load average before and after each run; and checks
that every setting wrote byte-identical maps (exit 1 otherwise). Other jobs on the machine slow every setting; judge
the 2-vs-1-worker speed-up only at a load well under the core count.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _maps(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.png"))}


def _buffer_seconds(folder: Path) -> tuple[float, float]:
    """(sum over buffers of their timed stages, longest buffer) from each sequence's ``vsodboost.json``."""
    per = [sum(b["timings"].values()) for f in folder.glob("*/vsodboost.json")
           for b in json.loads(f.read_text())["buffers_done"].values()]
    return sum(per), max(per, default=0.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("VSODBOOST_DATA", DEFAULT_DATA)),
                    help="the shared data root (DAVIS2016/, results/PDB/)")
    ap.add_argument("--sequences", default=None, help="comma-separated DAVIS sequences (default: the val split)")
    ap.add_argument("--preset", default="quality", help="quality (default), fast, paper")
    ap.add_argument("--engines", default="local,ray:1,ray:2", help="settings: local or ray:WORKERS, comma-separated")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process / per Ray worker (default 1)")
    ap.add_argument("--out", type=Path, default=None, help="output root (default: a temporary folder, removed)")
    args = ap.parse_args()

    davis = args.data / "DAVIS2016"
    val = (davis / "ImageSets/480p/val.txt").read_text().split()
    seqs = args.sequences or ",".join(sorted({line.split("/")[3] for line in val if "JPEG" in line}))
    frames = sum(len(list((davis / "JPEGImages/480p" / s).glob("*.jpg"))) for s in seqs.split(","))
    out = args.out or Path(tempfile.mkdtemp(prefix="bench_engines_"))
    env = {**os.environ, "OMP_NUM_THREADS": str(max(args.threads, 1)), "RAY_AUTH_MODE": "disabled"}
    print(f"{len(seqs.split(','))} sequences ({seqs}), {frames} frames; preset {args.preset}; {args.threads} torch "
          f"thread(s) per process/worker; cores: {os.cpu_count()}")
    print("| engine | seconds | frames/s | buffer seconds (sum) | outside buffers | load before | load after |\n"
          "|---|---|---|---|---|---|---|", flush=True)
    results: dict[str, Path] = {}
    for setting in args.engines.split(","):
        engine, _, workers = setting.partition(":")
        dest = out / setting.replace(":", "-")
        if dest.exists():
            shutil.rmtree(dest)
        cmd = [sys.executable, "-m", "vsodboost.cli", "boost", str(davis / "JPEGImages/480p"), "--target",
               f"precomputed:{args.data / 'results/PDB/DAVIS2016'}", "--sequences", seqs, "--out", str(dest),
               "--preset", args.preset, "--device", "cpu", "--threads", str(args.threads), "--quiet",
               "--engine", engine] + (["--workers", workers] if workers else [])
        load0 = os.getloadavg()[0]
        t = time.perf_counter()
        run = subprocess.run(cmd, env=env, capture_output=True, text=True)
        secs = time.perf_counter() - t
        if run.returncode != 0:
            print(run.stdout[-2000:], run.stderr[-4000:], file=sys.stderr)
            return 1
        busy, _ = _buffer_seconds(dest)
        lanes = int(workers) if workers else 1
        # outside buffers: wall time not spent inside a buffer on some worker (start-up, Booster builds, shutdown,
        # idle workers at the tail); buffer seconds grow over the 1-process figure when workers contend for cores
        print(f"| {setting} | {secs:.1f} | {frames / secs:.2f} | {busy:.1f} | {secs - busy / lanes:.1f} | "
              f"{load0:.2f} | {os.getloadavg()[0]:.2f} |", flush=True)
        results[setting] = dest
    ref_name, ref = next(iter(results.items()))
    ref_maps = _maps(ref)
    same = all(_maps(p) == ref_maps for p in results.values())
    print(f"maps byte-identical across {', '.join(results)}: {same} ({len(ref_maps)} maps)")
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
