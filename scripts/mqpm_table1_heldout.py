"""Table I held out: every annotated sequence of ../shared/data's DAVIS-2016 `val` (target: PDB's published maps)
and ViSal (MGA's) classified by MQPMs trained elsewhere (DAVIS-TR, `vsodboost train mqpm --data DAVIS2016-train`),
one table per checkpoint, scored by the bench's own code (:func:`vsodboost.bench.table1`: vsodboost.metrics,
pysodmetrics conventions, the paper's five metrics). A sequence a checkpoint was trained on (its ``trained_on``
record, :func:`vsodboost.datasets.in_sample`) is refused: this table is out-of-sample or it is not written.

    OMP_NUM_THREADS=1 python scripts/mqpm_table1_heldout.py --mqpm default --mqpm /path/recipe.pt [--json out.json]

Besides HQ vs LQ at p ≥ 0.5 (the paper's Table I), each row reports the separation inside sequences: the target's
maxF on the top and bottom halves of every sequence's frames ranked by the HQ probability ("per-seq." gap), which is
what the Booster uses (it mines within one video).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from _table_lines import table1_lines

from vsodboost.bench import evaluate_subset, table1, table1_gap_text
from vsodboost.datasets import find_shared_data, in_sample, read_dataset, trained_on_of
from vsodboost.flow import flow_to_color
from vsodboost.mqpm import load_mqpm
from vsodboost.mqpm.data import build_flow_sets
from vsodboost.datasets import SHARED_SETS

DATASETS = {s.folder: (s.layout, s.method, s.split) for s in SHARED_SETS.values()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mqpm", action="append", required=True, help="'default' or a checkpoint (repeatable)")
    ap.add_argument("--flow-max-side", type=int, default=384)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = find_shared_data()
    if data is None:
        raise SystemExit("../shared/data not found (set VSODBOOST_DATA)")
    seqs = {d: [s for s in read_dataset(data / d, lay, split=split) if s.gt]
            for d, (lay, _, split) in DATASETS.items()}
    keep = {d: {s.name for s in v} for d, v in seqs.items()}
    sets = [fs for fs in build_flow_sets([data / d for d in DATASETS], "dis", max_side=args.flow_max_side)
            if fs.sequence in keep[fs.dataset]]
    report: dict = {"threshold": args.threshold, "flow_max_side": args.flow_max_side, "models": {}}
    for spec in args.mqpm:
        mq = load_mqpm(spec)
        entries, desc = trained_on_of(mq.provenance)
        if entries is None:
            raise SystemExit(f"{spec}: the checkpoint does not record its training sequences; cannot prove the "
                             "table is held out")
        seen = [s.name for v in seqs.values() for s in v if in_sample(entries, s)]
        if seen:
            raise SystemExit(f"{spec} was trained on {seen}: not a held-out table")
        probs: dict[str, dict[str, dict[str, float]]] = {d: {} for d in DATASETS}
        for fs in sets:
            p, _ = mq.predict(flow_to_color(torch.from_numpy(fs.flows).float()))
            probs[fs.dataset][fs.sequence] = {s: float(x) for s, x in zip(fs.stems, p.tolist())}
        rows = {}
        print(f"{spec} (trained on {desc}):")
        for d, (_, target, _) in DATASETS.items():
            root = data / "results" / target / d
            t = table1(root, seqs[d], probs[d], args.threshold)
            top = {(s, n) for s, pr in probs[d].items()
                   for n in sorted(pr, key=pr.get, reverse=True)[: (len(pr) + 1) // 2]}
            hi = evaluate_subset(root, seqs[d], lambda s, n: (s, n) in top)
            lo = evaluate_subset(root, seqs[d], lambda s, n: (s, n) not in top)
            t["per_sequence_halves"] = {"top": {k: hi[k] for k in ("maxF", "S", "MAE")},
                                        "bottom": {k: lo[k] for k in ("maxF", "S", "MAE")}}
            rows[f"{d}/{target}"] = t
            gap = t["hq"]["maxF"] - t["lq"]["maxF"]
            gap_h = hi["maxF"] - lo["maxF"]
            print(f" {d} ({target}): HQ {t['hq_fraction_annotated']:.1%} of annotated frames, maxF gap "
                  f"{gap:+.3f}; per-seq. halves gap {gap_h:+.3f}")
            print("\n".join(table1_lines(t, " ")))
            print(f"   {table1_gap_text(t)}")
        report["models"][str(spec)] = {"sha256": mq.provenance["sha256"], "trained_on": desc, "tables": rows}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
