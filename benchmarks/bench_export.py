"""CPU inference speed of the exported spatial models (ONNX Runtime, TorchScript) against PyTorch, at 352².

    python benchmarks/bench_export.py [--size 352] [--threads 1] [--runs 20] [--models u2netp lite0] [--json F]

Exports the shipped U²-Net-p (``u2netp_spatial()``) and Lite0 U-Net (``lite0_spatial()``) with
:func:`vsodboost.export.export_spatial`, then times batch-1 forward passes (the graph only: no resize, no sigmoid)
on DAVIS ``blackswan`` frames resized to ``--size`` (random input without ../shared/data) after two warm-up runs,
each backend limited to ``--threads`` threads. Also reports the largest difference of each export from PyTorch.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

from vsodboost.datasets import find_shared_data
from vsodboost.export import ExportedSpatial, export_spatial
from vsodboost.spatial._plugin import lite0_spatial, u2netp_spatial
from vsodboost.video import load_video

MODELS = {"u2netp": u2netp_spatial, "lite0": lite0_spatial}


def _inputs(size: int, n: int) -> list[torch.Tensor]:
    data = find_shared_data()
    if data is not None and (data / "DAVIS2016/JPEGImages/480p/blackswan").is_dir():
        video = load_video(data / "DAVIS2016/JPEGImages/480p/blackswan")
        frames = [video.tensor(i, i + 1) for i in range(n)]
    else:
        g = torch.Generator().manual_seed(0)
        frames = [torch.randint(0, 256, (1, 3, 480, 854), generator=g, dtype=torch.uint8) for _ in range(n)]
    return [F.interpolate(f.float() / 255.0, size=(size, size), mode="bilinear", align_corners=False) for f in frames]


def _time(fn, xs: list[torch.Tensor]) -> tuple[float, list[np.ndarray]]:
    for x in xs[:2]:
        fn(x)  # warm-up: allocation, graph optimisation
    times, outs = [], []
    for x in xs:
        t = time.perf_counter()
        outs.append(fn(x))
        times.append(time.perf_counter() - t)
    return statistics.median(times), outs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=352)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    xs = _inputs(args.size, args.runs)
    load_before = os.getloadavg()[0]
    results = {}
    for name in args.models:
        model = MODELS[name]().eval()
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            export_spatial(model, d, input_size=args.size)
            export_s = time.perf_counter() - t
            onnx = ExportedSpatial(d, backend="onnx", threads=args.threads)
            ts = ExportedSpatial(d, backend="torchscript")

            def torch_fn(x: torch.Tensor) -> np.ndarray:
                with torch.no_grad():
                    y = model(x)
                return (y[0] if isinstance(y, tuple) else y).numpy()

            row = {"export_s": round(export_s, 1), "onnx_mb": round(os.path.getsize(f"{d}/spatial.onnx") / 2**20, 1)}
            ref = None
            for backend, fn in (("pytorch", torch_fn), ("onnxruntime", onnx.logits), ("torchscript", ts.logits)):
                sec, outs = _time(fn, xs)
                row[backend] = {"ms": round(sec * 1000, 1), "fps": round(1.0 / sec, 2)}
                if ref is None:
                    ref = outs
                else:
                    row[backend]["max_abs_diff"] = float(max(np.abs(a - b).max() for a, b in zip(outs, ref)))
        results[name] = row
        print(f"{name}: " + "  ".join(f"{k} {v['fps']:.2f} fps ({v['ms']:.0f} ms"
                                      + (f", Δ {v['max_abs_diff']:.1e})" if "max_abs_diff" in v else ")")
                                      for k, v in row.items() if isinstance(v, dict)), flush=True)
    report = {"size": args.size, "threads": args.threads, "runs": args.runs, "batch": 1,
              "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
              "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)], "torch": torch.__version__,
              "onnxruntime": __import__("onnxruntime").__version__, "models": results}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
