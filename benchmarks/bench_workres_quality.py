"""What the working resolution costs in quality on 4K frames (docs/reliability.md).

Usage:
    OMP_NUM_THREADS=1 python benchmarks/bench_workres_quality.py                 # blackswan, 20 frames, 3840×2160
    OMP_NUM_THREADS=1 python benchmarks/bench_workres_quality.py --seq dog --frames 30

Upscales the first N frames of a DAVIS-2016 sequence (bicubic, JPEG q95), PDB's published maps (bilinear) and the
ground-truth masks (nearest) from ``../shared/data`` (or ``$VSODBOOST_DATA``) to ``--size``, then boosts them as one
buffer with ``preset="fast"`` (one torch thread) twice, in fresh processes: at the default ``work_max_side=1280``
and at full size (``work_max_side=0``). Prints, for each, the MAE of the boosted maps against the upscaled masks,
the mined frames, the seconds and the peak RSS; then the mean and largest absolute difference between the two runs'
maps. Upscaled frames carry no more detail than the 480p originals, so this measures what the pipeline loses by
working at 1280 px, not what a true 4K clip would gain at full size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
import numpy as np, cv2
from vsodboost import adapters
from vsodboost.booster import Booster
root, seq, n, side = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
b = Booster(adapters.precomputed(f"{root}/maps"), preset="fast", config={"buffer_size": n, "work_max_side": side},
            device="cpu", threads=1)
t = time.perf_counter()
res = b.run(f"{root}/frames", name=seq)
secs = time.perf_counter() - t
mae = []
for k, m in zip(res.names, res.boosted):
    g = cv2.imread(f"{root}/gt/{k}.png", 0).astype(np.float32) / 255
    mae.append(float(np.abs(m - g).mean()))
    np.save(f"{root}/out{side}_{k}.npy", m)
print(json.dumps({"work_max_side": side, "mae": float(np.mean(mae)), "mined": res.mined_names, "seconds": secs,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


def main() -> None:
    import cv2
    import numpy as np

    from vsodboost.datasets import find_shared_data

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq", default="blackswan")
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--size", default="3840x2160", help="WxH the 854×480 frames are upscaled to")
    args = ap.parse_args()
    data = find_shared_data()
    if data is None:
        raise SystemExit("real data not found: set VSODBOOST_DATA or place it at ../shared/data")
    w, h = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="bench_workres_") as tmp:
        root = Path(tmp)
        for sub in ("frames", f"maps/{args.seq}", "gt"):
            (root / sub).mkdir(parents=True)
        for i in range(args.frames):
            s = f"{i:05d}"
            img = cv2.imread(str(data / f"DAVIS2016/JPEGImages/480p/{args.seq}/{s}.jpg"))
            cv2.imwrite(str(root / "frames" / f"{s}.jpg"), cv2.resize(img, (w, h), interpolation=cv2.INTER_CUBIC),
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            m = cv2.imread(str(data / f"results/PDB/DAVIS2016/{args.seq}/{s}.png"), 0)
            cv2.imwrite(str(root / "maps" / args.seq / f"{s}.png"), cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR))
            g = cv2.imread(str(data / f"DAVIS2016/Annotations/480p/{args.seq}/{s}.png"), 0)
            cv2.imwrite(str(root / "gt" / f"{s}.png"), cv2.resize(g, (w, h), interpolation=cv2.INTER_NEAREST))
        print(f"{args.seq}, {args.frames} frames upscaled to {w}×{h}, preset fast, one thread")
        print("| work_max_side | MAE vs GT | mined | seconds | peak RSS (MiB) |\n|---|---|---|---|---|")
        for side in (1280, 0):
            p = subprocess.run([sys.executable, "-c", _CHILD, str(root), args.seq, str(args.frames), str(side)],
                               capture_output=True, text=True, cwd=tmp)
            if p.returncode:
                raise SystemExit(p.stderr[-3000:])
            r = json.loads(p.stdout.strip().splitlines()[-1])
            print(f"| {side or '0 (full size)'} | {r['mae']:.5f} | {', '.join(r['mined'])} | {r['seconds']:.0f} | "
                  f"{r['peak_mib']} |", flush=True)
        diff = [np.abs(np.load(root / f"out1280_{i:05d}.npy") - np.load(root / f"out0_{i:05d}.npy"))
                for i in range(args.frames)]
        print(f"maps of the two runs: mean |difference| {np.mean([d.mean() for d in diff]):.5f}, "
              f"largest {max(float(d.max()) for d in diff):.3f}")


if __name__ == "__main__":
    main()
