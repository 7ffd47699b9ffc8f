"""Train one MQPM per cross-validation fold of scripts/folds.py (held-out sequences never seen), with the same
recipe as the shipped weights (vsodboost/weights/mqpm_lite0_dis.md) unless overridden.

    python scripts/mqpm_train_cv.py --out-dir /tmp/vsodboost-cv [--folds 0 1] [--iterations 300] [--input-size 128] [--theta spatial]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from folds import held_out

from vsodboost.datasets import find_shared_data
from vsodboost.mqpm.data import build_flow_sets
from vsodboost.mqpm.train import TrainConfig, train_mqpm


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", type=Path, required=True)
    ap.add_argument("--folds", type=int, nargs="*", default=[0, 1])
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--input-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--reduction", choices=("mean", "sum"), default="mean", help="Eqs. 6–7 (TrainConfig.reduction)")
    ap.add_argument("--theta", default="default", help="Θ of Eq. 1 for the labels (vsodboost.mqpm.list_thetas())")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    data = find_shared_data()
    roots = [str(data / "DAVIS2016"), str(data / "ViSal")]
    base = TrainConfig(data=roots, flow="dis", iterations=args.iterations, input_size=args.input_size,
                       num_threads=args.threads, device="cpu", theta=args.theta,
                       reduction=args.reduction)
    flow_sets = build_flow_sets(roots, base.flow, cache_dir=base.cache_dir, max_side=base.cache_max_side)
    for k in args.folds:
        hold = set(sum(held_out(data, k).values(), []))
        train = [fs for fs in flow_sets if fs.sequence not in hold]
        out = args.out_dir / f"mqpm_fold{k}.pt"
        cfg = TrainConfig(**{**base.to_dict(), "out": str(out), "work_dir": str(args.out_dir / f"mqpm_fold{k}.train")})
        train_mqpm(cfg, flow_sets=train)
        print("wrote", out, "trained on", sorted({fs.sequence for fs in train}), flush=True)


if __name__ == "__main__":
    main()
