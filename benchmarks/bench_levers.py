"""Speed of the spatial models' fine-tuning and prediction under each per-operation lever of ``FinetuneConfig``:
precision (``autocast`` off / bf16), memory layout (``channels_last``), training size and trained layers.

Usage:
    OMP_NUM_THREADS=1 python benchmarks/bench_levers.py [--models u2netp,lite0] [--device cpu] [--repeats 2]

For each model and lever row, ``--repeats`` times (the fastest is kept): prediction of 16 random 854×480 frames
(batch 8) at the model's prediction size (U²-Net-p 320², Lite0 224², as the presets) and 10 fine-tuning
iterations of batch 4 on 4 of them, with the shipped weights; the maps' largest difference from the float32,
contiguous row is printed beside. Random frames measure speed only: what a lever costs in quality is measured
with ``vsodboost bench`` on DAVIS val and ViSal (docs/booster.md, "Speed levers", gives each command).
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from vsodboost.plugins import spatial_models
from vsodboost.config import FinetuneConfig
from vsodboost.spatial import finetune, predict_maps

PREDICT_SIZE = {"u2netp": 320, "lite0": 224}  # where the presets predict
#: (label, FinetuneConfig fields) per row; the first row is the float32, contiguous reference
ROWS = [
    ("float32", {"autocast": "off", "channels_last": False}),
    ("float32, channels-last", {"autocast": "off", "channels_last": True}),
    ("bf16", {"autocast": "bf16", "channels_last": False}),
    ("bf16, channels-last (default where native)", {"autocast": "bf16", "channels_last": True}),
    ("… + fine-tuning at 160²", {"autocast": "bf16", "channels_last": True, "input_size": 160}),
    ("… + decoder only", {"autocast": "bf16", "channels_last": True, "train_layers": "decoder"}),
]


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
    print(f"device {device}, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}, "
          f"load {os.getloadavg()[0]:.2f} at start")
    print("| model | lever | prediction s per frame | fine-tuning s per iteration (batch 4) | max abs Δ vs float32 |")
    print("|---|---|---|---|---|")
    for name in args.models.split(","):
        model = spatial_models().create(name).to(device)
        size, ref = PREDICT_SIZE.get(name, 224), None
        for label, fields in ROWS:
            cfg = FinetuneConfig(iterations=10, **fields)
            best_pred = best_tune = float("inf")
            for _ in range(args.repeats):
                t = time.perf_counter()
                tuned, _ = finetune(model, frames[:4], targets, cfg, seed=0)
                best_tune = min(best_tune, (time.perf_counter() - t) / cfg.iterations)
                probe = model.to(memory_format=torch.channels_last) if cfg.channels_last else model
                t = time.perf_counter()
                maps = predict_maps(probe, frames, input_size=size, batch=8, autocast_mode=cfg.autocast,
                                    channels_last=cfg.channels_last)
                best_pred = min(best_pred, (time.perf_counter() - t) / len(frames))
                model.to(memory_format=torch.contiguous_format)
            ref = maps if ref is None else ref
            print(f"| {name} | {label} | {best_pred:.3f} | {best_tune:.3f} | {float((maps - ref).abs().max()):.4f} |",
                  flush=True)


if __name__ == "__main__":
    main()
