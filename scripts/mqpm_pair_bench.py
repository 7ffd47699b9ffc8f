"""Bench the default Booster with the MQPM's two outputs taken from two checkpoints: the HQ probability (Sec. IV,
Eq. 7) of one, the motion saliency map (Eq. 6; the filter of Sec. V-B and the `motion` fusion use it) of the other.

The averaged form of Eqs. 6-7 is the better HQ classifier inside DAVIS-TR and the summed form makes the better
map (docs/mqpm.md, "Choosing the recipe without the evaluation sets"); this measures the two together. Not a
shipped configuration: both networks run on every buffer.

    OMP_NUM_THREADS=1 python scripts/mqpm_pair_bench.py --hq averaged.pt --motion default --set davis --out OUT
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from vsodboost.adapters import PrecomputedTarget
from vsodboost.bench import run_bench
from vsodboost.datasets import SHARED_SETS, find_shared_data, in_sample, read_dataset, trained_on_of
from vsodboost.mqpm import load_mqpm


class PairMQPM:
    """``predict`` → (``hq``'s probabilities, ``motion``'s maps); provenance of both (the bench's in-sample check
    reads the first, and both must be held out: see ``trained_on`` in each file)."""

    def __init__(self, hq: str, motion: str) -> None:
        self.hq, self.motion = load_mqpm(hq), load_mqpm(motion)
        self.device = self.hq.device
        self.provenance = {**self.hq.provenance, "pair": {"hq": self.hq.provenance["file"],
                                                          "motion": self.motion.provenance["file"]}}

    def predict(self, flow_images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.hq.predict(flow_images)[0], self.motion.predict(flow_images)[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hq", required=True, help="MQPM checkpoint whose HQ probability is used ('default' or path)")
    ap.add_argument("--motion", default="default", help="MQPM checkpoint whose motion map is used")
    ap.add_argument("--set", choices=sorted(SHARED_SETS), required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--preset", default="quality")
    args = ap.parse_args()
    data = find_shared_data()
    if data is None:
        raise SystemExit("../shared/data not found (set VSODBOOST_DATA)")
    s = SHARED_SETS[args.set]
    mqpm = PairMQPM(args.hq, args.motion)
    # the bench checks the provenance it is given (the HQ file's); the motion file is checked here the same way
    seqs = [q for q in read_dataset(data / s.folder, s.layout, split=s.split) if q.gt]
    for net in (mqpm.hq, mqpm.motion):
        entries, desc = trained_on_of(net.provenance)
        seen = None if entries is None else [q.name for q in seqs if in_sample(entries, q)]
        if seen is None or seen:
            raise SystemExit(f"{net.provenance['file']} ({desc}): " + ("records no training sequences" if seen is None
                             else f"was trained on {seen}") + "; the scored set must be held out")
    run_bench(data / s.folder, layout=s.layout, split=s.split, out=args.out, preset=args.preset,
              target=PrecomputedTarget(data / "results" / s.method / s.folder, name=s.method),
              target_label=s.method, mqpm=mqpm, protocols=("table5", "table1"),
              vis_frames=0, threads=1)


if __name__ == "__main__":
    main()
