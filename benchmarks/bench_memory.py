"""Peak memory of a 100-frame 4K buffer, with and without the working resolution (issue 12, docs/reliability.md).

Usage:
    OMP_NUM_THREADS=1 python benchmarks/bench_memory.py                       # 4000×3000, the default plan
    OMP_NUM_THREADS=1 python benchmarks/bench_memory.py --size 3840x2160 --frames 100 --full-frames 4,8
    OMP_NUM_THREADS=1 python benchmarks/bench_memory.py --baseline-src /path/to/older/checkout

It writes a synthetic clip once into ``--data`` (default: a temporary folder): N JPEG frames (q90) of a textured
background panning right with an ellipse moving across it, and the ellipse's blurred mask as an 8-bit PNG target map
per frame (``precomputed`` maps mode). Each measurement is a fresh process that builds ``Booster(precomputed maps,
preset="fast", threads=1)`` (Lite0 U-Net, 30 fine-tuning iterations at 224², DIS flow at 480 px, the shipped MQPM)
and boosts the first ``frames`` frames as **one buffer** (``buffer_size = frames``) with ``run_to_dir`` (what
``vsodboost boost`` does: 4K PNG maps written), ``run`` followed by ``BoostResult.save`` (``--api run``) or
``Booster.stream`` over the folder with each buffer's maps written as it comes (``--api stream``). It
reports the process's peak resident set size (``ru_maxrss``), the RSS once the models are loaded, the seconds, torch's
thread count and the load average.

Without the working resolution (``work_max_side=0``: every frame, target map and boosted map at full size, as before)
a 100-frame 4000×3000 buffer does not fit in this machine's memory, so it is measured on short buffers
(``--full-frames``, default 4 and 8 frames) and extrapolated linearly to ``--frames``; a run whose estimate exceeds
the available memory (``/proc/meminfo`` MemAvailable, less 2 GiB) is skipped and says so.
``--only-full`` measures only those. ``--baseline-src`` measures those short buffers with another checkout's ``vsodboost`` (e.g. the commit before the
working resolution), i.e. the old behaviour exactly, instead of this one with ``work_max_side=0``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import json, os, resource, sys, time
import torch
data, frames, side, api, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
import vsodboost
from vsodboost import adapters
from vsodboost.booster import Booster
from vsodboost.config import BoostConfig
from vsodboost.runner import run_to_dir
cfg = {"buffer_size": frames}
if side >= 0:  # -1: a checkout without work_max_side (the old behaviour)
    cfg["work_max_side"] = side
b = Booster(adapters.precomputed(os.path.join(data, "maps")), preset="fast", config=cfg, device="cpu", threads=1)
frames_dir = os.path.join(data, "clip")
names = sorted(os.listdir(frames_dir))[:frames]
sub = os.path.join(out, "frames")
os.makedirs(sub, exist_ok=True)
for n in names:  # the first `frames` frames as their own folder (links: nothing is copied)
    os.symlink(os.path.join(frames_dir, n), os.path.join(sub, n))
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024
loaded = rss()
t = time.perf_counter()
if api == "run":
    res = b.run(sub, name="clip")
    res.save(os.path.join(out, "maps"))
elif api == "stream":  # what `vsodboost stream` does: frames read one by one, maps written per buffer
    from vsodboost.io import write_map_atomic
    os.makedirs(os.path.join(out, "maps"))
    for buf in b.stream(sub, name="clip"):
        for n, m in zip(buf.names, buf.boosted):
            write_map_atomic(os.path.join(out, "maps", n + ".png"), m)
else:
    run_to_dir(b, sub, os.path.join(out, "maps"), name="clip")
secs = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
print(json.dumps({"frames": frames, "work_max_side": side, "api": api, "peak_mib": round(peak),
                  "loaded_mib": round(loaded), "seconds": round(secs, 1), "threads": torch.get_num_threads(),
                  "load": round(os.getloadavg()[0], 2), "vsodboost": os.path.dirname(vsodboost.__file__)}))
"""


def synthesise(root: Path, n: int, h: int, w: int) -> None:
    """``root/clip/NNNNN.jpg`` and ``root/maps/clip/NNNNN.png`` (skipped when already there)."""
    import cv2
    import numpy as np

    clip, maps = root / "clip", root / "maps" / "clip"
    if clip.is_dir() and len(list(clip.glob("*.jpg"))) >= n and len(list(maps.glob("*.png"))) >= n:
        return
    clip.mkdir(parents=True, exist_ok=True)
    maps.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    pad = 8 * n
    small = (rng.random(((h + 63) // 64, (w + pad + 63) // 64, 3)) * 200).astype(np.uint8)
    bg = cv2.resize(small, ((w + pad + 63) // 64 * 64, (h + 63) // 64 * 64), interpolation=cv2.INTER_CUBIC)
    bg = cv2.add(bg, (rng.random(bg.shape) * 40).astype(np.uint8))  # fine texture: DIS has something to track
    for i in range(n):
        f = np.ascontiguousarray(bg[:h, 8 * i: 8 * i + w])
        cx, cy = int(w * (0.25 + 0.5 * i / max(n - 1, 1))), int(h * 0.5)
        mask = np.zeros((h, w), np.uint8)
        cv2.ellipse(mask, (cx, cy), (w // 9, h // 6), 0, 0, 360, 255, -1)
        f[mask > 0] = (40, 90, 230)
        cv2.imwrite(str(clip / f"{i:05d}.jpg"), f, [cv2.IMWRITE_JPEG_QUALITY, 90])
        cv2.imwrite(str(maps / f"{i:05d}.png"), cv2.GaussianBlur(mask, (0, 0), 25))


def measure(data: Path, frames: int, side: int, api: str, src: str | None = None) -> dict:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as out:
        # cwd: a `python -c` child puts its working folder first on sys.path, before PYTHONPATH
        p = subprocess.run([sys.executable, "-c", _CHILD, str(data), str(frames), str(side), api, out],
                           capture_output=True, text=True, env=env, cwd=out)
    if p.returncode:
        raise SystemExit(f"measurement failed (frames={frames}, work_max_side={side}):\n{p.stderr[-3000:]}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    if src and not r["vsodboost"].startswith(os.path.abspath(src)):
        raise SystemExit(f"the baseline imported vsodboost from {r['vsodboost']}, not from {src}")
    return r


def available_mib() -> float:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:")) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="4000x3000", help="frame size WxH (default 4000x3000)")
    ap.add_argument("--frames", type=int, default=100, help="frames in the buffer (default 100)")
    ap.add_argument("--full-frames", default="4,8", help="short buffers measured without the working resolution")
    ap.add_argument("--work-max-side", type=int, default=1280, help="the working resolution measured (default 1280)")
    ap.add_argument("--api", choices=["run_to_dir", "run", "stream", "both"], default="both",
                    help="run_to_dir, run + save, Booster.stream + a PNG per map, or both (the first two)")
    ap.add_argument("--data", type=Path, help="folder for the synthetic clip (kept; default: a temporary one)")
    ap.add_argument("--baseline-src", help="a checkout whose vsodboost (without work_max_side) is the baseline")
    ap.add_argument("--only-full", action="store_true", help="measure the full-size (baseline) runs only")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    full = sorted(int(v) for v in args.full_frames.split(",") if v)
    tmp = None
    if args.data is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench_memory_data_")
        args.data = Path(tmp.name)
    print(f"{w}×{h}, {args.frames} frames; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, cores: "
          f"{os.cpu_count()}, load: {os.getloadavg()[0]:.2f}, available: {available_mib() / 1024:.1f} GiB", flush=True)
    synthesise(args.data, max([args.frames, *full]), h, w)
    apis = ["run_to_dir", "run"] if args.api == "both" else [args.api]
    rows = []
    print("| work_max_side | api | frames | peak RSS (MiB) | RSS with models loaded (MiB) | seconds | threads | load |")
    print("|---|---|---|---|---|---|---|---|")

    def show(r: dict, note: str = "") -> None:
        rows.append(r)
        side = {0: "0 (full size)", -1: "(old code)"}.get(r["work_max_side"], r["work_max_side"])
        print(f"| {side}{note} | {r['api']} | {r['frames']} | {r['peak_mib']} | {r['loaded_mib']} | {r['seconds']} | "
              f"{r['threads']} | {r['load']} |", flush=True)

    for api in apis:
        for n in [] if args.only_full else [*full, args.frames]:
            show(measure(args.data, n, args.work_max_side, api))
        base = -1 if args.baseline_src else 0
        got = []
        for n in full:
            if got:  # linear in the frames: skip a run that would not fit
                (n0, p0), (n1, p1) = got[0], got[-1]
                per = (p1 - p0) / (n1 - n0) if n1 > n0 else p1 / n1
                need = p1 + per * (n - n1)
                if need > available_mib() - 2048:
                    print(f"| skipped: {n} frames at full size would need ~{need:.0f} MiB |")
                    continue
            r = measure(args.data, n, base, api, args.baseline_src)
            show(r)
            got.append((n, r["peak_mib"]))
        if len(got) >= 2:
            (n0, p0), (n1, p1) = got[0], got[-1]
            per = (p1 - p0) / (n1 - n0)
            est = p1 + per * (args.frames - n1)
            print(f"| full size ({api}), extrapolated | | {args.frames} | ~{est:.0f} ({per:.0f} MiB a frame) | | | | |",
                  flush=True)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
