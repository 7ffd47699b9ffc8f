"""Bench the Booster with the MQPM's two outputs taken from two checkpoints: the HQ probability (Sec. IV, Eq. 7) of
one, the motion saliency map (Eq. 6; the filter of Sec. V-B and the `motion` fusion use it) of the other —
``load_mqpm(motion, hq=hq)``, the form of the shipped default (docs/mqpm.md), for any two files.

    OMP_NUM_THREADS=1 python scripts/mqpm_pair_bench.py --hq averaged.pt --motion summed.pt --set davis --out OUT

The bench's in-sample check covers both networks (a scored sequence either one was trained on is reported).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vsodboost.adapters import PrecomputedTarget
from vsodboost.bench import run_bench
from vsodboost.datasets import SHARED_SETS, find_shared_data
from vsodboost.mqpm import load_mqpm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hq", required=True, help="MQPM checkpoint whose HQ probability is used ('default' or path)")
    ap.add_argument("--motion", required=True, help="MQPM checkpoint whose motion map is used (a path)")
    ap.add_argument("--set", choices=sorted(SHARED_SETS), required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--preset", default="quality")
    args = ap.parse_args()
    data = find_shared_data()
    if data is None:
        raise SystemExit("../shared/data not found (set VSODBOOST_DATA)")
    s = SHARED_SETS[args.set]
    run_bench(data / s.folder, layout=s.layout, split=s.split, out=args.out, preset=args.preset,
              target=PrecomputedTarget(data / "results" / s.method / s.folder, name=s.method),
              target_label=s.method, mqpm=load_mqpm(args.motion, hq=args.hq), protocols=("table5", "table1"),
              vis_frames=0, threads=1)


if __name__ == "__main__":
    main()
