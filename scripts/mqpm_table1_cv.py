"""Table I on ../shared/data, cross-validated with the folds of scripts/folds.py: each held-out sequence is classified
by the MQPM of the fold that never saw it (``mqpm_fold{k}.pt`` from scripts/mqpm_train_cv.py). The split and the
scores are the bench's (:func:`vsodboost.bench.table1`: vsodboost.metrics, pysodmetrics conventions, five metrics).

    OMP_NUM_THREADS=1 python scripts/mqpm_table1_cv.py --mqpm-dir /tmp/cv [--flow-max-side 384] [--json out.json]

``--flow-max-side`` is the resolution of the DIS flows the MQPM sees (384: the training cache; 480: the Booster's
default ``flow_max_side``); ``--compare-side 480`` also reports Table I with flows at that size and how often the
HQ labels at the two sizes agree (one flow resolution for training and boosting, or evidence it does not matter).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from _table_lines import table1_lines
from folds import N_FOLDS, held_out

from vsodboost.bench import table1
from vsodboost.datasets import find_shared_data, read_dataset
from vsodboost.flow import flow_to_color
from vsodboost.mqpm import load_mqpm
from vsodboost.mqpm.data import build_flow_sets
from vsodboost.datasets import SHARED_SETS

DATASETS = {s.folder: (s.layout, s.method) for s in SHARED_SETS.values()}


def hq_probs(mqpm_dir: Path, max_side: int) -> dict[str, dict[str, dict[str, float]]]:
    """dataset → sequence → stem → HQ probability, each sequence by its own fold's MQPM."""
    data = find_shared_data()
    sets = build_flow_sets([data / d for d in DATASETS], "dis", max_side=max_side)
    out: dict[str, dict[str, dict[str, float]]] = {d: {} for d in DATASETS}
    for k in range(N_FOLDS):
        mq = load_mqpm(mqpm_dir / f"mqpm_fold{k}.pt")
        for d, names in held_out(data, k).items():
            for fs in (f for f in sets if f.dataset == d and f.sequence in names):
                prob, _ = mq.predict(flow_to_color(torch.from_numpy(fs.flows).float()))
                out[d][fs.sequence] = {s: float(p) for s, p in zip(fs.stems, prob.tolist())}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mqpm-dir", type=Path, required=True)
    ap.add_argument("--flow-max-side", type=int, default=384)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--compare-side", type=int, default=None, help="also flows at this size: Table I and agreement")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = find_shared_data()
    sides = [args.flow_max_side] + ([args.compare_side] if args.compare_side else [])
    report: dict = {"mqpm_dir": str(args.mqpm_dir), "threshold": args.threshold, "tables": {}}
    probs = {}
    for side in sides:
        probs[side] = p = hq_probs(args.mqpm_dir, side)
        for d, (layout, target) in DATASETS.items():
            seqs = [s for s in read_dataset(data / d, layout) if s.name in p[d]]
            t = table1(data / "results" / target / d, seqs, p[d], args.threshold)
            report["tables"][f"{d}/{target}@{side}"] = t
            print(f"{d} ({target}), flows ≤ {side} px, HQ {t['hq_fraction']:.1%}:")
            print("\n".join(table1_lines(t)))
    if args.compare_side:
        a, b = (probs[s] for s in sides)
        pairs = [(a[d][s][n] >= args.threshold, b[d][s][n] >= args.threshold)
                 for d in a for s in a[d] for n in a[d][s]]
        report["agreement"] = {"sides": sides, "frames": len(pairs),
                               "same_label": sum(x == y for x, y in pairs) / len(pairs)}
        print(f"HQ labels at {sides[0]} and {sides[1]} px agree on {report['agreement']['same_label']:.1%} "
              f"of {len(pairs)} frames")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
