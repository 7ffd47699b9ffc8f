"""Which frames should the spatial model learn from? The paper's mining + filtering against the alternative rules of
``vsodboost.mining.SELECTORS``, each boosting every sequence of a dataset with the same preset, target and seed.

    OMP_NUM_THREADS=1 python benchmarks/bench_selectors.py --dataset DAVIS2016 --preset fast \\
        --selectors mqpm,consistency,hq --out /tmp/selectors

Per selector, each sequence is boosted into ``OUT/<dataset>/<selector>/<sequence>/`` (resumable: a rerun skips
what is done) and scored against the GT with pysodmetrics conventions, frame-averaged; the table also gives the mean
number of frames each rule kept per buffer. Random frames (Table III's control, over several draws) come from
``vsodboost bench --protocol control --draws 5`` with the same preset and config. Needs the shared data
(``../shared/data`` or ``$VSODBOOST_DATA``); the dataset → published target maps pairs are DAVIS2016 → PDB and
ViSal → MGA (vsodboost.datasets.SHARED_SETS).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from vsodboost import adapters
from vsodboost.booster import Booster
from vsodboost.datasets import SHARED_SETS, find_shared_data, read_dataset
from vsodboost.metrics.evaluate import evaluate_folders
from vsodboost.mining import SELECTORS
from vsodboost.runner import run_to_dir

SETS = {s.folder: (s.layout, {"split": s.split} if s.split else {}, s.method) for s in SHARED_SETS.values()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=sorted(SETS), default="DAVIS2016")
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--config", help="JSON file of BoostConfig fields laid over the preset's")
    ap.add_argument("--selectors", default=",".join(SELECTORS), help=f"comma-separated, from {sorted(SELECTORS)}")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sequences", help="comma-separated sequence names (default: all of the dataset's)")
    args = ap.parse_args()
    names = args.selectors.split(",")
    unknown = [n for n in names if n not in SELECTORS]
    if unknown:
        ap.error(f"unknown selector(s) {unknown}; choose from {sorted(SELECTORS)}")
    data = find_shared_data()
    if data is None:
        raise SystemExit("bench_selectors: no shared data (../shared/data or $VSODBOOST_DATA)")
    layout, kw, method = SETS[args.dataset]
    seqs = read_dataset(data / args.dataset, layout, **kw,
                        sequences=args.sequences.split(",") if args.sequences else None)
    target = adapters.precomputed(data / "results" / method / args.dataset)
    config = json.loads(Path(args.config).read_text()) if args.config else {}
    torch.set_num_threads(args.threads)
    rows = {}
    for name in names:
        booster = Booster(target, preset=args.preset, config=config, selector=SELECTORS[name], device="cpu",
                          threads=args.threads, seed=args.seed)
        root, kept = args.out / args.dataset / name, []
        for seq in seqs:
            summary = run_to_dir(booster, seq.video(), root / seq.name, name=seq.name)
            kept += [len(b["mined"]) for b in summary["buffers_done"].values()]
            print(f"[{name}] {seq.name} done", flush=True)
        r = evaluate_folders(root, data / args.dataset, layout=layout, progress=False,
                             sequences=[s.name for s in seqs])
        rows[name] = {**{k: r[k] for k in ("frames", "maxF", "S", "MAE")}, "kept_per_buffer": float(np.mean(kept))}
        print(name, json.dumps(rows[name]), flush=True)
    print(f"\n{args.dataset} ({method}), preset {args.preset}, config {config}, seed {args.seed}\n")
    print("| selector | frames kept per buffer | maxF | S | MAE |\n|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| `{name}` | {r['kept_per_buffer']:.1f} | {r['maxF']:.4f} | {r['S']:.4f} | {r['MAE']:.4f} |")
    (args.out / args.dataset / "selectors.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
