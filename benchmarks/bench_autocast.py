"""Speed of the spatial models' fine-tuning and prediction in float32 vs bfloat16 autocast (``finetune.autocast``).

Usage:
    OMP_NUM_THREADS=1 python benchmarks/bench_autocast.py [--models u2netp,lite0] [--device cpu] [--repeats 2]

For each model and mode (``off``, ``bf16``), ``--repeats`` times: prediction of 16 random 854×480 frames at 224²
(batch 8) and 10 fine-tuning iterations of batch 4 on 4 of them, with the shipped weights; the maps' largest
difference from float32 is printed beside. Random frames measure speed only; quality is measured with
``scripts/booster_cv.py`` and ``{"finetune": {"autocast": "bf16"}}`` (docs/booster.md, "Time and memory").
"""

from __future__ import annotations

import argparse
import time

import torch

from vsodboost.plugins import spatial_models
from vsodboost.config import FinetuneConfig
from vsodboost.spatial import finetune, predict_maps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="u2netp,lite0", help="registered spatial models, comma-separated")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 255, (16, 3, 480, 854), dtype=torch.uint8, generator=g)
    targets = torch.rand(4, 480, 854, generator=g)
    print(f"device {device}, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}")
    print("| model | autocast | prediction fps (16 frames, 224²) | fine-tuning s (10 it, batch 4) | max abs Δ vs float32 |")
    print("|---|---|---|---|---|")
    for name in args.models.split(","):
        model = spatial_models().create(name).to(device)
        ref = None
        for _ in range(args.repeats):
            for mode in ("off", "bf16"):
                t = time.perf_counter()
                maps = predict_maps(model, frames, input_size=224, batch=8, autocast_mode=mode)
                fps = len(frames) / (time.perf_counter() - t)
                t = time.perf_counter()
                finetune(model, frames[:4], targets, FinetuneConfig(iterations=10, autocast=mode), seed=0)
                tune = time.perf_counter() - t
                ref = maps if mode == "off" else ref
                print(f"| {name} | {mode} | {fps:.1f} | {tune:.2f} | {float((maps - ref).abs().max()):.4f} |",
                      flush=True)


if __name__ == "__main__":
    main()
