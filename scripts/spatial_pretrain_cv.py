"""Pretrain the spatial model once per cross-validation fold (and once on everything, for the shipped weights).

    python scripts/spatial_pretrain_cv.py --out-dir /tmp/vsodboost-cv [--folds 0 1] [--all] [--iterations 300]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from folds import held_out

from vsodboost.datasets import find_shared_data
from vsodboost.spatial.pretrain import pretrain_spatial


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", type=Path, required=True)
    ap.add_argument("--folds", type=int, nargs="*", default=[0, 1])
    ap.add_argument("--all", action="store_true", help="also train on every sequence of ../shared/data (the shipped "
                    "lite0 is trained on ECSSD instead: vsodboost/weights/spatial_lite0.md)")
    ap.add_argument("--iterations", type=int, default=200)  # the per-fold models of the first release
    ap.add_argument("--batch-size", type=int, default=6)
    ap.add_argument("--input-size", type=int, default=224)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    data = find_shared_data()
    sets = [(data / "DAVIS2016", "davis"), (data / "ViSal", "davsod")]
    runs = [("spatial_all.pt", [])] if args.all else []  # the shipped weights first
    runs += [(f"spatial_fold{k}.pt", sum(held_out(data, k).values(), [])) for k in args.folds]
    for name, exclude in runs:
        pretrain_spatial(sets, args.out_dir / name, iterations=args.iterations, batch_size=args.batch_size,
                         input_size=args.input_size, exclude=exclude)
        print("wrote", args.out_dir / name, flush=True)


if __name__ == "__main__":
    main()
