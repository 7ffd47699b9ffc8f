"""Flow-backend benchmark: accuracy of the weight-free backends, per-pair time of every backend, buffer-API overhead.

Usage:
    python benchmarks/bench_flow.py                      # everything, CPU, 854×480
    python benchmarks/bench_flow.py --part time --backends dis,farneback,spynet --device cuda
    python benchmarks/bench_flow.py --part accuracy --data /work/shared/data/DAVIS2016

Parts:
- ``accuracy``: end-point error on synthetic videos with known motion (translation, an object over a static and
  over a panning background, shifts of 1–6 px) and, when ``--data`` points at DAVIS, the photometric error of
  frame i vs frame i+1 warped back by the flow (mean |ΔRGB| over pixels whose match stays inside the image) on
  real 854×480 video. Used to pick the DIS preset.
- ``time``: seconds per frame pair of ``estimate`` on a buffer of ``--pairs``+1 frames at ``--size`` (deep
  backends with random weights: time does not depend on the values), after one warm-up call.
- ``overhead``: ``estimate`` on a uint8 (T, 3, H, W) tensor vs the bare OpenCV loop (cvtColor + calc per pair on
  H×W×3 numpy frames), best of ``--repeat``; the goal is ≤ 1.1×.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import torch

from vsodboost.flow import create_flow  # noqa: E402
from vsodboost.testing import boundary_band, epe, moving_object, translation  # noqa: E402
from vsodboost.flow._deep import backwarp  # noqa: E402
from vsodboost.flow.opencv import DIS_PRESETS  # noqa: E402

DEEP = ("spynet", "pwcnet", "liteflownet", "raft_small", "raft_large")
CANDIDATES: dict[str, dict[str, Any]] = {
    **{f"dis_{p}": {"name": "dis", "preset": p} for p in DIS_PRESETS},
    "farneback": {"name": "farneback"},
}


def _backend(label: str, device: str) -> Any:
    if label in CANDIDATES:
        kw = dict(CANDIDATES[label])
        return create_flow(kw.pop("name"), **kw)
    if label in DEEP:
        return create_flow(label, weights="random", device=device)
    return create_flow(label)


def _best(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


# ---------------------------------------------------------------------------------------------- accuracy
def accuracy(labels: list[str], data: Path | None, pairs: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    h, w = 240, 320
    cases = []
    for k, (dx, dy) in enumerate([(1, 0), (2, -1), (-2, 2), (4, 1), (-6, 3)]):
        fr, fl = translation(3, h, w, dx, dy, seed=k)
        cases.append(("translation", fr, fl, None))
        fr, fl, mk = moving_object(3, h, w, dx, dy, size=64, seed=k)
        cases.append(("object_static", fr, fl, boundary_band(mk)))
        fr, fl, mk = moving_object(3, h, w, dx, dy, pan=(-1, 1), size=64, seed=k)
        cases.append(("object_pan", fr, fl, boundary_band(mk)))
    real = None
    if data is not None:
        seq = sorted((data / "JPEGImages" / "480p").iterdir())[0]
        files = sorted(seq.glob("*.jpg"))[: pairs + 1]
        real = torch.stack([torch.from_numpy(cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB)).permute(2, 0, 1)
                            for f in files])
    for label in labels:
        b = _backend(label, "cpu")
        res: dict[str, list[float]] = {}
        for kind, fr, fl, excl in cases:
            res.setdefault(kind, []).append(epe(b.estimate(fr), fl, border=8, exclude=excl))
        row = {f"epe_{k}": float(np.mean(v)) for k, v in res.items()}
        if real is not None:
            flow = b.estimate(real)
            one, two = real[:-1].float(), real[1:].float()
            warped = backwarp(two, flow)
            tx = torch.arange(real.shape[-1]).view(1, 1, -1) + flow[:, 0]
            ty = torch.arange(real.shape[-2]).view(1, -1, 1) + flow[:, 1]
            inside = (tx >= 0) & (tx <= real.shape[-1] - 1) & (ty >= 0) & (ty <= real.shape[-2] - 1)
            err = (one - warped).abs().mean(1)
            row["photometric_davis"] = float(err[inside].mean())
            row["photometric_identity"] = float((one - two).abs().mean())
        out[label] = row
        print(label, json.dumps({k: round(v, 4) for k, v in row.items()}), flush=True)
    return out


# ---------------------------------------------------------------------------------------------- time
def timing(labels: list[str], size: tuple[int, int], pairs: int, repeat: int, device: str) -> dict[str, float]:
    h, w = size
    # A real-looking buffer: smooth texture panning 2 px per frame (OpenCV's cost depends a little on content).
    frames, _ = translation(pairs + 1, h, w, 2, 1)
    out = {}
    for label in labels:
        b = _backend(label, device)
        x = frames.to(device)
        b.estimate(x[:2])  # warm-up (allocations, cuDNN/oneDNN kernel selection)
        _sync(device)

        def run() -> None:
            b.estimate(x)
            _sync(device)

        out[label] = _best(run, repeat) / pairs
        print(f"{label}: {out[label]:.3f} s/pair ({h}×{w}, {device})", flush=True)
    return out


# ---------------------------------------------------------------------------------------------- overhead
def overhead(size: tuple[int, int], pairs: int, repeat: int) -> dict[str, dict[str, float]]:
    h, w = size
    frames, _ = translation(pairs + 1, h, w, 2, 1)
    hwc = [np.ascontiguousarray(f.permute(1, 2, 0).numpy()) for f in frames]
    out = {}
    for label, bare_make in [
        ("dis", lambda: cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc),
        ("farneback", lambda: (lambda a, b, f: cv2.calcOpticalFlowFarneback(a, b, f, 0.5, 3, 15, 3, 5, 1.2, 0))),
    ]:
        calc = bare_make()

        def bare() -> list[np.ndarray]:
            grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in hwc]
            return [calc(grey[i], grey[i + 1], None) for i in range(pairs)]

        apis = {workers: create_flow(label, workers=workers) for workers in (1, 2)}
        for b in apis.values():
            b.estimate(frames[:2])
        runs: dict[str, Callable[[], Any]] = {"bare": bare, **{f"api_w{k}": (lambda b=b: b.estimate(frames))
                                                               for k, b in apis.items()}}
        # Interleaved, best of `repeat`, in wall time and in this process's CPU time: on a shared machine the
        # CPU time is the steadier of the two.
        wall = {k: float("inf") for k in runs}
        cpu = {k: float("inf") for k in runs}
        for _ in range(repeat):
            for k, fn in runs.items():
                t0, c0 = time.perf_counter(), time.process_time()
                fn()
                wall[k] = min(wall[k], time.perf_counter() - t0)
                cpu[k] = min(cpu[k], time.process_time() - c0)
        row = {}
        for k in runs:
            row[f"{k}_s_per_pair"] = wall[k] / pairs
            row[f"{k}_cpu_s_per_pair"] = cpu[k] / pairs
            if k != "bare":
                row[f"ratio_{k}"] = wall[k] / wall["bare"]
                row[f"cpu_ratio_{k}"] = cpu[k] / cpu["bare"]
        out[label] = row
        print(label, json.dumps({k: round(v, 4) for k, v in row.items()}), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--part", choices=["all", "accuracy", "time", "overhead"], default="all")
    p.add_argument("--backends", default=",".join([*CANDIDATES, *DEEP]),
                   help="comma-separated labels: dis_ultrafast, dis_fast, dis_medium, farneback or registry names")
    p.add_argument("--size", default="480x854", help="H×W of the timing buffer (default 480x854, DAVIS 480p)")
    p.add_argument("--pairs", type=int, default=4)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0 = leave as is)")
    p.add_argument("--data", type=Path, default=None, help="DAVIS root for the photometric error on real video")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    h, w = (int(v) for v in a.size.lower().split("x"))
    labels = [s for s in a.backends.split(",") if s]
    print(f"torch {torch.__version__}, OpenCV {cv2.__version__}, torch threads {torch.get_num_threads()}, "
          f"OpenCV threads {cv2.getNumThreads()}", flush=True)
    results: dict[str, Any] = {}
    if a.part in ("all", "accuracy"):
        results["accuracy"] = accuracy([s for s in labels if s in CANDIDATES], a.data, a.pairs)
    if a.part in ("all", "time"):
        results["time"] = timing(labels, (h, w), a.pairs, a.repeat, a.device)
    if a.part in ("all", "overhead"):
        results["overhead"] = overhead((h, w), a.pairs, a.repeat)
    if a.json:
        a.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
