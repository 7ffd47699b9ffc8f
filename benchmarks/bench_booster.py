"""Time and peak memory of one 100-frame 854×480 buffer through the whole Booster, per stage.

    python benchmarks/bench_booster.py [--preset quality|fast|paper] [--sequence cows] [--frames 100]
        [--threads 1] [--device cpu|cuda] [--config F] [--warmup-frames N]

Uses DAVIS `cows` (104 frames) with PDB's published maps as the target and the shipped MQPM / spatial weights.
Peak memory is the process's maximum resident set size (ru_maxrss), so run it in a fresh process; on CUDA
the report adds the peak of allocated GPU memory. ``--threads`` is the Booster's ``threads=`` (torch CPU
threads while it computes; 0 keeps torch's setting), as ``vsodboost boost --threads``. On CUDA an untimed
warm-up run on the first ``--warmup-frames`` frames (default 10; 0 on CPU) goes first, so CUDA's start-up and
cuDNN's kernel choice are not timed as the buffer's; ``device`` in the report names the GPU. ``--device cuda``
without CUDA exits at once with status 2 and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time

import torch

from vsodboost import adapters
from vsodboost._device import resolve_device
from vsodboost.booster import Booster
from vsodboost.errors import InputError
from vsodboost.datasets import SHARED_SETS, find_shared_data, read_dataset


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sequence", default="cows")
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1, as the CLI's)")
    ap.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1… (exit 2 without CUDA)")
    ap.add_argument("--warmup-frames", type=int, default=None,
                    help="untimed warm-up run on this many frames first (default: 10 on CUDA, 0 on CPU)")
    ap.add_argument("--config", help="JSON file of BoostConfig fields laid over the preset's")
    ap.add_argument("--preset", default="quality", help="vsodboost.presets name (default: quality)")
    ap.add_argument("--mqpm", default="default", help="MQPM weights: 'default' (the shipped pair) or one checkpoint "
                    "(e.g. vsodboost/weights/mqpm_lite0_dis.pt alone)")
    args = ap.parse_args()
    try:
        resolve_device(args.device)  # before any data is read: no CUDA → a clear message, exit status 2
    except InputError as exc:
        print(f"bench_booster: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.threads:
        torch.set_num_threads(args.threads)
    data = find_shared_data()
    if data is None:
        raise SystemExit("bench_booster: no shared data (../shared/data or $VSODBOOST_DATA) with DAVIS2016 "
                         "and PDB's maps")
    seq = read_dataset(data / "DAVIS2016", "davis", sequences=[args.sequence])[0]
    video = seq.video()[: args.frames]
    video.name = seq.name
    target = adapters.precomputed(SHARED_SETS["davis"].target_maps(data))
    t0 = time.perf_counter()
    config = json.load(open(args.config)) if args.config else {}
    booster = Booster(target, mqpm=args.mqpm, config=config, preset=args.preset, device=args.device,
                      threads=args.threads)
    cuda = booster.device.type == "cuda"
    setup = time.perf_counter() - t0
    warm = args.warmup_frames if args.warmup_frames is not None else (10 if cuda else 0)
    t0 = time.perf_counter()
    if warm:
        booster.run(video[:warm], name=seq.name, progress=False)
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
    warmup = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = booster.run(video, progress=False)
    if cuda:
        torch.cuda.synchronize()
    total = time.perf_counter() - t0
    report = {
        "sequence": seq.name, "frames": len(video), "size": f"{video.width}×{video.height}",
        "device": str(booster.device) + (f" ({torch.cuda.get_device_name(booster.device)})" if cuda
                                         else ""),
        "threads": booster.threads or torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__, "load_1min": round(os.getloadavg()[0], 2),
        "setup_s": round(setup, 2), "warmup_frames": warm, "warmup_s": round(warmup, 2),
        "total_s": round(total, 2),
        "stages_s": {k: round(v, 2) for k, v in result.timings.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "mined": len(result.mined),
        "preset": args.preset, "mqpm": args.mqpm,
        "config": booster.config.to_dict(),
    }
    if booster.device.type == "cuda":
        report["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
