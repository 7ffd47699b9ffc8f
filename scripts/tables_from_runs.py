"""Tables I, VII and Fig. 10 of existing runs (`vsodboost boost` output folders), with the
bench's code (vsodboost.bench.table1 / table7 / fig10) and no new compute: the HQ probabilities and the mined frames
are read from each sequence's vsodboost.json, the maps from the folders.

    python scripts/tables_from_runs.py RUN [RUN ...] --fused-suffix __mean [--json out.json]

RUN holds DAVIS2016/<seq>/ (and ViSal/<seq>/); the target is PDB on DAVIS and MGA on ViSal (../shared/data/results).
The Table VII rows score the maps in ``<dataset><fused-suffix>`` when that folder exists (the output with fusion),
else the maps in ``<dataset>``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _table_lines import table1_lines

from vsodboost.bench import fig10, hq_of, mined_of, table1, table7
from vsodboost.datasets import find_shared_data, read_dataset
from vsodboost.datasets import SHARED_SETS

DATASETS = {s.folder: (s.layout, s.method) for s in SHARED_SETS.values()}


def tables(run: Path, fused_suffix: str, threshold: float) -> dict:
    data = find_shared_data()
    out: dict = {}
    for d, (layout, target) in DATASETS.items():
        if not (run / d).is_dir():
            continue
        states = {p.parent.name: json.loads(p.read_text()) for p in sorted((run / d).glob("*/vsodboost.json"))}
        seqs = [s for s in read_dataset(data / d, layout) if s.name in states]
        runs = {s.name: states[s.name] for s in seqs}
        hq = {n: hq_of(st, st["settings"]["frames"]) for n, st in runs.items()}
        mined = mined_of(runs)
        fused = run / f"{d}{fused_suffix}"
        boosted = fused if fused_suffix and fused.is_dir() else run / d
        tgt = data / "results" / target / d
        out[d] = {"target": target, "boosted_maps": str(boosted),
                  "table1": table1(tgt, seqs, hq, threshold), "table7": table7(boosted, tgt, seqs, mined),
                  "fig10": fig10(tgt, seqs, mined)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--fused-suffix", default="")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    report = {str(r): tables(r, args.fused_suffix, args.threshold) for r in args.runs}
    for r, per in report.items():
        for d, t in per.items():
            t1, t7, f10 = t["table1"], t["table7"]["rows"], t["fig10"]
            print(f"{r} {d} ({t['target']}): HQ {t1['hq_fraction']:.1%}")
            print("\n".join(table1_lines(t1, label="Table I ", frames="")))
            for row, x in t7.items():
                print(f"  Table VII {row:16s} {x['frames']:4d}  maxF {x['maxF']:.3f} S {x['S']:.3f} MAE {x['MAE']:.4f}")
            print(f"  Fig. 10 (normalised): {' '.join(f'{v:.2f}' for v in f10['normalized'])}; mined in better/worse "
                  f"half {f10['mined_in_better_half']}/{f10['mined_in_worse_half']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
