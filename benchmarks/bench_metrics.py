"""Speed and agreement of vsodboost.metrics vs pysodmetrics 1.6.2 on the same real maps, in one run on CPU.

Loads every (map, GT) pair into memory first (decoding is not timed), then times, on the same pairs:

* pysodmetrics: MAE, Smeasure, Fmeasure (curve + adaptive), Emeasure (curve + adaptive), one ``step`` per frame;
* vsodboost: the same four metrics from one batched pass (``frame_metrics``-equivalent statistics);

and, separately, the weighted F-measure of both. Prints frames per second, the speed-up and the largest absolute
difference of every reported number.

    /work/venv/bin/python benchmarks/bench_metrics.py                 # PDB maps on DAVIS-2016 val (645 frames)
    /work/venv/bin/python benchmarks/bench_metrics.py --limit 100 --threads 1
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import torch


def load_pairs(data: Path, limit: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    from vsodboost.datasets import SHARED_SETS, read_dataset
    from vsodboost.io import read_map

    pairs = []
    root = SHARED_SETS["davis"].target_maps(data)
    for seq in read_dataset(data / "DAVIS2016", "davis"):
        if not (root / seq.name).is_dir():
            continue
        for stem in seq.annotated:
            pairs.append((read_map(root / seq.name / f"{stem}.png")[0], read_map(seq.gt[stem])[0]))
    return pairs[:limit] if limit else pairs


def run_reference(pairs, with_wf: bool) -> tuple[dict[str, float], float]:
    import py_sod_metrics as M

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Fmeasure's deprecation notice
        mae, sm, fm, em = M.MAE(), M.Smeasure(), M.Fmeasure(), M.Emeasure()
        wfm = M.WeightedFmeasure()
        t = time.perf_counter()
        if with_wf:
            for p, g in pairs:
                wfm.step(p, g)
        else:
            for p, g in pairs:
                mae.step(p, g)
                sm.step(p, g)
                fm.step(p, g)
                em.step(p, g)
        dt = time.perf_counter() - t
    if with_wf:
        return {"wF": float(wfm.get_results()["wfm"])}, dt
    f, e = fm.get_results()["fm"], em.get_results()["em"]
    return {"maxF": float(f["curve"].max()), "meanF": float(f["curve"].mean()), "adpF": float(f["adp"]),
            "S": float(sm.get_results()["sm"]), "MAE": float(mae.get_results()["mae"]),
            "maxE": float(e["curve"].max()), "meanE": float(e["curve"].mean()), "adpE": float(e["adp"])}, dt


def run_ours(pairs, with_wf: bool, batch: int) -> tuple[dict[str, float], float]:
    from vsodboost.metrics import SODMetrics, weighted_f_measure

    # batches are stacked before timing, as decoding is for both libraries
    batches = [(np.stack([p for p, _ in pairs[i:i + batch]]), np.stack([g for _, g in pairs[i:i + batch]]))
               for i in range(0, len(pairs), batch)]
    t = time.perf_counter()
    if with_wf:
        vals = [weighted_f_measure(p, g) for p, g in batches]
        dt = time.perf_counter() - t
        return {"wF": float(torch.cat(vals).mean())}, dt
    metric = SODMetrics(weighted_f=False)
    for p, g in batches:
        metric.step(p, g)
    dt = time.perf_counter() - t
    res = metric.results()
    return {k: res[k] for k in ("maxF", "meanF", "adpF", "S", "MAE", "maxE", "meanE", "adpE")}, dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None, help="shared data folder (default: ../shared/data)")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N frames")
    ap.add_argument("--batch", type=int, default=8, help="frames per vsodboost step")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (numpy is single-threaded)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved repeats (best time is kept; wF runs once)")
    ap.add_argument("--no-wf", action="store_true", help="skip the weighted F-measure part")
    args = ap.parse_args()
    from vsodboost.datasets import find_shared_data

    data = args.data or find_shared_data()
    if data is None:
        raise SystemExit("real data not found: pass --data or set VSODBOOST_DATA")
    torch.set_num_threads(args.threads)
    pairs = load_pairs(data, args.limit)
    h, w = pairs[0][1].shape
    print(f"{len(pairs)} frames of {w}x{h} (PDB on DAVIS-2016 val), torch threads {args.threads}, "
          f"batch {args.batch}, best of {args.repeat}")
    parts = [("MAE+S+F-curve+E-curve", False)] + ([] if args.no_wf else [("wF", True)])
    for name, with_wf in parts:
        run_ours(pairs[: args.batch], with_wf, args.batch)  # warm-up (allocator, lazy imports)
        # interleaved repeats, best time of each (the machine is shared: the minimum is the least disturbed run)
        t_ref = t_ours = float("inf")
        for _ in range(args.repeat if not with_wf else 1):
            ref, t = run_reference(pairs, with_wf)
            t_ref = min(t_ref, t)
            ours, t = run_ours(pairs, with_wf, args.batch)
            t_ours = min(t_ours, t)
        n = len(pairs)
        diff = max(abs(ref[k] - ours[k]) for k in ref)
        print(f"{name:<22} pysodmetrics {n / t_ref:8.1f} fps | vsodboost {n / t_ours:8.1f} fps | "
              f"speed-up {t_ref / t_ours:5.1f}x | max |diff| {diff:.2e}")
        print("    " + "  ".join(f"{k}={ours[k]:.4f}" for k in ours))


if __name__ == "__main__":
    main()
