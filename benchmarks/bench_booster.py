"""Time and peak memory of one 100-frame 854×480 buffer through the whole Booster, per stage.

    python benchmarks/bench_booster.py [--preset quality|fast|paper] [--sequence cows] [--frames 100] [--threads 2]
        [--device cpu] [--config F]

Uses DAVIS `cows` (104 frames) with PDB's published maps as the target and the shipped MQPM / spatial weights.
Peak memory is the process's maximum resident set size (ru_maxrss), so run it in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time

import torch

from vsodboost import adapters
from vsodboost.booster import Booster
from vsodboost.datasets import find_shared_data, read_dataset


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sequence", default="cows")
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--config", help="JSON file of BoostConfig fields laid over the preset's")
    ap.add_argument("--preset", default="quality", help="vsodboost.presets name (default: quality)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = find_shared_data()
    seq = read_dataset(data / "DAVIS2016", "davis", sequences=[args.sequence])[0]
    video = seq.video()[: args.frames]
    video.name = seq.name
    target = adapters.precomputed(data / "results" / "PDB" / "DAVIS2016")
    t0 = time.perf_counter()
    config = json.load(open(args.config)) if args.config else {}
    booster = Booster(target, config=config, preset=args.preset, device=args.device)
    setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = booster.run(video)
    total = time.perf_counter() - t0
    if booster.device.type == "cuda":
        torch.cuda.synchronize()
    report = {
        "sequence": seq.name, "frames": len(video), "size": f"{video.width}×{video.height}",
        "device": str(booster.device), "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
        "setup_s": round(setup, 2), "total_s": round(total, 2),
        "stages_s": {k: round(v, 2) for k, v in result.timings.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "mined": len(result.mined),
        "preset": args.preset,
        "config": booster.config.to_dict(),
    }
    if booster.device.type == "cuda":
        report["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
