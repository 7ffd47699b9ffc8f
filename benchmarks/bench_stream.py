"""Latency per buffer of ``Booster.stream`` and the quality of its maps, per buffer size, cold or warm-started.

    python benchmarks/bench_stream.py [--sequence blackswan] [--frames 50] [--buffer-sizes 25 50]
        [--warm-start no|yes|both] [--preset fast] [--threads 1] [--json out.json]

Streams the first ``--frames`` frames of a DAVIS-2016 sequence as a frame iterator (as a camera would deliver them)
with PDB's published maps as the target. Per buffer it reports the processing time once the buffer's last frame
has arrived (the sum of the stage timings) and the wall time between yields; per run, maxF / S / MAE of the boosted
maps against the DAVIS ground truth (frame-averaged, pysodmetrics conventions) and of PDB's own maps. With a live
source at ``fps``, the first frame of a buffer waits ``(buffer_size − 1) / fps`` for the buffer to fill, then the
processing time: both are printed for 25 fps.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from vsodboost import adapters
from vsodboost.booster import Booster
from vsodboost.datasets import SHARED_SETS, find_shared_data, read_dataset
from vsodboost.demo import dataset_scores
from vsodboost.video import read_image


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sequence", default="blackswan")
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--buffer-sizes", type=int, nargs="+", default=[25, 50])
    ap.add_argument("--warm-start", choices=["no", "yes", "both"], default="both")
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--fps", type=float, default=25.0, help="camera rate for the fill-time column")
    ap.add_argument("--json", help="write the report here too")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = find_shared_data()
    if data is None:
        raise SystemExit("needs ../shared/data (or $VSODBOOST_DATA)")
    seq = read_dataset(data / "DAVIS2016", "davis", sequences=[args.sequence])[0]
    video = seq.video()[: args.frames]
    frames = list(video)
    gt = {s: read_image(p)[:, :, 0] > 127 for s, p in seq.gt.items() if s in set(video.names)}
    target = adapters.precomputed(SHARED_SETS["davis"].target_maps(data))
    load_before = round(os.getloadavg()[0], 2)
    booster = Booster(target, preset=args.preset, device="cpu")
    warm_modes = {"no": [False], "yes": [True], "both": [False, True]}[args.warm_start]
    runs = []
    pdb_maps: list[np.ndarray] = []
    for size in args.buffer_sizes:
        for warm in warm_modes:
            buffers, maps, tmaps = [], [], []
            t_start = t = time.perf_counter()
            for b in booster.stream(iter(frames), name=seq.name, buffer_size=size, warm_start=warm):
                wall = time.perf_counter() - t
                proc = sum(b.report.timings.values())
                buffers.append({"start": b.start, "frames": len(b.names), "processing_s": round(proc, 2),
                                "wall_s": round(wall, 2), "mined": len(b.report.mined),
                                "first_frame_latency_s": round((len(b.names) - 1) / args.fps + proc, 2),
                                "stages_s": {k: round(v, 2) for k, v in b.report.timings.items()}})
                maps += b.boosted
                tmaps += b.target
                t = time.perf_counter()
            total = time.perf_counter() - t_start
            names = [n for n in video.names if n in gt]
            idx = [video.names.index(n) for n in names]
            scores = dataset_scores([maps[i] for i in idx], [gt[n].astype(np.float32) for n in names])
            if not pdb_maps:
                pdb_maps = [tmaps[i] for i in idx]
            runs.append({"buffer_size": size, "warm_start": warm, "total_s": round(total, 2),
                         "buffers": buffers, "scores": {k: round(v, 4) for k, v in scores.items()}})
            print(f"buffer {size:3d} warm={str(warm):5}  total {total:6.1f} s  per buffer (s): "
                  + ", ".join(f"{x['processing_s']:.1f}" for x in buffers)
                  + f"  first-frame latency @{args.fps:g} fps: "
                  + ", ".join(f"{x['first_frame_latency_s']:.1f}" for x in buffers)
                  + "  maxF {maxF:.3f} S {S:.3f} MAE {MAE:.4f}".format(**scores), flush=True)
    pdb_scores = dataset_scores(pdb_maps, [gt[n].astype(np.float32) for n in video.names if n in gt])
    print("PDB (the target) maxF {maxF:.3f} S {S:.3f} MAE {MAE:.4f}".format(**pdb_scores))
    report = {
        "sequence": seq.name, "frames": len(frames), "size": f"{video.width}×{video.height}", "preset": args.preset,
        "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "load_avg_1m": [load_before, round(os.getloadavg()[0], 2)], "runs": runs,
        "target_scores": {k: round(v, 4) for k, v in pdb_scores.items()},
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    print(json.dumps({k: v for k, v in report.items() if k != "runs"}))


if __name__ == "__main__":
    main()
